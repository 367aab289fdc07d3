/**
 * ObjectMeta as the API server checks it, for every kind the control service keeps (Istio kinds
 * through their schema, a Kubernetes Service on its own), and messages that show input values
 * on one line and cut short.
 */
import { describe, expect, it } from 'vitest';
import { boundMessage, loadText, quoteValue, showValue, validateResources, type Diagnostic } from '../src/index.js';

const errors = (text: string): Diagnostic[] => validateResources(loadText(text, 'in.yaml').resources).diagnostics.filter((d) => d.severity === 'error');

const service = (meta: string, spec = 'selector: {app: reviews}\n  ports: [{name: http, port: 9080}]'): string =>
  `apiVersion: v1\nkind: Service\nmetadata:\n${meta}\nspec:\n  ${spec}\n`;

describe('a Service is checked as the API server checks it', () => {
  it('accepts a plain Service', () => {
    expect(errors(service('  name: reviews\n  namespace: shop\n  labels: {app: reviews}\n  creationTimestamp: "2024-05-01T12:00:00Z"\n  resourceVersion: "7"'))).toEqual([]);
    // kubectl writes `creationTimestamp: null`: unset.
    expect(errors(service('  name: reviews\n  creationTimestamp: null'))).toEqual([]);
  });

  it('its name is a DNS-1035 label, its namespace a DNS-1123 label', () => {
    for (const name of ['.', 'a..b', 'a.b', '1abc', 'Reviews', 'x\u0007', 'x'.repeat(64), '']) {
      const es = errors(service(`  name: ${JSON.stringify(name)}\n  namespace: shop`));
      expect(es.length, JSON.stringify(name)).toBeGreaterThan(0);
      expect(es[0]).toMatchObject({ code: 'service', path: 'metadata.name', line: 4 });
    }
    expect(errors(service('  name: reviews\n  namespace: a/b'))[0]).toMatchObject({ path: 'metadata.namespace', line: 5, message: expect.stringMatching(/^metadata\.namespace: Invalid value: "a\/b": a lowercase RFC 1123 label/) });
    expect(errors(service('  name: reviews\n  namespace: a.b'))[0]?.message).toMatch(/must not contain dots/);
    expect(errors(service('  name: "1abc"'))[0]?.message).toBe(
      `metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
  });

  it('refuses a resourceVersion that is not a string, a bad creationTimestamp, unknown metadata fields', () => {
    expect(errors(service('  name: reviews\n  resourceVersion: 7'))).toEqual([
      expect.objectContaining({ path: 'metadata.resourceVersion', line: 5, message: 'json: cannot unmarshal number into Go struct field ObjectMeta.resourceVersion of type string' }),
    ]);
    for (const ts of ['yesterday', '2024-05-01', '2024-02-30T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01t00:00:00z', '2024-01-01T00:00:00+25:00']) {
      expect(errors(service(`  name: reviews\n  creationTimestamp: ${JSON.stringify(ts)}`)), ts).toEqual([
        expect.objectContaining({ path: 'metadata.creationTimestamp', line: 5, message: `metadata.creationTimestamp: Invalid value: ${JSON.stringify(ts)}: must be an RFC 3339 time such as "2024-05-01T12:00:00Z"` }),
      ]);
    }
    expect(errors(service('  name: reviews\n  creationTimestamp: "2024-02-29T23:59:59.5+05:30"'))).toEqual([]);
    expect(errors(service('  name: reviews\n  nmae: x'))[0]).toMatchObject({ path: 'metadata.nmae', message: 'unknown field "metadata.nmae"' });
  });

  it('label keys are qualified names, in metadata.labels and in spec.selector (so `__proto__` is not one)', () => {
    expect(errors(service('  name: reviews\n  labels: {__proto__: x}'))[0]).toMatchObject({ path: 'metadata.labels.__proto__', line: 5 });
    expect(errors(service('  name: reviews', 'selector: {__proto__: x, app: "a b"}'))).toEqual([
      expect.objectContaining({ path: 'spec.selector.__proto__', message: expect.stringMatching(/^spec\.selector: Invalid value: "__proto__": name part must consist/) }),
      expect.objectContaining({ path: 'spec.selector.app', message: expect.stringMatching(/^spec\.selector: Invalid value: "a b": a valid label must be an empty string/) }),
    ]);
    expect(errors(service('  name: reviews', 'selector: [app]'))[0]).toMatchObject({ path: 'spec.selector', message: 'spec.selector must be a map of label name → value' });
  });

  it('Istio kinds get the same metadata rules from their schema, with DNS-1123 subdomain names', () => {
    const vs = (meta: string): string => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n${meta}\nspec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: reviews}}]}]\n`;
    expect(errors(vs('  name: a.b\n  namespace: shop'))).toEqual([]);
    expect(errors(vs('  name: "."\n  namespace: shop'))[0]).toMatchObject({ path: 'metadata.name' });
    expect(errors(vs('  name: ok\n  namespace: a/b'))[0]).toMatchObject({ path: 'metadata.namespace' });
    expect(errors(vs('  name: ok\n  resourceVersion: 3'))[0]).toMatchObject({ path: 'metadata.resourceVersion' });
    expect(errors(vs('  name: ok\n  creationTimestamp: yesterday'))[0]).toMatchObject({ path: 'metadata.creationTimestamp', line: 5 });
  });
});

describe('messages show input on one line, cut short', () => {
  it('quoteValue: Go quoting, cut after 200 characters with the length told', () => {
    expect(quoteValue('reviews')).toBe('"reviews"');
    expect(quoteValue('a\nb\u0007"')).toBe('"a\\nb\\a\\""');
    expect(quoteValue('x'.repeat(100_000))).toBe(`"${'x'.repeat(200)}…" (100000 characters)`);
    // Never half a surrogate pair; characters are code points.
    expect(quoteValue(`${'x'.repeat(199)}🚀🚀`)).toBe(`"${'x'.repeat(199)}…" (201 characters)`);
  });

  it('showValue: bare when short and printable, quoted otherwise', () => {
    expect(showValue('reviews.shop.svc')).toBe('reviews.shop.svc');
    expect(showValue('a\nb')).toBe('"a\\nb"');
    expect(showValue('\u202eevil')).toBe('"\\u202eevil"');
    expect(showValue('y'.repeat(300))).toBe(`"${'y'.repeat(200)}…" (300 characters)`);
  });

  it('boundMessage: one line, at most 1,000 characters, start and end kept', () => {
    expect(boundMessage('a\r\nb\u2028')).toBe('a\\r\\nb\\u2028');
    const m = boundMessage(`start ${'z'.repeat(5000)} end`);
    expect(m.length).toBeLessThanOrEqual(1000);
    expect(m.startsWith('start zzz')).toBe(true);
    expect(m.endsWith('zzz end')).toBe(true);
  });

  it('validation messages quote long and multi-line values through them', () => {
    const long = errors(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: big}\nspec:\n  hosts: ["${'*.'.repeat(50_000)}"]\n  http: [{route: [{destination: {host: a}}]}]\n`);
    expect(long.length).toBeGreaterThan(0);
    for (const d of long) expect(d.message.length).toBeLessThan(400);
    expect(long[0]!.message).toMatch(/^domain name "\*\.\*\..*…" \(100000 characters\) too long \(max 255\)$/);

    const kind = validateResources(loadText(JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService\n', metadata: { name: 'nl' }, spec: {} })).resources).diagnostics;
    expect(kind[0]!.message).toBe('no kind "VirtualService\\n" is registered for version "networking.istio.io/v1"');

    const name = errors(service(`  name: "${'n'.repeat(100_000)}"`));
    expect(name[0]!.message.length).toBeLessThan(600);
    const key = errors(`apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    "${'9'.repeat(1000)}": {mode: NOPE}\n`);
    expect(key.length).toBeGreaterThan(0);
    for (const d of key) expect(d.message.length, d.message.slice(0, 100)).toBeLessThan(800);
  });
});
