/**
 * Evidence that the CEL library is adequate for Istio's CRDs: every `x-kubernetes-validations`
 * rule of Istio's CRD bundle (read in place) compiles and evaluates, on values built from its
 * own schema, without an unknown function or overload.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../src/kinds.js';
import { CelValueConverter, compileCelRule, evaluateCelRule, type XValidation } from '../src/validate/cel.js';
import { compileSchema } from '../src/validate/schema.js';

const BUNDLE = '/work/shared/conformance/istio/manifests/charts/base/files/crd-all.gen.yaml';

interface Site {
  crd: string;
  path: string;
  schema: JsonSchema;
  rule: XValidation;
}

function collect(): { sites: Site[]; nodes: number } {
  const sites: Site[] = [];
  let nodes = 0;
  const walk = (crd: string, s: JsonSchema, path: string): void => {
    const rules = s['x-kubernetes-validations'];
    if (rules) {
      nodes++;
      for (const rule of rules) sites.push({ crd, path, schema: s, rule });
    }
    for (const [k, v] of Object.entries(s.properties ?? {})) walk(crd, v, `${path}.${k}`);
    if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(crd, s.additionalProperties, `${path}[*]`);
    if (s.items) walk(crd, s.items, `${path}[]`);
    for (const k of ['allOf', 'oneOf', 'anyOf'] as const) (s[k] ?? []).forEach((b, i) => walk(crd, b, `${path}/${k}${i}`));
    if (s.not) walk(crd, s.not, `${path}/not`);
  };
  for (const doc of parseAllDocuments(readFileSync(BUNDLE, 'utf8'))) {
    const crd = doc.toJS() as { kind?: string; spec?: { names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: JsonSchema } }[] } };
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    for (const v of crd.spec.versions) {
      if (v.schema) walk(`${crd.spec.names.kind}/${v.name}`, v.schema.openAPIV3Schema, '');
    }
  }
  return { sites, nodes };
}

type Flavor = 'url' | 'duration' | 'port' | 'name';
const STRINGS: Record<Flavor, string> = {
  url: 'https://example.com:8443/a%20b?x=1&x=2',
  duration: '1500ms',
  port: '8080',
  name: 'unix:///var/run/app.sock',
};

/** A value of the schema's shape, every declared property set, strings of the given flavor. */
function sample(s: JsonSchema, flavor: Flavor, depth = 0): unknown {
  if (depth > 12) return null;
  if (s['x-kubernetes-int-or-string']) return 8080;
  switch (s.type) {
    case 'integer':
      return 8080;
    case 'number':
      return 1.5;
    case 'boolean':
      return true;
    case 'string':
      if (s.enum && s.enum.length > 0) return s.enum[s.enum.length - 1];
      return STRINGS[flavor];
    case 'array':
      return s.items ? [sample(s.items, flavor, depth + 1)] : [];
    default: {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = sample(v, flavor, depth + 1);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') out[STRINGS[flavor]] = sample(s.additionalProperties, flavor, depth + 1);
      return out;
    }
  }
}

/** Errors that would mean the library lacks a function, an overload or syntax Kubernetes has. */
const INADEQUATE = /no such overload|found no matching overload|compile error|compilation failed|Unknown|not supported|is not a function/i;

describe("Istio's CEL rules (crd-all.gen.yaml)", () => {
  const { sites, nodes } = collect();

  it('finds every rule of the bundle', () => {
    const text = readFileSync(BUNDLE, 'utf8');
    const ruleLines = text.match(/^\s*(?:- )?rule: /gm)?.length ?? 0;
    const validationLists = text.match(/x-kubernetes-validations:/g)?.length ?? 0;
    console.log(`CEL: ${sites.length} rule entries on ${nodes} schema nodes (${new Set(sites.map((s) => s.rule.rule)).size} distinct rules)`);
    expect(sites.length).toBe(ruleLines);
    expect(nodes).toBe(validationLists);
    expect(nodes).toBe(345);
  });

  it('compiles and evaluates every rule without an unknown function or overload', () => {
    const problems: string[] = [];
    let compiled = 0;
    let evaluated = 0;
    let runtimeErrors = 0;
    for (const site of sites) {
      const rule = compileCelRule(site.rule);
      if (rule.compileError !== undefined || !rule.program) {
        problems.push(`${site.crd}${site.path}: ${site.rule.rule}: ${rule.compileError ?? 'no program'}`);
        continue;
      }
      compiled++;
      const node = compileSchema(site.schema);
      let boolResult = false;
      for (const flavor of Object.keys(STRINGS) as Flavor[]) {
        const converter = new CelValueConverter();
        const self = converter.convert(sample(site.schema, flavor), node);
        const outcome = evaluateCelRule(rule, self, converter.collectionSize(self), { remaining: 1e9 });
        if (outcome.kind === 'error') {
          if (INADEQUATE.test(outcome.detail)) problems.push(`${site.crd}${site.path}: ${site.rule.rule}: ${outcome.detail}`);
        } else if (outcome.kind === 'pass' || outcome.kind === 'fail') boolResult = true;
      }
      if (boolResult) evaluated++;
      else runtimeErrors++;
    }
    console.log(`CEL: ${compiled}/${sites.length} rule entries compile; ${evaluated} evaluate to a bool on a sample of their schema; ${problems.length} unknown-function/overload problems`);
    expect(problems).toEqual([]);
    expect(compiled).toBe(sites.length);
    // Every rule evaluates to a result on at least one sample, so each function it calls ran.
    expect(runtimeErrors).toBe(0);
  });
});
