import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createControlServer, openSqliteStore, ROUTES, type ControlStore } from '../src/index.js';

const TOKEN = 'test-admin-token-0123456789';
const SAMPLES = '/work/shared/conformance/istio/samples/bookinfo/networking';
const OPENAPI = new URL('../openapi/v1.yaml', import.meta.url);

interface Running {
  store: ControlStore;
  server: Server;
  base: string;
}

async function start(maxBodyBytes?: number): Promise<Running> {
  const store = await openSqliteStore({ dataDir: ':memory:' });
  const server = createControlServer({ store, adminToken: TOKEN, maxBodyBytes });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { store, server, base: `http://127.0.0.1:${port}` };
}

async function stop(r: Running): Promise<void> {
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
  await r.store.close();
}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function call(base: string, method: string, path: string, init: { body?: string; type?: string; token?: string | null } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(base + path, { method, headers, body: init.body });
  const text = await res.text();
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
}

const apply = (base: string, body: string, type = 'application/yaml', query = ''): Promise<Reply> => call(base, 'POST', `/v1/resources:apply${query}`, { body, type });

const VS = (name: string, weight = 100, extra = ''): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: shop
spec:
  hosts:
  - ${name}
  http:
  - route:
    - destination:
        host: ${name}
      weight: ${weight}${extra}
`;

describe('control API v1: resources over HTTP', () => {
  let r: Running;
  beforeEach(async () => {
    r = await start();
  });
  afterEach(async () => {
    await stop(r);
  });

  describe.skipIf(!existsSync(SAMPLES))('the Bookinfo networking samples', () => {
    it('applies destination-rule-all and virtual-service-all-v1 (created), then again (unchanged)', async () => {
      const text = ['destination-rule-all.yaml', 'virtual-service-all-v1.yaml'].map((f) => readFileSync(join(SAMPLES, f), 'utf8')).join('\n---\n');
      const first = await apply(r.base, text);
      expect(first.status).toBe(200);
      expect(first.body.results).toHaveLength(8);
      expect(first.body.results.every((x: any) => x.status === 'created' && x.generation === 1 && x.namespace === 'default')).toBe(true);
      expect(first.body.revision).toBe(1);
      const again = await apply(r.base, text);
      expect(again.status).toBe(200);
      expect(again.body.revision).toBe(1);
      expect(again.body.results.map((x: any) => x.status)).toEqual(Array(8).fill('unchanged'));
      const list = await call(r.base, 'GET', '/v1/resources?kind=VirtualService');
      expect(list.body.items.map((i: any) => i.metadata.name)).toEqual(['details', 'productpage', 'ratings', 'reviews']);
    });
  });

  it('applies JSON: one object, an array and an items list', async () => {
    const obj = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'a', namespace: 'shop' }, spec: { host: 'a' } };
    const b = { ...obj, metadata: { name: 'b', namespace: 'shop' }, spec: { host: 'b' } };
    expect((await apply(r.base, JSON.stringify(obj), 'application/json')).body.results[0].status).toBe('created');
    const arr = await apply(r.base, JSON.stringify([obj, b], null, 2), 'application/json; charset=utf-8');
    expect(arr.body.results.map((x: any) => x.status)).toEqual(['unchanged', 'created']);
    const items = await apply(r.base, JSON.stringify({ items: [{ ...b, spec: { host: 'b2' } }] }), 'application/json');
    expect(items.body.results[0]).toMatchObject({ kind: 'DestinationRule', namespace: 'shop', name: 'b', status: 'configured', generation: 2 });
  });

  it('rejects a batch with one invalid document with file:line diagnostics, and stores nothing', async () => {
    const body = `${VS('good')}---\n${VS('bad', -5)}`;
    const res = await apply(r.base, body, 'application/yaml', '?file=shop.yaml');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid');
    const d = res.body.diagnostics[0];
    expect(d).toMatchObject({ file: 'shop.yaml', resource: 'VirtualService/shop/bad' });
    expect(d.line).toBe(body.split('\n').indexOf('      weight: -5') + 1); // the weight line of the second document
    expect(d.message).toMatch(/weight/);
    expect((await call(r.base, 'GET', '/v1/resources')).body).toEqual({ revision: 0, items: [] });

    const unknown = await apply(r.base, VS('odd', 100, '\n    bogusField: 1'));
    expect(unknown.status).toBe(400);
    expect(unknown.body.diagnostics[0]).toMatchObject({ file: 'request', line: 14, resource: 'VirtualService/shop/odd' });
    expect(unknown.body.diagnostics[0].message).toMatch(/bogusField/);
  });

  it('points JSON diagnostics at the line of the element in the request body', async () => {
    const good = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'a', namespace: 'shop' }, spec: { host: 'a' } };
    const bad = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'b', namespace: 'shop' }, spec: { host: 'b', bogus: true } };
    const text = JSON.stringify({ items: [good, bad] }, null, 2);
    const res = await apply(r.base, text, 'application/json');
    expect(res.status).toBe(400);
    const line = text.split('\n').findIndex((l) => l.includes('"bogus"')) + 1;
    expect(res.body.diagnostics[0]).toMatchObject({ resource: 'DestinationRule/shop/b', line });
  });

  it('rejects non-Istio kinds and duplicates within a batch', async () => {
    const dep = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n  namespace: shop\nspec: {}\n';
    const res = await apply(r.base, dep);
    expect(res.status).toBe(400);
    expect(res.body.diagnostics[0]).toMatchObject({ code: 'kind', line: 1 });
    const dup = await apply(r.base, `${VS('a')}---\n${VS('a', 100)}`);
    expect(dup.status).toBe(400);
    expect(dup.body.diagnostics[0].code).toBe('duplicate');
    expect(await r.store.revision()).toBe(0);
  });

  it('answers 409 on a stale resourceVersion and stores nothing', async () => {
    const first = await apply(r.base, VS('reviews'));
    const rv = first.body.results[0].resourceVersion as string;
    const moved = await apply(r.base, VS('reviews', 100, '\n    - destination:\n        host: other\n      weight: 0'));
    expect(moved.body.results[0].status).toBe('configured');
    const withRv = (name: string, v: string): string => VS(name).replace(`  namespace: shop\n`, `  namespace: shop\n  resourceVersion: "${v}"\n`);
    const stale = await apply(r.base, `${VS('ratings')}---\n${withRv('reviews', rv)}`);
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'conflict', resource: 'VirtualService/shop/reviews', expected: rv, actual: moved.body.results[0].resourceVersion });
    expect((await call(r.base, 'GET', '/v1/resources/VirtualService/shop/ratings')).status).toBe(404);
    const fresh = await apply(r.base, withRv('reviews', moved.body.results[0].resourceVersion));
    expect(fresh.status).toBe(200);
    expect(fresh.body.results[0]).toMatchObject({ status: 'configured', generation: 3 });
  });

  it('lists, gets and deletes', async () => {
    await apply(r.base, `${VS('a')}---\n${VS('b')}---\n${VS('c').replace('namespace: shop', 'namespace: other')}`);
    const all = await call(r.base, 'GET', '/v1/resources');
    expect(all.body.revision).toBe(1);
    expect(all.body.items).toHaveLength(3);
    const shop = await call(r.base, 'GET', '/v1/resources?namespace=shop&kind=VirtualService');
    expect(shop.body.items.map((i: any) => i.metadata.name)).toEqual(['a', 'b']);
    expect((await call(r.base, 'GET', '/v1/resources?kind=DestinationRule')).body.items).toEqual([]);

    const got = await call(r.base, 'GET', '/v1/resources/VirtualService/shop/a');
    expect(got.status).toBe(200);
    expect(got.body.metadata).toMatchObject({ name: 'a', namespace: 'shop', resourceVersion: '1', generation: 1 });
    expect(got.body.spec.hosts).toEqual(['a']);
    expect((await call(r.base, 'GET', '/v1/resources/VirtualService/shop/zz')).body).toMatchObject({ error: 'not_found', resource: 'VirtualService/shop/zz' });

    const conflict = await call(r.base, 'DELETE', '/v1/resources/VirtualService/shop/a?resourceVersion=99');
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ error: 'conflict', expected: '99', actual: '1' });
    const del = await call(r.base, 'DELETE', '/v1/resources/VirtualService/shop/a?resourceVersion=1');
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ revision: 2, result: { kind: 'VirtualService', namespace: 'shop', name: 'a', status: 'deleted' } });
    expect((await call(r.base, 'DELETE', '/v1/resources/VirtualService/shop/a')).status).toBe(404);
    expect((await call(r.base, 'DELETE', '/v1/resources/VirtualService/shop/b')).status).toBe(200);
    expect((await call(r.base, 'GET', '/v1/resources')).body.items.map((i: any) => i.metadata.name)).toEqual(['c']);
  });

  it('answers 401 without a token or with a wrong one, and never echoes it', async () => {
    for (const [method, path] of [['GET', '/v1/resources'], ['GET', '/v1/resources/VirtualService/shop/a'], ['DELETE', '/v1/resources/VirtualService/shop/a'], ['POST', '/v1/resources:apply']] as const) {
      const none = await call(r.base, method, path, { token: null, body: method === 'POST' ? VS('a') : undefined, type: method === 'POST' ? 'application/yaml' : undefined });
      expect(none.status).toBe(401);
      expect(none.body.error).toBe('unauthenticated');
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong = await call(r.base, method, path, { token: 'not-the-token-at-all', body: method === 'POST' ? VS('a') : undefined, type: method === 'POST' ? 'application/yaml' : undefined });
      expect(wrong.status).toBe(401);
      expect(wrong.text).not.toContain('not-the-token-at-all');
    }
    expect(await r.store.revision()).toBe(0);
    const basic = await fetch(`${r.base}/v1/resources`, { headers: { authorization: `Basic ${TOKEN}` } });
    expect(basic.status).toBe(401);
  });

  it('answers 415, 405 with Allow, 404 for unknown paths, 400 for malformed YAML and JSON', async () => {
    const t = await apply(r.base, VS('a'), 'text/plain');
    expect(t.status).toBe(415);
    expect(t.body.error).toBe('unsupported_media_type');
    const none = await call(r.base, 'POST', '/v1/resources:apply', { body: VS('a') });
    expect(none.status).toBe(415);

    const m = await call(r.base, 'PUT', '/v1/resources');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET');
    expect((await call(r.base, 'GET', '/v1/resources:apply')).headers.get('allow')).toBe('POST');
    expect((await call(r.base, 'POST', '/v1/resources/VirtualService/shop/a')).headers.get('allow')).toBe('GET, DELETE');

    const nf = await call(r.base, 'GET', '/v2/nothing');
    expect(nf.status).toBe(404);
    expect(nf.body.error).toBe('not_found');

    const yaml = await apply(r.base, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: [a\n');
    expect(yaml.status).toBe(400);
    expect(yaml.body.error).toBe('malformed');
    expect(yaml.body.diagnostics[0]).toMatchObject({ file: 'request', code: 'yaml' });
    expect(yaml.body.diagnostics[0].line).toBeGreaterThanOrEqual(4);

    const json = await apply(r.base, '{\n  "kind": "VirtualService",\n  oops\n}', 'application/json');
    expect(json.status).toBe(400);
    expect(json.body.diagnostics[0]).toMatchObject({ code: 'json', line: 3 });
    expect(await r.store.revision()).toBe(0);
  });

  it('an unexpected store failure is a 500 with no detail', async () => {
    const broken = { ...r.store, list: async () => { throw new Error('secret internals at /var/db'); } } as ControlStore;
    const server = createControlServer({ store: broken, adminToken: TOKEN });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await call(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'GET', '/v1/resources');
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ error: 'internal', message: 'internal error' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('validates its options', () => {
    expect(() => createControlServer({ store: r.store, adminToken: 'short' })).toThrow(/at least 16/);
    expect(() => createControlServer({ store: r.store, adminToken: TOKEN, maxBodyBytes: 0 })).toThrow(/maxBodyBytes/);
  });
});

describe('control API v1: body limit', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start(1024);
  });
  afterAll(async () => {
    await stop(r);
  });

  it('answers 413 to a body over the limit and stores nothing', async () => {
    const big = VS('a') + `# ${'x'.repeat(2000)}\n`;
    const res = await apply(r.base, big);
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('too_large');
    expect(await r.store.revision()).toBe(0);
    expect((await apply(r.base, VS('a'))).status).toBe(200);
  });

  it('answers 413 to a chunked body that grows over the limit', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${r.base}/v1/resources:apply`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('# ' + 'y'.repeat(1500) + '\n');
      req.end();
    });
    expect(status).toBe(413);
  });
});

describe('control API v1: the OpenAPI document', () => {
  const text = readFileSync(OPENAPI, 'utf8');
  const documented = new Set<string>();
  let path = '';
  let inPaths = false;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) inPaths = line.startsWith('paths:');
    if (!inPaths) continue;
    const p = /^ {2}(\/\S+):\s*$/.exec(line);
    if (p) path = p[1]!;
    const m = /^ {4}(get|put|post|delete|patch|head|options):\s*$/.exec(line);
    if (m) documented.add(`${m[1]!.toUpperCase()} ${path}`);
  }
  const served = new Set(ROUTES.flatMap((route) => Object.keys(route.methods).map((m) => `${m} ${route.path}`)));

  it('is OpenAPI 3.1 and documents exactly the served routes', () => {
    expect(text).toMatch(/^openapi: 3\.1\.\d/m);
    expect(documented.size).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it('every documented path and method is answered by the server (not 404/405)', async () => {
    const r = await start();
    try {
      for (const entry of documented) {
        const [method, template] = entry.split(' ') as [string, string];
        const url = template.replace(/\{[^}]+\}/g, 'x');
        const res = await fetch(r.base + url, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' }, body: method === 'POST' ? VS('a') : undefined });
        const body = JSON.parse(await res.text());
        // A 404 for a resource or workload that does not exist is an answer; "no such endpoint" is not.
        const unserved = res.status === 405 || (res.status === 404 && String(body.message).startsWith('no such endpoint'));
        expect(unserved, entry).toBe(false);
      }
    } finally {
      await stop(r);
    }
  });
});
