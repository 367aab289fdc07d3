import { describe, expect, it } from 'vitest';
import { loadText } from '../src/index.js';

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
