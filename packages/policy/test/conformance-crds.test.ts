/**
 * Group E and F of the Istio corpus (SOURCE.md): the CRD schema test cases Istio keeps for its
 * CRD validator (pkg/config/validation/testdata/crds, `_err` holds the expected error text)
 * and the webhook's known-good dataset (pkg/test/datasets/validation/dataset).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findCrd } from '../src/kinds.js';
import { loadText } from '../src/load/loader.js';
import { validateSchema } from '../src/validate/schema.js';

const CORPUS = '/work/shared/conformance/istio';
const CRD_CASES = join(CORPUS, 'pkg/config/validation/testdata/crds');
const DATASET = join(CORPUS, 'pkg/test/datasets/validation/dataset');

interface Doc {
  file: string;
  name: string;
  expected: string | undefined;
  messages: string[];
}

function validateFile(path: string): Doc[] {
  const file = path.slice(CORPUS.length + 1);
  const loaded = loadText(readFileSync(path, 'utf8'), file);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error'), `${file} loads`).toEqual([]);
  return loaded.resources.map((r) => {
    const raw: Record<string, unknown> = structuredClone(r.raw);
    const expected = typeof raw._err === 'string' ? raw._err : undefined;
    delete raw._err;
    const crd = findCrd(r.group, r.kind);
    const version = crd?.versions[r.version];
    if (!version) throw new Error(`${file}: no CRD for ${r.apiVersion} ${r.kind}`);
    const messages: string[] = [];
    validateSchema(raw, version.schema, (path, message) => {
      expect(Array.isArray(path), message).toBe(true);
      messages.push(message);
    });
    return { file, name: r.metadata.name, expected, messages };
  });
}

function yamlFiles(dir: string, suffix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Invalid documents that only Istio's webhook rejects (the CRD schema accepts them), with the
 * Go function that does: Kubernetes itself would admit them, so schema validation must too.
 */
const SEMANTIC_ONLY: ReadonlyMap<string, string> = new Map([]);

describe('Istio CRD schema cases (testdata/crds)', () => {
  it('rejects every *-invalid.yaml document with the expected error', () => {
    const invalid = yamlFiles(CRD_CASES, '-invalid.yaml').flatMap(validateFile);
    expect(invalid.length).toBeGreaterThanOrEqual(77);
    let matched = 0;
    const semantic: string[] = [];
    const failures: string[] = [];
    for (const d of invalid) {
      expect(d.expected, `${d.file} ${d.name} carries _err`).toBeTypeOf('string');
      const key = `${d.file}#${d.name}`;
      if (d.messages.some((m) => m.includes(d.expected!))) matched++;
      else if (SEMANTIC_ONLY.has(key) && d.messages.length === 0) semantic.push(key);
      else failures.push(`${key}: want "${d.expected}", got ${JSON.stringify(d.messages)}`);
    }
    console.log(`testdata/crds invalid: ${matched}/${invalid.length} rejected with the expected message; ${semantic.length} need Istio's webhook`);
    expect(failures).toEqual([]);
    expect(semantic.sort()).toEqual([...SEMANTIC_ONLY.keys()].sort());
  });

  it('accepts every *-valid.yaml document', () => {
    const valid = yamlFiles(CRD_CASES, '-valid.yaml').flatMap(validateFile);
    expect(valid.length).toBeGreaterThanOrEqual(35);
    const failures = valid.filter((d) => d.messages.length > 0).map((d) => `${d.file}#${d.name}: ${JSON.stringify(d.messages)}`);
    console.log(`testdata/crds valid: ${valid.length - failures.length}/${valid.length} accepted`);
    expect(failures).toEqual([]);
  });
});

describe('webhook known-good dataset (datasets/validation/dataset)', () => {
  it('accepts every document', () => {
    const docs = yamlFiles(DATASET, '.yaml').flatMap(validateFile);
    const failures = docs.filter((d) => d.messages.length > 0).map((d) => `${d.file}#${d.name}: ${JSON.stringify(d.messages)}`);
    console.log(`dataset: ${docs.length - failures.length}/${docs.length} accepted`);
    expect(docs.length).toBeGreaterThanOrEqual(33);
    expect(failures).toEqual([]);
  });
});
