import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlServer, hashToken, openSqliteStore, type ControlStore } from '../src/index.js';

const ADMIN = 'test-admin-token-0123456789';
const T0 = 1_700_000_000_000;

interface Running {
  store: ControlStore;
  server: Server;
  base: string;
  clock: { now: number };
}

async function start(): Promise<Running> {
  const store = await openSqliteStore({ dataDir: ':memory:' });
  const clock = { now: T0 };
  const server = createControlServer({ store, adminToken: ADMIN, now: () => clock.now });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { store, server, base: `http://127.0.0.1:${port}`, clock };
}

async function stop(r: Running): Promise<void> {
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
  await r.store.close();
}

async function call(base: string, method: string, path: string, init: { body?: string; type?: string; token?: string | null } = {}): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? ADMIN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(base + path, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

const json = (body: unknown) => ({ body: JSON.stringify(body), type: 'application/json' });
const createToken = (base: string, body: unknown, token?: string | null) => call(base, 'POST', '/v1/tokens', { ...json(body), token });
const register = (base: string, body: unknown, token?: string | null) => call(base, 'POST', '/v1/workloads:register', { ...json(body), token });

const group = (ns: string, name: string, sa: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  template:
    serviceAccount: ${sa}
    ports:
      http: 9080
`;

const RESOURCES = [group('shop', 'reviews-vm', 'reviews'), group('shop', 'ratings-vm', 'ratings'), group('other', 'reviews-vm', 'reviews')].join('---\n');

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews }
`;

describe('control API v1: join tokens and scopes', () => {
  let r: Running;
  let join: string;
  let created: any;
  beforeEach(async () => {
    r = await start();
    expect((await call(r.base, 'POST', '/v1/resources:apply', { body: RESOURCES, type: 'application/yaml' })).status).toBe(200);
    const res = await createToken(r.base, { namespace: 'shop', serviceAccount: 'reviews' });
    expect(res.status).toBe(201);
    created = res.body;
    join = res.body.token;
  });
  afterEach(async () => {
    await stop(r);
  });

  it('creates a token as admin: 201, prefixed, 24 h by default, only its sha256 stored', async () => {
    expect(join).toMatch(/^mwj_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ namespace: 'shop', serviceAccount: 'reviews', hash: hashToken(join), expiresAt: new Date(T0 + 24 * 3600 * 1000).toISOString() });
    const rec = await r.store.findToken(hashToken(join));
    expect(rec).toMatchObject({ hash: hashToken(join), namespace: 'shop', serviceAccount: 'reviews', expiresAtMs: T0 + 86_400_000, createdAtMs: T0 });
    expect(JSON.stringify(rec)).not.toContain(join);
    expect(await r.store.findToken(join)).toBeUndefined();
    const other = await createToken(r.base, { namespace: 'shop', serviceAccount: 'reviews', ttlSeconds: 60 });
    expect(other.body.token).not.toBe(join);
    expect(other.body.expiresAt).toBe(new Date(T0 + 60_000).toISOString());
  });

  it('validates the creation body (400)', async () => {
    for (const body of [{ serviceAccount: 'a' }, { namespace: 'shop' }, { namespace: 'Shop!', serviceAccount: 'a' }, { namespace: 'shop', serviceAccount: 'a', ttlSeconds: 30 * 86400 + 1 }, { namespace: 'shop', serviceAccount: 'a', ttlSeconds: 0 }, { namespace: 'shop', serviceAccount: 'a', extra: 1 }]) {
      expect((await createToken(r.base, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await createToken(r.base, { namespace: 'shop', serviceAccount: 'a', ttlSeconds: 30 * 86400 })).status).toBe(201);
    expect((await call(r.base, 'POST', '/v1/tokens', { body: '{}', type: 'application/yaml' })).status).toBe(415);
  });

  it('refuses no token and a wrong token (401)', async () => {
    expect((await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: null })).status).toBe(401);
    const wrong = await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: 'mwj_' + 'A'.repeat(43) });
    expect(wrong.status).toBe(401);
    expect((await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: 'not-a-token' })).status).toBe(401);
  });

  it('refuses an expired join token with 401 saying it expired, without the token', async () => {
    r.clock.now = T0 + 86_400_000 - 1;
    expect((await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: join })).status).toBe(200);
    r.clock.now = T0 + 86_400_000;
    const res = await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: join });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthenticated');
    expect(res.body.message).toMatch(/expired/);
    expect(res.text).not.toContain(join);
    expect(res.text).not.toContain(hashToken(join));
  });

  it('lets a join token read its own namespace (200) and nothing else (403 naming its scope)', async () => {
    const own = await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: join });
    expect(own.status).toBe(200);
    expect(own.body.items.every((i: any) => i.metadata.namespace === 'shop')).toBe(true);
    expect((await call(r.base, 'GET', '/v1/resources/WorkloadGroup/shop/reviews-vm', { token: join })).status).toBe(200);
    expect((await call(r.base, 'GET', '/v1/workloads?namespace=shop', { token: join })).status).toBe(200);
    for (const path of ['/v1/resources', '/v1/resources?namespace=other', '/v1/resources/WorkloadGroup/other/reviews-vm', '/v1/workloads', '/v1/workloads?namespace=other']) {
      const res = await call(r.base, 'GET', path, { token: join });
      expect(res.status, path).toBe(403);
      expect(res.body.error).toBe('forbidden');
      expect(res.body.message).toContain('"shop"');
      expect(res.body.message).toContain('"reviews"');
      expect(res.text).not.toContain(join);
    }
  });

  it('refuses apply, delete and token creation/revocation by a join token (403)', async () => {
    const apply = await call(r.base, 'POST', '/v1/resources:apply', { body: VS, type: 'application/yaml', token: join });
    expect(apply.status).toBe(403);
    expect(apply.body.error).toBe('forbidden');
    expect((await r.store.list({ kind: 'VirtualService' })).length).toBe(0);
    expect((await call(r.base, 'DELETE', '/v1/resources/WorkloadGroup/shop/reviews-vm', { token: join })).status).toBe(403);
    expect((await createToken(r.base, { namespace: 'shop', serviceAccount: 'reviews' }, join)).status).toBe(403);
    expect((await call(r.base, 'DELETE', `/v1/tokens/${hashToken(join)}`, { token: join })).status).toBe(403);
  });

  it('registers into its namespace with its service account (200); wrong SA or namespace 403', async () => {
    const ok = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' }, join);
    expect(ok.status).toBe(200);
    expect(ok.body.workload).toMatchObject({ namespace: 'shop', serviceAccount: 'reviews' });
    const wrongSa = await register(r.base, { group: 'shop/ratings-vm', address: '10.0.0.8' }, join);
    expect(wrongSa.status).toBe(403);
    expect(wrongSa.body.message).toContain('"ratings"');
    const otherNs = await register(r.base, { group: 'other/reviews-vm', address: '10.0.0.9' }, join);
    expect(otherNs.status).toBe(403);
    expect(otherNs.body.error).toBe('forbidden');
    // Another namespace's missing group: 403 as well, not 404 (existence does not leak).
    expect((await register(r.base, { group: 'other/nope', address: '10.0.0.9' }, join)).status).toBe(403);
    expect((await r.store.listWorkloads()).map((w) => w.id)).toEqual([ok.body.id]);
  });

  it('heartbeats and deregisters only workloads of its namespace', async () => {
    const mine = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' }, join);
    const theirs = await register(r.base, { group: 'other/reviews-vm', address: '10.0.0.9' });
    expect(theirs.status).toBe(200);
    const enc = encodeURIComponent;
    expect((await call(r.base, 'POST', `/v1/workloads/${enc(mine.body.id)}:heartbeat`, { token: join })).status).toBe(200);
    expect((await call(r.base, 'POST', `/v1/workloads/${enc(theirs.body.id)}:heartbeat`, { token: join })).status).toBe(403);
    expect((await call(r.base, 'DELETE', `/v1/workloads/${enc(theirs.body.id)}`, { token: join })).status).toBe(403);
    expect((await call(r.base, 'DELETE', `/v1/workloads/${enc(mine.body.id)}`, { token: join })).status).toBe(200);
  });

  it('revokes by hash (admin): the token is refused (401) afterwards', async () => {
    expect((await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: join })).status).toBe(200);
    const res = await call(r.base, 'DELETE', `/v1/tokens/${hashToken(join)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ hash: hashToken(join), status: 'revoked' });
    expect(await r.store.findToken(hashToken(join))).toBeUndefined();
    expect((await call(r.base, 'GET', '/v1/resources?namespace=shop', { token: join })).status).toBe(401);
    expect((await call(r.base, 'DELETE', `/v1/tokens/${hashToken(join)}`)).status).toBe(404);
    const raw = await call(r.base, 'DELETE', `/v1/tokens/${encodeURIComponent(join)}`);
    expect(raw.status).toBe(400);
    expect(raw.text).not.toContain(join);
  });
});
