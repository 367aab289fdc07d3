/**
 * Helpers for the semantic-validation table tests (translated from Istio's Go tests): a
 * collecting reporter, a fake resource, and the two assertion styles Istio's tests use.
 */
import { expect } from 'vitest';
import type { PathSegment, Resource } from '../../src/load/resource.js';
import { formatPath } from '../../src/load/resource.js';
import type { Reporter, SemanticValidator } from '../../src/validate/types.js';

export interface Finding {
  path: string;
  message: string;
  fix?: string | undefined;
}

export interface Collector extends Reporter {
  errors: Finding[];
  warnings: Finding[];
}

export function collector(): Collector {
  const c: Collector = {
    errors: [],
    warnings: [],
    error(path: readonly PathSegment[], message: string, fix?: string) {
      c.errors.push({ path: formatPath(path), message, fix });
    },
    warn(path: readonly PathSegment[], message: string, fix?: string) {
      c.warnings.push({ path: formatPath(path), message, fix });
    },
  };
  return c;
}

export interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function fakeResource(kind: string, spec: unknown, meta: Meta = {}): Resource {
  const name = meta.name ?? '';
  const namespace = meta.namespace ?? '';
  return {
    apiVersion: 'networking.istio.io/v1',
    group: 'networking.istio.io',
    version: 'v1',
    kind,
    metadata: { name, namespace, labels: meta.labels ?? {}, annotations: meta.annotations ?? {} },
    spec,
    raw: { spec },
    key: `${kind}/${namespace}/${name}`,
    source: { file: 'test.yaml', line: 1, column: 1 },
    order: 0,
    digest: 'test',
    locate: () => ({ file: 'test.yaml', line: 1, column: 1 }),
  };
}

/** Runs a kind's validator as the webhook would (default meta: Istio's tests use foo/bar). */
export function runValidator(validator: SemanticValidator, kind: string, spec: unknown, meta: Meta = {}): Collector {
  const c = collector();
  validator(spec, { resource: fakeResource(kind, spec, meta), report: c });
  return c;
}

const text = (fs: Finding[]) => fs.map((f) => `${f.path}: ${f.message}`).join('\n');

/** Go's checkValidation: valid ⇔ no error, warning ⇔ some warning. */
export function expectValidity(c: Collector, valid: boolean, warning?: boolean): void {
  expect(c.errors.length === 0, `errors:\n${text(c.errors)}`).toBe(valid);
  if (warning !== undefined) expect(c.warnings.length > 0, `warnings:\n${text(c.warnings)}`).toBe(warning);
}

/** Go's checkValidationMessage: `''` means none; otherwise some finding contains the text. */
export function expectMessages(c: Collector, wantError: string, wantWarning?: string): void {
  if (wantError === '') expect(c.errors, `errors:\n${text(c.errors)}`).toEqual([]);
  else expect(text(c.errors)).toContain(wantError);
  if (wantWarning === undefined) return;
  if (wantWarning === '') expect(c.warnings, `warnings:\n${text(c.warnings)}`).toEqual([]);
  else expect(text(c.warnings)).toContain(wantWarning);
}

/** Every finding must carry a path under `spec`/`metadata` and a fix. */
export function expectWellFormed(c: Collector): void {
  for (const f of [...c.errors, ...c.warnings]) {
    expect(f.path, f.message).toMatch(/^(spec|metadata)\b/);
    expect(f.fix, f.message).toBeTruthy();
  }
}
