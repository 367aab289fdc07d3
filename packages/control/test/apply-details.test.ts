/**
 * The details of apply that the fuzz found wanting, one by one: every refusal names a line,
 * messages stay one bounded line, a `__proto__` key is content like any other, what is stored
 * loads again; and the workload routes a join token may use only for its own service account.
 */
import { describe, expect, it } from 'vitest';
import { loadObjects } from '@meshwork/policy';
import { jsonErrorOffset, lineCol } from '../src/api/apply-body.js';
import { canonicalJson } from '../src/store/keys.js';
import { call, json, startControl } from './support.js';

const applyYaml = (base: string, body: string) => call(base, 'POST', '/v1/resources:apply', { body, type: 'application/yaml' });
const applyJson = (base: string, body: string) => call(base, 'POST', '/v1/resources:apply', { body, type: 'application/json' });

describe('apply: every refusal names a line', () => {
  it('JSON cut short or with a stray token: the line of the error', async () => {
    const r = await startControl();
    const cut = await applyJson(r.base, '[\n  {"apiVersion": "v1", "kind": "Service"},\n  {"b":');
    expect(cut.body.diagnostics[0]).toMatchObject({ code: 'json', file: 'request', line: 3, column: 8 });
    // V8 says "Unexpected token 'x', ..." without a position: found by scanning.
    const stray = await applyJson(r.base, '{\n  "apiVersion": "v1",\n  "kind": x\n}');
    expect(stray.body.diagnostics[0]).toMatchObject({ code: 'json', line: 3, column: 11 });
    expect(stray.body.diagnostics[0].message).not.toMatch(/[\r\n]/);
  });

  it('jsonErrorOffset finds the first syntax error, or the end', () => {
    const at = (t: string): { line: number; column: number } => lineCol(t, jsonErrorOffset(t));
    expect(jsonErrorOffset('[1, x]')).toBe(4);
    expect(jsonErrorOffset('[1,]')).toBe(3);
    expect(jsonErrorOffset('{"a" 1}')).toBe(5);
    expect(jsonErrorOffset('{"a": "b\\q"}')).toBe(9);
    expect(jsonErrorOffset('{"a": 1} x')).toBe(9);
    expect(jsonErrorOffset('{"a": [1, {"b": tru')).toBe(16);
    expect(jsonErrorOffset('{"a": [1, {"b": ')).toBe(16);
    expect(at('[\n {"a": 01}]')).toEqual({ line: 2, column: 9 });
    expect(jsonErrorOffset('['.repeat(100_000))).toBe(100_000);
  });

  it('a body without documents: one diagnostic at line 1', async () => {
    const r = await startControl();
    for (const body of ['', '---\n# nothing\n---\n']) {
      const res = await applyYaml(r.base, body);
      expect(res.status).toBe(400);
      expect(res.body.diagnostics).toEqual([expect.objectContaining({ code: 'empty', file: 'request', line: 1, message: 'the body holds no resources' })]);
    }
    expect((await applyJson(r.base, '[]')).body.diagnostics).toHaveLength(1);
  });

  it('generateName alone: the control service does not make names (400 at the line, not the store)', async () => {
    const r = await startControl();
    const res = await applyYaml(r.base, 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  generateName: dr-\n  namespace: shop\nspec: {host: reviews}\n');
    expect(res.status).toBe(400);
    expect(res.body.diagnostics).toEqual([expect.objectContaining({ code: 'name', line: 4, path: 'metadata.name' })]);
  });

  it('creationTimestamp: null (as kubectl writes it) is unset, and the store sets it', async () => {
    const r = await startControl();
    const res = await applyYaml(r.base, 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: shop\n  creationTimestamp: null\nspec: {ports: [{port: 80}]}\n');
    expect(res.status).toBe(200);
    const got = await call(r.base, 'GET', '/v1/resources/Service/shop/reviews');
    expect(got.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

describe('apply: diagnostics are one bounded line', () => {
  it('a huge value is cut in the message, and every text field is bounded', async () => {
    const r = await startControl();
    const big = 'x'.repeat(200_000);
    const res = await applyJson(r.base, JSON.stringify({ apiVersion: 'v1', kind: big, metadata: { name: big, namespace: 'shop' }, spec: {} }));
    expect(res.status).toBe(400);
    for (const d of res.body.diagnostics) {
      for (const f of ['message', 'fix', 'path', 'resource']) if (d[f] !== undefined) expect(d[f].length, f).toBeLessThanOrEqual(1000);
      expect(d.message).not.toMatch(/[\r\n]/);
    }
    expect(res.body.diagnostics[0].message).toMatch(/^v1 "x{200}…" \(200000 characters\) is not a kind the control service keeps$/);
  });
});

describe('apply: what is stored is what was sent, and loads again', () => {
  it('canonicalJson keeps a `__proto__` key', () => {
    const a = JSON.parse('{"spec": {"l": {"app": "x", "__proto__": "y"}}}');
    const b = JSON.parse('{"spec": {"l": {"app": "x"}}}');
    expect(canonicalJson(a)).toBe('{"spec":{"l":{"__proto__":"y","app":"x"}}}');
    expect(canonicalJson(a)).not.toBe(canonicalJson(b));
  });

  it('a change to a `__proto__` key in a selector is stored (configured), and read back', async () => {
    const r = await startControl();
    const authz = (labels: string): string => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-x, namespace: shop}\nspec:\n  selector:\n    matchLabels: {app: x${labels}}\n  action: DENY\n  rules: [{}]\n`;
    expect((await applyYaml(r.base, authz(''))).body.results[0].status).toBe('created');
    expect((await applyYaml(r.base, authz(', __proto__: y'))).body.results[0].status).toBe('configured');
    const got = await call(r.base, 'GET', '/v1/resources/AuthorizationPolicy/shop/deny-x');
    expect(Object.keys(got.body.spec.selector.matchLabels)).toEqual(['app', '__proto__']);
    expect((await applyYaml(r.base, authz(', __proto__: z'))).body.results[0].status).toBe('configured');
    expect((await applyYaml(r.base, authz(', __proto__: z'))).body.results[0].status).toBe('unchanged');
  });

  it('a document whose aliases expand past what loads again (8 MiB of JSON) is refused, not stored', async () => {
    const r = await startControl();
    const big = 'x'.repeat(1_000_000);
    const res = await applyYaml(r.base, `apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec:\n  ports: [{port: 80}]\n  y: &a "${big}"\n  x: [${Array(9).fill('*a').join(', ')}]\n`);
    expect(res.status).toBe(400);
    expect(res.body.diagnostics).toEqual([expect.objectContaining({ code: 'load', line: 1, message: expect.stringMatching(/would not load again from its stored JSON form: input is 9\.5 MiB; the limit is 8\.0 MiB$/) })]);
    expect((await call(r.base, 'GET', '/v1/resources')).body.items).toEqual([]);
  });

  it('64 levels of nesting are accepted and load again from the store; 65 are refused at their line', async () => {
    const r = await startControl();
    // Document 1, spec 2, configPatches 3, item 4, patch 5, then `n` maps: value (6) and its nested `n`s.
    const filter = (n: number): string => {
      let v: unknown = 'leaf';
      for (let i = 0; i < n; i++) v = { n: v };
      return JSON.stringify({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: `f${n}`, namespace: 'shop' }, spec: { configPatches: [{ applyTo: 'HTTP_FILTER', patch: { operation: 'MERGE', value: v } }] } }, null, 1);
    };
    expect((await applyJson(r.base, filter(59))).status).toBe(200);
    const stored = await call(r.base, 'GET', '/v1/resources/EnvoyFilter/shop/f59');
    expect(loadObjects([stored.body]).resources).toHaveLength(1);
    const deep = await applyJson(r.base, filter(60));
    expect(deep.status).toBe(400);
    // Level L is on line 8 + L of the indented JSON (`"value": {` is level 6 on line 14).
    expect(deep.body.diagnostics[0]).toMatchObject({ message: 'nesting deeper than 64 levels', file: 'request', line: 73, path: `spec.configPatches[0].patch.value${'.n'.repeat(59)}` });
  });
});

describe('workload routes: a join token acts only for its own service account', () => {
  it('heartbeat, watch, ack and deregister of a workload of its namespace running as another account: 403 naming both', async () => {
    const r = await startControl();
    await r.store.upsertWorkload({ id: 'shop/ratings-1', namespace: 'shop', name: 'ratings-1', address: '10.0.0.9', ports: {}, labels: {}, serviceAccount: 'ratings', locality: '' });
    const token = (await call(r.base, 'POST', '/v1/tokens', json({ namespace: 'shop', serviceAccount: 'reviews' }))).body.token as string;
    const id = encodeURIComponent('shop/ratings-1');
    const cases: Array<[string, string, string, string | undefined]> = [
      ['POST', `/v1/workloads/${id}:heartbeat`, 'send heartbeats for', undefined],
      ['GET', `/v1/workloads/${id}:watch`, 'watch', undefined],
      ['POST', `/v1/workloads/${id}:ack`, 'acknowledge snapshots for', JSON.stringify({ version: 'v1' })],
      ['DELETE', `/v1/workloads/${id}`, 'deregister', undefined],
    ];
    for (const [method, path, words, body] of cases) {
      const res = await call(r.base, method, path, { token, ...(body ? { body, type: 'application/json' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', scope: { namespace: 'shop', serviceAccount: 'reviews' } });
      expect(res.body.message).toBe(`a join token scoped to namespace "shop", service account "reviews" may not ${words} workload shop/ratings-1, which runs as service account "ratings"`);
    }
    // Outside its namespace the refusal says what was asked: a watch is not a change.
    const other = await call(r.base, 'GET', `/v1/workloads/${encodeURIComponent('other/x')}:watch`, { token });
    expect(other.status).toBe(403);
    expect(other.body.message).toBe('a join token scoped to namespace "shop", service account "reviews" may not watch workloads outside its namespace');
    // The workload is still there, and the admin may do all of it.
    expect((await call(r.base, 'POST', `/v1/workloads/${id}:heartbeat`)).status).toBe(200);
    expect((await call(r.base, 'DELETE', `/v1/workloads/${id}`)).status).toBe(200);
  });
});
