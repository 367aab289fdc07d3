import { describe, expect, it } from 'vitest';
import { loadObjects, loadText } from '../src/index.js';

describe('loader', () => {
  it('keeps file, line and column for every node across documents', () => {
    const text = [
      'apiVersion: networking.istio.io/v1',
      'kind: VirtualService',
      'metadata:',
      '  name: reviews',
      'spec:',
      '  hosts: [reviews]',
      '  http:',
      '  - route:',
      '    - destination:',
      '        host: reviews',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata: {name: reviews, namespace: bookinfo}',
    ].join('\n');
    const r = loadText(text, 'vs.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.resources.map((x) => x.key)).toEqual(['VirtualService/default/reviews', 'Service/bookinfo/reviews']);
    const vs = r.resources[0]!;
    expect(vs.locate(['spec', 'http', 0, 'route', 0, 'destination', 'host'])).toEqual({ file: 'vs.yaml', line: 10, column: 9 });
    // A path that goes past what exists points at the deepest node that does.
    expect(vs.locate(['spec', 'http', 0, 'timeout'])).toEqual({ file: 'vs.yaml', line: 8, column: 5 });
    expect(r.resources[1]!.source).toEqual({ file: 'vs.yaml', line: 12, column: 1 });
  });

  it('refuses an alias bomb with one clear error', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill('*' + String.fromCharCode(96 + i)).join(',')}]`);
    const r = loadText(lines.join('\n'), 'bomb.yaml');
    expect(r.resources).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toMatch(/alias/);
  });

  it('refuses 10,000-deep nesting without recursing', () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const r = loadText(`apiVersion: v1\nkind: X\nspec: ${deep}\n`, 'deep.yaml');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.message).toMatch(/nesting deeper than/);
    const block = Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    const r2 = loadText(block, 'deep2.yaml');
    expect(r2.diagnostics).toHaveLength(1);
    expect(r2.diagnostics[0]!.message).toMatch(/nesting deeper than/);
    // Compact sequences (`- - - x`) count too, before anything is parsed: the text bound (2 × 64 levels) trips at column 257.
    const r3 = loadText(`${'- '.repeat(100_000)}x\n`, 'deep3.yaml');
    expect(r3.diagnostics).toEqual([expect.objectContaining({ message: 'nesting deeper than 64 levels', line: 1, column: 257 })]);
  });

  it('refuses binary junk and reports YAML syntax errors with a position', () => {
    const junk = loadText('\u0000\u0001\u0002garbage', 'junk.bin');
    expect(junk.diagnostics[0]!.message).toMatch(/not a text file/);
    const bad = loadText('apiVersion: v1\nkind: [unclosed\n', 'bad.yaml');
    expect(bad.diagnostics).toHaveLength(1);
    expect(bad.diagnostics[0]!.line).toBeGreaterThan(0);
  });

  it('defaults the namespace to "default" and reads apiVersion parts', () => {
    const r = loadText('apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: pa}\nspec: {}\n');
    expect(r.resources[0]).toMatchObject({ group: 'security.istio.io', version: 'v1beta1', kind: 'PeerAuthentication', metadata: { namespace: 'default' } });
  });
});

describe('YAML as Go reads it', () => {
  it('reads an IPv6 address ending in "::" inside a flow list as a string, as Kubernetes does', () => {
    const r = loadText('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\nspec:\n  hosts: [a.example.com]\n  addresses: [1.2.3.4, 2001:db8::, "x:y"]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  labels: [k: v]\n');
    expect(r.resources[0]!.spec.addresses).toEqual(['1.2.3.4', '2001:db8::', 'x:y']);
    expect(r.resources[0]!.spec.labels).toEqual([{ k: 'v' }]);
  });
});

it('refuses an anchor that contains itself', () => {
  const r = loadText('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec: &a {http: [*a]}\n', 'cycle.yaml');
  expect(r.resources).toEqual([]);
  expect(r.diagnostics).toHaveLength(1);
  expect(r.diagnostics[0]!.message).toMatch(/anchor value contains itself/);
});

describe('nesting is counted on the data, the same for YAML and JSON', () => {
  /** A Service whose spec nests `n` maps below it in block YAML (document 1, spec 2, x 3, then n more). */
  const blockYaml = (n: number): string =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec:\n  x:\n${Array.from({ length: n }, (_, i) => `${'  '.repeat(i + 2)}n:`).join('\n')} leaf\n`;

  it('accepts 64 levels and refuses 65, as YAML and as the JSON it is stored as', () => {
    for (const n of [61, 62, 63]) {
      const depth = n + 2;
      const yaml = loadText(blockYaml(n), 'deep.yaml');
      const accepted = depth <= 64;
      expect(yaml.resources.length, `${depth} levels as YAML`).toBe(accepted ? 1 : 0);
      if (accepted) {
        // Reloaded as JSON (what the control service's snapshot hub does with a stored object).
        const json = loadObjects([yaml.resources[0]!.raw], 'stored');
        expect(json.diagnostics).toEqual([]);
        expect(json.resources).toHaveLength(1);
      } else {
        expect(yaml.diagnostics[0]).toMatchObject({ severity: 'error', code: 'yaml', message: 'nesting deeper than 64 levels', file: 'deep.yaml' });
      }
    }
  });

  it('refuses a 70-deep block document at the first level past the limit, with its path', () => {
    const r = loadText(blockYaml(70), 'deep.yaml');
    expect(r.resources).toEqual([]);
    expect(r.diagnostics).toHaveLength(1);
    // Level 65 is the 62nd `n:` (on line 5 + 62).
    expect(r.diagnostics[0]).toMatchObject({ message: 'nesting deeper than 64 levels', line: 67, path: `spec.x${'.n'.repeat(62)}` });
  });

  it('counts compact `- - -` sequences and aliases like any other nesting', () => {
    const compact = `apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec:\n  x:\n  ${'- '.repeat(70)}leaf\n`;
    expect(loadText(compact).diagnostics[0]?.message).toBe('nesting deeper than 64 levels');
    const x = `${'['.repeat(40)}1${']'.repeat(40)}`;
    const aliased = `apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec:\n  a: &a ${x}\n  b: ${'['.repeat(30)}*a${']'.repeat(30)}\n`;
    expect(loadText(aliased).diagnostics[0]?.message).toBe('nesting deeper than 64 levels');
    // The same 70 levels written as JSON.
    let v: unknown = 'leaf';
    for (let i = 0; i < 70; i++) v = { n: v };
    expect(loadObjects([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'deep' }, spec: v }]).diagnostics[0]?.message).toBe('nesting deeper than 64 levels');
  });
});

describe('the loader refuses what has no JSON form, at its line', () => {
  it('a NUL byte', () => {
    const r = loadText('apiVersion: v1\nkind: Service\n# \u0000\n', 'nul.yaml');
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'yaml', file: 'nul.yaml', line: 3, column: 3, message: 'not a text file (NUL byte at offset 31)' })]);
  });

  it('.inf and .nan anywhere (quoted, they are strings)', () => {
    const svc = (v: string): string => `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: 80, targetPort: ${v}}\n`;
    expect(loadText(svc('.inf'), 'inf.yaml').diagnostics).toEqual([
      expect.objectContaining({ code: 'yaml', line: 6, column: 16, path: 'spec.ports[0].targetPort', message: 'error converting YAML to JSON: json: unsupported value: +Inf' }),
    ]);
    expect(loadText(svc('-.Inf')).diagnostics[0]?.message).toMatch(/unsupported value: -Inf$/);
    expect(loadText(svc('.nan')).diagnostics[0]?.message).toMatch(/unsupported value: NaN$/);
    expect(loadText(svc('1e999')).diagnostics[0]?.message).toMatch(/unsupported value: \+Inf$/);
    expect(loadText(svc('".inf"')).resources[0]!.spec.ports[0].targetPort).toBe('.inf');
  });

  it('keeps a `__proto__` key as an ordinary key, in the data and in the labels', () => {
    const r = loadText('apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: {__proto__: x, app: y}\nspec:\n  selector: {__proto__: x}\n');
    const res = r.resources[0]!;
    expect(Object.keys(res.metadata.labels)).toEqual(['__proto__', 'app']);
    expect(Object.getPrototypeOf(res.metadata.labels)).toBe(Object.prototype);
    expect(Object.keys(res.spec.selector)).toEqual(['__proto__']);
  });
});

describe('loadObjects without the YAML parser (the SDK loads every snapshot this way)', () => {
  it('gives the Resource that loading the same JSON as text gives, and locates fields on demand', () => {
    const docs = [
      { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop', creationTimestamp: '2026-11-23T10:00:00Z', labels: { app: 'r' } }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }] }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ratings' }, spec: { ports: [{ name: 'http', port: 9080 }] } },
    ];
    const fast = loadObjects(docs, 'snap', 7);
    expect(fast.diagnostics).toEqual([]);
    docs.forEach((d, i) => {
      const viaText = loadText(JSON.stringify(d), 'snap', {}, 7 + i).resources[0]!;
      const r = fast.resources[i]!;
      const { locate: _a, ...a } = r;
      const { locate: _b, ...b } = viaText;
      expect(a).toEqual({ ...b, source: { file: 'snap', line: i + 1, column: 1 } });
      expect(r.raw).not.toBe(d); // a copy: the caller's object stays its own
    });
    // locate() builds the YAML tree when asked, and answers as the text loader does, on the document's line.
    const path = ['spec', 'http', 0, 'route', 0, 'weight'];
    const at = fast.resources[0]!.locate(path);
    expect(at).toEqual(loadText(JSON.stringify(docs[0]), 'snap').resources[0]!.locate(path));
    expect(JSON.stringify(docs[0]).slice(at.column - 1)).toMatch(/^"weight":100\b/);
    const port = fast.resources[1]!.locate(['spec', 'ports', 0, 'port']);
    expect(port).toEqual({ ...loadText(JSON.stringify(docs[1]), 'snap').resources[0]!.locate(['spec', 'ports', 0, 'port']), line: 2 });
  });

  it('still reports what is wrong through the full loader (no kind), at the document line', () => {
    const r = loadObjects([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ok' } }, { apiVersion: 'v1', metadata: { name: 'x' } }]);
    expect(r.resources.map((x) => x.metadata.name)).toEqual(['ok']);
    expect(r.diagnostics).toEqual([expect.objectContaining({ severity: 'error', message: 'kind is missing', line: 2 })]);
  });
});
