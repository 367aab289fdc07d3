/**
 * Runs one semantic validator on a spec, outside the loader, and collects what it reports.
 * Shared by the semantic-security-*.test.ts files.
 */
import { loadText } from '../src/load/loader.js';
import { formatPath, type PathSegment } from '../src/load/resource.js';
import type { SemanticValidator } from '../src/validate/types.js';

export interface Finding {
  path: string;
  message: string;
  fix: string | undefined;
}

export interface Findings {
  errors: Finding[];
  warnings: Finding[];
}

export interface Meta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
}

/**
 * Istio's Go tests build long inputs with strings.Repeat; the tables write them as
 * `{ $repeat: [unit, count] }`, expanded here.
 */
export function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.$repeat) && Object.keys(o).length === 1) {
      const [unit, count] = o.$repeat as [string, number];
      return unit.repeat(count);
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expand(x)]));
  }
  return v;
}

export function run(validator: SemanticValidator, kind: string, spec: unknown, meta: Meta = {}): Findings {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  const doc = {
    apiVersion: 'test.istio.io/v1',
    kind,
    metadata: { name: meta.name ?? 'name', namespace: meta.namespace ?? 'namespace', annotations: meta.annotations ?? {} },
    spec: expand(spec),
  };
  // Through the loader, so the validator sees exactly what it gets from a file.
  const loaded = loadText(JSON.stringify(doc), '<test>');
  const resource = loaded.resources[0];
  if (!resource) throw new Error(`test document did not load: ${loaded.diagnostics.map((d) => d.message).join('; ')}`);
  const push = (into: Finding[]) => (path: readonly PathSegment[], message: string, fix?: string): void => {
    into.push({ path: formatPath(path), message, fix });
  };
  validator(resource.spec, { resource, report: { error: push(errors), warn: push(warnings) } });
  return { errors, warnings };
}

/** Compact rendering for assertion messages. */
export function show(f: Findings): string {
  const line = (k: string, x: Finding): string => `${k} ${x.path}: ${x.message}`;
  return [...f.errors.map((x) => line('E', x)), ...f.warnings.map((x) => line('W', x))].join('\n') || '(nothing)';
}
