import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../src/kinds.js';
import { findCrd } from '../src/kinds.js';
import type { PathSegment } from '../src/load/resource.js';
import { validateSchema, type SchemaValidationOptions } from '../src/validate/schema.js';
import { isUrl, rewriteExpression, toUrl } from '../src/validate/cel-k8s-library.js';
import { goFloat, goQuote, parseGoDuration } from '../src/validate/go-compat.js';

interface Reported {
  path: PathSegment[];
  message: string;
}

function run(doc: unknown, schema: JsonSchema, options?: SchemaValidationOptions): Reported[] {
  const out: Reported[] = [];
  validateSchema(doc, schema, (path, message) => out.push({ path, message }), options);
  return out;
}

function docWith(spec: unknown): Record<string, unknown> {
  const d: Record<string, unknown> = { apiVersion: 'example.istio.io/v1', kind: 'Example', metadata: { name: 'x' } };
  if (spec !== undefined) d.spec = spec;
  return d;
}

/** Validates `spec` against a root schema whose `spec` property is `specSchema`. */
function check(specSchema: JsonSchema, spec: unknown, options?: SchemaValidationOptions): Reported[] {
  return run(docWith(spec), { type: 'object', properties: { spec: specSchema } }, options);
}

function messages(specSchema: JsonSchema, spec: unknown, options?: SchemaValidationOptions): string[] {
  return check(specSchema, spec, options).map((r) => r.message);
}

const obj = (properties: Record<string, JsonSchema>, extra: Partial<JsonSchema> = {}): JsonSchema => ({ type: 'object', properties, ...extra });
const NOT_CHECKED = '<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

describe('type', () => {
  it('reports a wrong type with the value type, at the field path', () => {
    expect(check(obj({ a: { type: 'string' } }), { a: 5 })).toEqual([
      { path: ['spec', 'a'], message: 'spec.a: Invalid value: "integer": spec.a in body must be of type string: "integer"' },
    ]);
    expect(messages(obj({ a: { type: 'object' } }), { a: 'x' })).toEqual(['spec.a: Invalid value: "string": spec.a in body must be of type object: "string"']);
    expect(messages(obj({ a: { type: 'array' } }), { a: {} })).toEqual(['spec.a: Invalid value: "object": spec.a in body must be of type array: "object"']);
    expect(messages(obj({ a: { type: 'boolean' } }), { a: 'true' })).toEqual(['spec.a: Invalid value: "string": spec.a in body must be of type boolean: "string"']);
    expect(messages(obj({ a: { type: 'number' } }), { a: [] })).toEqual(['spec.a: Invalid value: "array": spec.a in body must be of type number: "array"']);
  });

  it('requires whole numbers for integer and accepts them for number', () => {
    expect(messages(obj({ a: { type: 'integer' } }), { a: 1.5 })).toEqual([
      'spec.a: Invalid value: "number": spec.a in body must be of type integer: "number"',
      '<nil>: Invalid value: "": Checked value must be of type integer (default format) in spec.a',
    ]);
    expect(messages(obj({ a: { type: 'integer' } }), { a: 3 })).toEqual([]);
    expect(messages(obj({ a: { type: 'number' } }), { a: 3 })).toEqual([]);
  });

  it('range-checks int32 fields', () => {
    expect(messages(obj({ a: { type: 'integer', format: 'int32' } }), { a: 2 ** 31 })).toEqual([
      '<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.a',
    ]);
    expect(messages(obj({ a: { type: 'integer', format: 'int32' } }), { a: 2 ** 31 - 1 })).toEqual([]);
  });

  it('accepts an integer or a string for x-kubernetes-int-or-string', () => {
    const s = obj({ p: { 'x-kubernetes-int-or-string': true } });
    expect(messages(s, { p: 80 })).toEqual([]);
    expect(messages(s, { p: 'http' })).toEqual([]);
    expect(messages(s, { p: true })).toEqual(['spec.p: Invalid value: "boolean": spec.p in body must be of type integer,string: "boolean"']);
  });

  it('rejects null unless nullable', () => {
    expect(messages(obj({ a: { type: 'string' } }), { a: null })).toEqual(['spec.a: Invalid value: "null": spec.a in body must be of type string: "null"']);
    expect(messages(obj({ a: { type: 'string', nullable: true } }), { a: null })).toEqual([]);
    expect(check({ type: 'object' }, null)).toEqual([{ path: ['spec'], message: 'spec: Invalid value: "null": spec in body must be of type object: "null"' }]);
  });

  it('drops non-nullable nulls first with pruneNulls, as the API server decoder does', () => {
    const s = obj({ a: { type: 'string' }, b: { type: 'string' } }, { required: ['b'] });
    expect(messages(s, { a: null, b: 'x' }, { pruneNulls: true })).toEqual([]);
    expect(messages(s, { b: null }, { pruneNulls: true })).toEqual(['spec.b: Required value']);
  });
});

describe('required, enum, format', () => {
  it('reports missing required fields at their own path', () => {
    expect(check(obj({ hosts: { type: 'array', items: { type: 'string' } } }, { required: ['hosts'] }), {})).toEqual([
      { path: ['spec', 'hosts'], message: 'spec.hosts: Required value' },
    ]);
    const root: JsonSchema = { type: 'object', properties: { spec: { type: 'object' } }, required: ['spec'] };
    expect(run(docWith(undefined), root)).toEqual([{ path: ['spec'], message: 'spec: Required value' }]);
  });

  it('lists the supported values of an enum', () => {
    const s = obj({ mtls: obj({ mode: { type: 'string', enum: ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] } }) });
    expect(check(s, { mtls: { mode: 'BLAH' } })).toEqual([
      { path: ['spec', 'mtls', 'mode'], message: 'spec.mtls.mode: Unsupported value: "BLAH": supported values: "UNSET", "DISABLE", "PERMISSIVE", "STRICT"' },
    ]);
    expect(messages(obj({ n: { type: 'integer', enum: [1, 2] } }), { n: 3 })).toEqual(['spec.n: Unsupported value: 3: supported values: "1", "2"']);
  });

  it('validates byte and date-time strings', () => {
    expect(messages(obj({ b: { type: 'string', format: 'byte' } }), { b: 'aGVsbG8=' })).toEqual([]);
    expect(messages(obj({ b: { type: 'string', format: 'byte' } }), { b: 'not base64!' })).toEqual([
      'spec.b: Invalid value: "not base64!": spec.b in body must be of type byte: "not base64!"',
    ]);
    expect(messages(obj({ t: { type: 'string', format: 'date-time' } }), { t: '2024-02-29T10:00:00Z' })).toEqual([]);
    expect(messages(obj({ t: { type: 'string', format: 'date-time' } }), { t: '2023-02-29T10:00:00Z' })).toEqual([
      'spec.t: Invalid value: "2023-02-29T10:00:00Z": spec.t in body must be of type date-time: "2023-02-29T10:00:00Z"',
    ]);
    // Formats Kubernetes does not support are dropped from the schema.
    expect(messages(obj({ s: { type: 'string', format: 'made-up' } }), { s: 'anything' })).toEqual([]);
  });
});

describe('strings', () => {
  it('matches patterns with RE2, anywhere in the value', () => {
    const s = obj({ sha256: { type: 'string', pattern: '(^$|^[a-f0-9]{64}$)' }, part: { type: 'string', pattern: 'b+' } });
    expect(check(s, { sha256: 'foo' })).toEqual([
      { path: ['spec', 'sha256'], message: "spec.sha256: Invalid value: \"foo\": spec.sha256 in body should match '(^$|^[a-f0-9]{64}$)'" },
    ]);
    expect(messages(s, { sha256: 'a'.repeat(64), part: 'abc' })).toEqual([]);
    expect(messages(s, { part: 'acd' })).toEqual(["spec.part: Invalid value: \"acd\": spec.part in body should match 'b+'"]);
  });

  it('reports patterns RE2 cannot compile instead of using another engine', () => {
    expect(messages(obj({ s: { type: 'string', pattern: '(?=a)a' } }), { s: 'a' })[0]).toMatch(/^spec\.s: Invalid value: "a": spec\.s in body should match '\(\?=a\)a, but pattern is invalid: /);
  });

  it('counts length in characters, not UTF-16 units', () => {
    const s = obj({ s: { type: 'string', minLength: 2, maxLength: 3 } });
    expect(messages(s, { s: '😀😀😀' })).toEqual([]);
    expect(messages(s, { s: '😀' })).toEqual(['spec.s: Invalid value: "😀": spec.s in body should be at least 2 chars long']);
    expect(messages(s, { s: 'abcd' })).toEqual(['spec.s: Too long: may not be more than 3 bytes']);
    expect(messages(obj({ url: { type: 'string', minLength: 1 } }), { url: '' })).toEqual(['spec.url: Invalid value: "": spec.url in body should be at least 1 chars long']);
  });
});

describe('numbers', () => {
  it('reports bounds, inclusive and exclusive', () => {
    const s = obj({ c: { type: 'integer', minimum: 0 }, p: { type: 'number', format: 'double', minimum: 0, maximum: 100 } });
    expect(messages(s, { c: -1 })).toEqual(['spec.c: Invalid value: -1: spec.c in body should be greater than or equal to 0']);
    expect(messages(s, { p: 150 })).toEqual(['spec.p: Invalid value: 150: spec.p in body should be less than or equal to 100']);
    expect(messages(s, { p: -0.1 })).toEqual(['spec.p: Invalid value: -0.1: spec.p in body should be greater than or equal to 0']);
    const x = obj({ v: { type: 'integer', minimum: 1, maximum: 10, exclusiveMinimum: true, exclusiveMaximum: true } });
    expect(messages(x, { v: 1 })).toEqual(['spec.v: Invalid value: 1: spec.v in body should be greater than 1']);
    expect(messages(x, { v: 10 })).toEqual(['spec.v: Invalid value: 10: spec.v in body should be less than 10']);
    expect(messages(x, { v: 5 })).toEqual([]);
  });

  it('formats floats as Go does', () => {
    expect(goFloat(1e6)).toBe('1e+06');
    expect(goFloat(123456)).toBe('123456');
    expect(goFloat(0.0001)).toBe('0.0001');
    expect(goFloat(0.00001)).toBe('1e-05');
    expect(goFloat(-2.5)).toBe('-2.5');
    expect(goQuote('a"b\n\u0001é')).toBe('"a\\"b\\n\\x01é"');
  });
});

describe('arrays and maps', () => {
  it('reports item and property counts', () => {
    const s = obj({ l: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2 }, m: { type: 'object', additionalProperties: { type: 'string' }, minProperties: 1, maxProperties: 1 } });
    expect(messages(s, { l: [] })).toEqual(['spec.l: Invalid value: 0: spec.l in body should have at least 1 items']);
    expect(messages(s, { l: ['a', 'b', 'c'] })).toEqual(['spec.l: Too many: 3: must have at most 2 items']);
    expect(messages(s, { m: {} })).toEqual(['spec.m: Invalid value: 0: spec.m in body should have at least 1 properties']);
    expect(messages(s, { m: { a: 'x', b: 'y' } })).toEqual(['spec.m: Too many: 2: must have at most 1 item']);
  });

  it('validates items and map values with their paths', () => {
    const s = obj({
      rules: { type: 'array', items: obj({ name: { type: 'string', minLength: 1 } }, { required: ['name'] }) },
      ports: { type: 'object', additionalProperties: { type: 'integer', maximum: 65535 } },
    });
    expect(check(s, { rules: [{ name: 'a' }, {}, { name: '' }], ports: { http: 99999 } })).toEqual([
      { path: ['spec', 'rules', 1, 'name'], message: 'spec.rules[1].name: Required value' },
      { path: ['spec', 'rules', 2, 'name'], message: 'spec.rules[2].name: Invalid value: "": spec.rules[2].name in body should be at least 1 chars long' },
      { path: ['spec', 'ports', 'http'], message: 'spec.ports.http: Invalid value: 99999: spec.ports.http in body should be less than or equal to 65535' },
    ]);
  });

  it('reports duplicates in list-type set and map lists', () => {
    const s = obj({
      env: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: obj({ name: { type: 'string' }, value: { type: 'string' } }) },
      tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
      pairs: { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['a', 'b'], items: obj({ a: { type: 'string' }, b: { type: 'integer' } }) },
    });
    expect(check(s, { env: [{ name: 'a' }, { name: 'b' }, { name: 'a', value: 'x' }, { name: 'a' }], tags: ['x', 'y', 'x'], pairs: [{ a: 'p', b: 1 }, { b: 1, a: 'p' }] })).toEqual([
      { path: ['spec', 'env', 2], message: 'spec.env[2]: Duplicate value: {"name":"a"}' },
      { path: ['spec', 'tags', 2], message: 'spec.tags[2]: Duplicate value: "x"' },
      { path: ['spec', 'pairs', 1], message: 'spec.pairs[1]: Duplicate value: {"a":"p","b":1}' },
    ]);
  });

  it('rejects forbidden additional properties', () => {
    expect(messages(obj({ a: obj({ x: { type: 'string' } }, { additionalProperties: false }) }), { a: { y: '1' } })).toEqual([
      'spec.a: Invalid value: "y": spec.a.y in body is a forbidden property',
      'unknown field "spec.a.y"',
    ]);
  });
});

describe('oneOf, anyOf, allOf, not', () => {
  // The shape Istio's CRDs use for mutually exclusive fields.
  const exclusive = obj(
    { simple: { type: 'string' }, consistentHash: { type: 'object' } },
    { oneOf: [{ not: { anyOf: [{ required: ['simple'] }, { required: ['consistentHash'] }] } }, { required: ['simple'] }, { required: ['consistentHash'] }] },
  );

  it('rejects two mutually exclusive fields set together', () => {
    const s = obj({ lb: exclusive });
    expect(messages(s, { lb: {} })).toEqual([]);
    expect(messages(s, { lb: { simple: 'ROUND_ROBIN' } })).toEqual([]);
    expect(check(s, { lb: { simple: 'ROUND_ROBIN', consistentHash: {} } })).toEqual([
      { path: ['spec', 'lb'], message: '<nil>: Invalid value: "": "spec.lb" must validate one and only one schema (oneOf). Found 2 valid alternatives' },
    ]);
  });

  it('reports anyOf, allOf and not with the failing branch errors', () => {
    expect(messages(obj({ g: { anyOf: [{ type: 'integer' }, { type: 'string' }] } }), { g: true })).toEqual([
      '<nil>: Invalid value: "": "spec.g" must validate at least one schema (anyOf)',
      'spec.g: Invalid value: "boolean": spec.g in body must be of type integer: "boolean"',
    ]);
    expect(messages(obj({ g: { allOf: [{ minLength: 2 }, { maxLength: 3 }] } }), { g: 'a' })).toEqual([
      'spec.g: Invalid value: "a": spec.g in body should be at least 2 chars long',
      '<nil>: Invalid value: "": "spec.g" must validate all the schemas (allOf)',
    ]);
    expect(messages(obj({ g: obj({ x: { type: 'integer' } }, { not: { required: ['x'] } }) }), { g: { x: 1 } })).toEqual(['<nil>: Invalid value: "": "spec.g" must not validate the schema (not)']);
  });
});

describe('unknown fields', () => {
  it('reports fields the schema does not declare, as strict field validation does', () => {
    const s = obj({ http: { type: 'array', items: obj({ name: { type: 'string' } }) } });
    expect(check(s, { foo: 1, http: [{ name: 'a', nmae: 'b' }] })).toEqual([
      { path: ['spec', 'foo'], message: 'unknown field "spec.foo"' },
      { path: ['spec', 'http', 0, 'nmae'], message: 'unknown field "spec.http[0].nmae"' },
    ]);
  });

  it('keeps unknown fields under x-kubernetes-preserve-unknown-fields and still checks declared ones', () => {
    const s = obj({ config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'string' } } } });
    expect(messages(s, { config: { anything: { deep: [1, 2] }, known: 'x' } })).toEqual([]);
    expect(messages(s, { config: { known: 1 } })).toEqual(['spec.config.known: Invalid value: "integer": spec.config.known in body must be of type string: "integer"']);
  });

  it('reports unknown top-level and metadata fields but not apiVersion/kind/metadata', () => {
    const d = { ...docWith({}), extra: true, metadata: { name: 'x', label: { a: 'b' } } };
    expect(run(d, { type: 'object', properties: { spec: { type: 'object' } } })).toEqual([
      { path: ['metadata', 'label'], message: 'unknown field "metadata.label"' },
      { path: ['extra'], message: 'unknown field "extra"' },
    ]);
  });
});

describe('metadata', () => {
  const schema: JsonSchema = { type: 'object', properties: { spec: { type: 'object' } } };
  const meta = (metadata: unknown): string[] => run({ apiVersion: 'a/v1', kind: 'K', metadata, spec: {} }, schema).map((r) => r.message);

  it('requires a DNS-1123 subdomain name', () => {
    expect(meta({})).toEqual(['metadata.name: Required value: name or generateName is required']);
    expect(meta({ generateName: 'web-' })).toEqual([]);
    expect(meta({ name: 'Bad_Name' })).toEqual([
      "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    ]);
    expect(meta({ name: 'a.b-c' })).toEqual([]);
  });

  it('requires a DNS-1123 label namespace when present', () => {
    expect(meta({ name: 'x', namespace: 'a.b' })).toEqual(['metadata.namespace: Invalid value: "a.b": must not contain dots']);
    expect(meta({ name: 'x', namespace: 'Prod' })).toEqual([
      "metadata.namespace: Invalid value: \"Prod\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]);
  });

  it('validates labels and rejects a metadata that is not an object', () => {
    expect(meta({ name: 'x', labels: { app: 'ok', 'bad key!': 'v', ver: 'no spaces' } })).toEqual([
      "metadata.labels: Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      "metadata.labels: Invalid value: \"no spaces\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ]);
    expect(meta({ name: 'x', labels: { version: 2 } })).toEqual(['json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string']);
    expect(meta('x')).toEqual(['json: cannot unmarshal string into Go value of type v1.ObjectMeta']);
  });
});

describe('CEL rules', () => {
  it('reports a failed rule with the schema type and its message', () => {
    const s = obj({ a: { type: 'string' }, b: { type: 'string' } }, { 'x-kubernetes-validations': [{ rule: '!(has(self.a) && has(self.b))', message: 'only one of a or b can be set' }] });
    expect(check(s, { a: '1', b: '2' })).toEqual([{ path: ['spec'], message: 'spec: Invalid value: "object": only one of a or b can be set' }]);
    expect(messages(s, { a: '1' })).toEqual([]);
  });

  it('uses "failed rule" without a message, messageExpression, fieldPath and reason', () => {
    const s = obj(
      { port: { type: 'integer', 'x-kubernetes-validations': [{ rule: '0 < self && self <= 65535' }] }, ports: { type: 'object', additionalProperties: { type: 'integer' } } },
      {
        'x-kubernetes-validations': [
          { rule: 'self.port != 1', messageExpression: '"port " + string(self.port) + " is reserved"' },
          { rule: 'self.port != 2', message: 'two', fieldPath: '.port' },
          { rule: 'self.port != 3', message: 'three', reason: 'FieldValueForbidden' },
          { rule: "!has(self.ports) || !('x' in self.ports)", message: 'no x', fieldPath: ".ports['x']" },
        ],
      },
    );
    expect(check(s, { port: 0 })).toEqual([{ path: ['spec', 'port'], message: 'spec.port: Invalid value: "integer": failed rule: 0 < self && self <= 65535' }]);
    expect(messages(s, { port: 1 })).toEqual(['spec: Invalid value: "object": port 1 is reserved']);
    expect(check(s, { port: 2 })).toEqual([{ path: ['spec', 'port'], message: 'spec.port: Invalid value: "object": two' }]);
    expect(messages(s, { port: 3 })).toEqual(['spec: Forbidden: three']);
    expect(check(s, { port: 5, ports: { x: 1 } })).toEqual([{ path: ['spec', 'ports', 'x'], message: 'spec.ports[x]: Invalid value: "object": no x' }]);
  });

  it('hands integers to CEL as ints, so int(key) and comparisons behave as in Kubernetes', () => {
    const s = obj({
      portLevelMtls: { type: 'object', additionalProperties: { type: 'object' }, 'x-kubernetes-validations': [{ rule: 'self.all(key, 0 < int(key) && int(key) <= 65535)', message: 'port must be between 1-65535' }] },
      weight: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self == 100', message: 'w' }] },
      ratio: { type: 'number', 'x-kubernetes-validations': [{ rule: 'self > 0.5', message: 'r' }] },
    });
    expect(messages(s, { portLevelMtls: { '8080': {} }, weight: 100, ratio: 1 })).toEqual([]);
    expect(messages(s, { portLevelMtls: { '0': {} } })).toEqual(['spec.portLevelMtls: Invalid value: "object": port must be between 1-65535']);
    expect(messages(s, { portLevelMtls: { acd: {} } })).toEqual([
      "spec.portLevelMtls: Invalid value: \"object\": type conversion error from 'string' to 'int' evaluating rule: port must be between 1-65535",
    ]);
    // Go's strconv.ParseInt rejects what JavaScript's BigInt accepts.
    expect(messages(s, { portLevelMtls: { '': {} } })[0]).toContain("type conversion error from 'string' to 'int'");
    expect(messages(s, { portLevelMtls: { '0x50': {} } })[0]).toContain("type conversion error from 'string' to 'int'");
  });

  it('reports runtime errors as Kubernetes does instead of throwing', () => {
    const s = obj({ tags: { type: 'object', additionalProperties: obj({ value: { type: 'string' }, operation: { type: 'string' } }, { 'x-kubernetes-validations': [{ rule: 'self.operation != "UPSERT" || self.value != ""', message: 'value must be set when operation is UPSERT' }] }) } });
    expect(check(s, { tags: { foo: { operation: 'UPSERT' } } })).toEqual([
      { path: ['spec', 'tags', 'foo'], message: 'spec.tags[foo]: Invalid value: "object": no such key: value evaluating rule: value must be set when operation is UPSERT' },
    ]);
  });

  it('skips rules when blocking schema errors exist, as the API server does', () => {
    const s = obj({ a: { type: 'string', enum: ['X'] } }, { 'x-kubernetes-validations': [{ rule: 'false', message: 'never' }] });
    expect(messages(s, { a: 'Y' })).toEqual(['spec.a: Unsupported value: "Y": supported values: "X"', NOT_CHECKED]);
    // A pattern failure is not blocking: the rule still runs.
    const p = obj({ a: { type: 'string', pattern: '^x$' } }, { 'x-kubernetes-validations': [{ rule: 'false', message: 'never' }] });
    expect(messages(p, { a: 'y' })).toEqual(["spec.a: Invalid value: \"y\": spec.a in body should match '^x$'", 'spec: Invalid value: "object": never']);
  });

  it('runs matches() with RE2 partial-match semantics', () => {
    const s = obj({ s: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.matches("^[a-z]+")', message: 'm' }] }, t: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.matches("(?=a)")', message: 'lookahead' }] } });
    expect(messages(s, { s: 'abc123' })).toEqual([]);
    expect(messages(s, { s: '1abc' })).toEqual(['spec.s: Invalid value: "string": m']);
    // JavaScript would accept a lookahead; RE2 (as cel-go's regexp) does not.
    expect(messages(s, { t: 'a' })[0]).toMatch(/^spec\.t: Invalid value: "string": error parsing regexp: .* evaluating rule: lookahead$/);
  });

  it('implements the Kubernetes URL library on Go net/url semantics', () => {
    const rule = (r: string): JsonSchema => obj({ u: { type: 'string', 'x-kubernetes-validations': [{ rule: r, message: 'no' }] } });
    const ok = (r: string, u: string): string[] => messages(rule(r), { u });
    expect(ok('url(self).getScheme() == "https" && url(self).getHost() == "example.com:8443" && url(self).getHostname() == "example.com" && url(self).getPort() == "8443"', 'HTTPS://example.com:8443/p')).toEqual([]);
    expect(ok('url(self).getEscapedPath() == "/a%20b" && url(self).getQuery()["x"] == ["1", "2"]', 'http://h/a%20b?x=1&x=2')).toEqual([]);
    expect(ok('isURL(self)', 'relative/path')).toEqual(['spec.u: Invalid value: "string": no']);
    expect(ok('url(self).getScheme() == "http"', 'hTPp\\\blah')[0]).toBe(
      'spec.u: Invalid value: "string": URL parse error during conversion from string: parse "hTPp\\\\\\blah": net/url: invalid control character in URL evaluating rule: no',
    );
    expect(isUrl('#%blah$#@')).toBe(false);
    expect(isUrl('http://#%blah$#@')).toBe(false);
    expect(isUrl('/abs/path')).toBe(true);
    expect(isUrl('http://[::1]:80/')).toBe(true);
    expect(isUrl('http://[1.2.3.4]/')).toBe(false);
    expect(isUrl('http://exa mple.com/')).toBe(false);
    expect(toUrl('oci://registry/image:tag').scheme).toBe('oci');
    expect(toUrl('file:///opt/filter.wasm').path).toBe('/opt/filter.wasm');
  });

  it('parses durations with Go syntax and compares them', () => {
    const s = obj({ d: { type: 'string', 'x-kubernetes-validations': [{ rule: "duration(self) >= duration('1ms')", message: 'must be a valid duration greater than 1ms' }] } });
    expect(messages(s, { d: '1.5s' })).toEqual([]);
    expect(messages(s, { d: '1h30m' })).toEqual([]);
    expect(messages(s, { d: '500us' })).toEqual(['spec.d: Invalid value: "string": must be a valid duration greater than 1ms']);
    expect(messages(s, { d: 'apple' })).toEqual([
      "spec.d: Invalid value: \"string\": type conversion error from 'string' to 'google.protobuf.Duration' evaluating rule: must be a valid duration greater than 1ms",
    ]);
    expect(parseGoDuration('0')).toBe(0n);
    expect(parseGoDuration('1.5h')).toBe(5_400_000_000_000n);
    expect(parseGoDuration('-2m3.5s')).toBe(-123_500_000_000n);
    expect(parseGoDuration('1')).toEqual({ error: 'time: missing unit in duration "1"' });
    expect(parseGoDuration('.s')).toEqual({ error: 'time: invalid duration ".s"' });
    expect(parseGoDuration('3d')).toEqual({ error: 'time: unknown unit "d" in duration "3d"' });
  });

  it('indexes strings by code point in the strings extension', () => {
    const rule = (r: string): JsonSchema => obj({ s: { type: 'string', 'x-kubernetes-validations': [{ rule: r, message: 'no' }] } });
    expect(messages(rule('self.substring(1, 2) == "b" && self.indexOf("c") == 2 && self.lastIndexOf("b") == 1'), { s: '😀bc' })).toEqual([]);
    expect(messages(rule('self.lowerAscii() == "abcÉ"'), { s: 'ABCÉ' })).toEqual([]);
    expect(messages(rule('self.split("").size() == 2'), { s: '😀x' })).toEqual([]);
    expect(messages(rule('self.substring(5) == ""'), { s: 'abc' })).toEqual(['spec.s: Invalid value: "string": index out of range: 5 evaluating rule: no']);
  });

  it('does not rewrite function names inside string literals', () => {
    expect(rewriteExpression('self.matches("int(x)") && int(self) > 0').text).toBe('self.__k8s_matches("int(x)") && __k8s_int(self) > 0');
    expect(rewriteExpression("r'matches(' + b\"int(\" + '''duration(''' == duration('1s')").text).toBe("r'matches(' + b\"int(\" + '''duration(''' == __k8s_duration('1s')");
    expect(rewriteExpression('self.oldSelf == 1').usesOldSelf).toBe(false);
    expect(rewriteExpression('self == oldSelf').usesOldSelf).toBe(true);
  });

  it('skips transition rules on create and runs optionalOldSelf rules without an old object', () => {
    const s = obj(
      { a: { type: 'string' } },
      { 'x-kubernetes-validations': [{ rule: 'self.a == oldSelf.a', message: 'immutable' }, { rule: '!oldSelf.hasValue()', message: 'has old', optionalOldSelf: true }, { rule: 'oldSelf.hasValue()', message: 'no old', optionalOldSelf: true }] },
    );
    expect(messages(s, { a: 'x' })).toEqual(['spec: Invalid value: "object": no old']);
  });

  it('reports a rule that does not compile instead of throwing', () => {
    const s = obj({}, { 'x-kubernetes-validations': [{ rule: 'noSuchFunction(self)', message: 'x' }, { rule: 'self.(', message: 'y' }] });
    const got = messages(s, {});
    expect(got).toHaveLength(2);
    for (const m of got) expect(m).toMatch(/^spec: Invalid value: "object": rule compile error: compilation failed: /);
  });

  it('bounds evaluation cost: a quadratic rule over a huge list stops with the cost-limit error', () => {
    const s = obj({ l: { type: 'array', items: { type: 'integer' }, 'x-kubernetes-validations': [{ rule: 'self.all(a, self.all(b, self.all(c, a + b + c >= 0)))', message: 'neg' }] } });
    const started = Date.now();
    const got = messages(s, { l: Array.from({ length: 500 }, (_, i) => i) });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(got).toEqual([
      "spec.l: Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: neg",
    ]);
    expect(messages(s, { l: [1, 2, 3] })).toEqual([]);
    // Lists built by the rule itself are bounded by the strings they come from.
    const split = obj({ s: { type: 'string', 'x-kubernetes-validations': [{ rule: 'self.split("").all(a, self.split("").all(b, a != "" && b != ""))', message: 'empty' }] } });
    expect(messages(split, { s: 'x'.repeat(100_000) })[0]).toContain('call cost exceeds limit');
    expect(messages(split, { s: 'abc' })).toEqual([]);
  });
});

describe('hostile input', () => {
  it('reports a document that contains itself (YAML anchor cycle) instead of recursing forever', () => {
    const spec: Record<string, unknown> = { hosts: ['a'] };
    spec.http = [spec];
    const vs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec };
    expect(run(vs, findCrd('networking.istio.io', 'VirtualService')!.versions.v1!.schema)).toEqual([
      { path: ['spec', 'http', 0], message: 'error converting YAML to JSON: yaml: anchor value contains itself' },
    ]);
  });

  it('never throws, whatever the value, for every Istio kind and version', async () => {
    const { ISTIO_KINDS } = await import('../src/kinds.js');
    let deep: unknown = 'leaf';
    for (let i = 0; i < 600; i++) deep = { spec: deep };
    const weird: unknown[] = [null, 7, 'x', [], [[1]], { a: { b: [null, {}, 1.5, true] } }, { hosts: {}, http: 'x', selector: [1], rules: [{ from: 1 }], portLevelMtls: { '': null } }];
    let calls = 0;
    for (const kind of ISTIO_KINDS) {
      for (const [version, v] of Object.entries(kind.versions)) {
        for (const spec of weird) {
          const doc = { apiVersion: `${kind.group}/${version}`, kind: kind.kind, metadata: { name: 'n' }, spec, status: spec };
          expect(() => run(doc, v.schema)).not.toThrow();
          calls++;
        }
        expect(run(deep, v.schema)[0]!.message).toBe('nesting deeper than 512 levels');
      }
    }
    expect(calls).toBeGreaterThan(200);
  });
});

describe("Istio's schemas", () => {
  const schemaOf = (group: string, kind: string, version: string): JsonSchema => findCrd(group, kind)!.versions[version]!.schema;

  it('validates a VirtualService with paths into nested lists', () => {
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: 'default' },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 'ten' }], timeot: '1s' }] },
    };
    expect(run(vs, schemaOf('networking.istio.io', 'VirtualService', 'v1'))).toEqual([
      { path: ['spec', 'http', 0, 'route', 0, 'weight'], message: 'spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"' },
      { path: ['spec', 'http', 0, 'timeot'], message: 'unknown field "spec.http[0].timeot"' },
      { path: [], message: NOT_CHECKED },
    ]);
  });

  it('accepts a valid Gateway and rejects exclusive TLS credentials', () => {
    const gw = (tls: unknown) => ({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'gw' },
      spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*.example.com'], tls }] },
    });
    const schema = schemaOf('networking.istio.io', 'Gateway', 'v1');
    expect(run(gw({ mode: 'SIMPLE', credentialName: 'cert' }), schema)).toEqual([]);
    expect(run(gw({ mode: 'SIMPLE', credentialName: 'cert', credentialNames: ['a'] }), schema)).toEqual([
      { path: ['spec', 'servers', 0, 'tls'], message: 'spec.servers[0].tls: Invalid value: "object": only one of credentialName or credentialNames can be set' },
    ]);
  });

  it('compiles each schema once: a second validation reuses it', () => {
    const schema = schemaOf('security.istio.io', 'AuthorizationPolicy', 'v1');
    const ap = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a' }, spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: ['x'] } }] }] } };
    expect(run(ap, schema)).toEqual([]);
    const started = performance.now();
    for (let i = 0; i < 200; i++) run(ap, schema);
    // 200 validations of a small policy take milliseconds once the schema is compiled.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
