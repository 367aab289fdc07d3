/**
 * Conformance over Istio's own YAML (../shared/conformance/istio, read in place):
 * - every document of pkg/config/validation/testdata/crds/*-invalid.yaml is rejected with a
 *   message containing its `_err` text (the wording users know from kubectl);
 * - every document of *-valid.yaml, of pkg/test/datasets/validation/dataset/ and every Istio
 *   document under samples/ is accepted.
 * The counts are printed; 100 % is the bar.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, isIstioGroup, listConfigFiles, loadPaths, validateResource, type Resource } from '@meshwork/policy';

const CORPUS = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(fileURLToPath(import.meta.url), '../../../../shared/conformance/istio');
const CRDS = join(CORPUS, 'pkg/config/validation/testdata/crds');
const rel = (f: string) => relative(CORPUS, f);

function istioDocs(paths: string[]): Resource[] {
  const r = loadPaths(paths);
  expect(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  return r.resources.filter((x) => isIstioGroup(x.group));
}

function errorsOf(r: Resource): string[] {
  return validateResource(r).diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
}

describe('Istio corpus conformance', () => {
  it('rejects every *-invalid.yaml document with the expected message', () => {
    const files = readdirSync(CRDS).filter((f) => f.endsWith('-invalid.yaml')).map((f) => join(CRDS, f));
    const docs = loadPaths(files).resources;
    const failures: string[] = [];
    let checked = 0;
    for (const r of docs) {
      const expected = r.raw._err;
      delete r.raw._err; // test-harness metadata, not Istio API
      checked++;
      const errs = errorsOf(r);
      if (typeof expected !== 'string') {
        if (errs.length === 0) failures.push(`${rel(r.source.file)}:${r.source.line} ${r.key}: accepted, expected a rejection`);
        continue;
      }
      if (!errs.some((m) => m.includes(expected))) {
        failures.push(`${rel(r.source.file)}:${r.source.line} ${r.key}: expected an error containing ${JSON.stringify(expected)}, got ${JSON.stringify(errs)}`);
      }
    }
    // Every error says where (file:line:col), which resource, which field, and how to fix it.
    const incomplete = docs.flatMap((r) => validateResource(r).diagnostics.filter((d) => d.severity === 'error' && !(d.file && d.line && d.column && d.resource && d.path && d.fix)).map(formatDiagnostic));
    expect(incomplete).toEqual([]);
    console.log(`invalid documents rejected with the expected message: ${checked - failures.length}/${checked}`);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(60);
  });

  // Group I (pilot fixtures) is older config: two documents use `websocketUpgrade`, a field
  // the current VirtualService schema no longer has, so Istio 1.31 rejects them too.
  it('accepts group I (tests/testdata/config) except the two documents with a removed field', () => {
    const docs = istioDocs([join(CORPUS, 'tests/testdata/config')]);
    const rejected = docs.filter((r) => errorsOf(r).length > 0).map((r) => `${rel(r.source.file)}#${r.key}: ${errorsOf(r)[0]}`);
    console.log(`tests/testdata/config: ${docs.length - rejected.length}/${docs.length} accepted, ${rejected.length} rejected as Istio 1.31 does`);
    expect(rejected).toEqual([
      'tests/testdata/config/rule-websocket-route.yaml#VirtualService/testns/websocket-route: unknown field "spec.http[0].websocketUpgrade"',
      'tests/testdata/config/rule-websocket-route.yaml#VirtualService/testns/websocket-route2: unknown field "spec.http[0].websocketUpgrade"',
    ]);
  });

  it('accepts every input policy of the authorization and PeerAuthentication golden tests (groups G, H)', () => {
    const inputs = (dir: string) => loadPaths([join(CORPUS, dir)]).resources.filter((r) => isIstioGroup(r.group) && r.source.file.endsWith('-in.yaml'));
    const docs = [...inputs('pilot/pkg/security/authz/builder/testdata'), ...inputs('pilot/pkg/serviceregistry/ambient/testdata')];
    const rejected = docs.filter((r) => errorsOf(r).length > 0).map((r) => `${rel(r.source.file)}#${r.key}: ${errorsOf(r)[0]}`);
    console.log(`authz builder + ambient inputs: ${docs.length - rejected.length}/${docs.length} accepted`);
    expect(rejected).toEqual([]);
    expect(docs.length).toBeGreaterThan(60);
  });

  const acceptGroups: [string, string[]][] = [
    ['crds/*-valid.yaml', readdirSync(CRDS).filter((f) => f.endsWith('-valid.yaml')).map((f) => join(CRDS, f))],
    ['validation dataset', [join(CORPUS, 'pkg/test/datasets/validation/dataset')]],
    ['samples/', [join(CORPUS, 'samples')]],
  ];
  for (const [name, paths] of acceptGroups) {
    it(`accepts every Istio document of ${name}`, () => {
      const docs = istioDocs(paths);
      const failures: string[] = [];
      for (const r of docs) {
        const v = validateResource(r);
        const errs = v.diagnostics.filter((d) => d.severity === 'error');
        if (errs.length > 0) failures.push(`${rel(r.source.file)}:${r.source.line} ${r.key}: ${errs.map(formatDiagnostic).join(' | ')}`);
      }
      console.log(`${name}: ${docs.length - failures.length}/${docs.length} Istio documents accepted (${listConfigFiles(paths).files.length} files)`);
      expect(failures).toEqual([]);
      expect(docs.length).toBeGreaterThan(10);
    });
  }
});
