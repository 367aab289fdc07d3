import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { compileSnapshot, loadText } from '@meshwork/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createControlServer, openSqliteStore, workloadEntries, type ControlStore, type Workload } from '../src/index.js';

const TOKEN = 'test-admin-token-0123456789';
const TTL = 10_000;

interface Running {
  store: ControlStore;
  server: Server;
  base: string;
  clock: { now: number };
}

async function start(): Promise<Running> {
  const store = await openSqliteStore({ dataDir: ':memory:' });
  const clock = { now: 1_000_000 };
  const server = createControlServer({ store, adminToken: TOKEN, heartbeatTtlMs: TTL, now: () => clock.now });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { store, server, base: `http://127.0.0.1:${port}`, clock };
}

async function stop(r: Running): Promise<void> {
  r.server.closeAllConnections();
  await new Promise<void>((resolve) => r.server.close(() => resolve()));
  await r.store.close();
}

async function call(base: string, method: string, path: string, init: { body?: string; type?: string; token?: string | null } = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(base + path, { method, headers, body: init.body });
  const text = await res.text();
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: res.status, headers: res.headers, body: JSON.parse(text) };
}

const register = (base: string, body: unknown, token?: string | null) => call(base, 'POST', '/v1/workloads:register', { body: JSON.stringify(body), type: 'application/json', token });
const enc = encodeURIComponent;

const GROUP = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: reviews-vm
  namespace: shop
spec:
  metadata:
    labels:
      app: reviews
      tier: backend
  template:
    serviceAccount: reviews
    ports:
      http: 9080
    labels:
      version: v1
      tier: template
    network: vm-net
    locality: eu-west/zone-a
    weight: 3
`;

describe('control API v1: workloads over HTTP', () => {
  let r: Running;
  beforeEach(async () => {
    r = await start();
    const applied = await call(r.base, 'POST', '/v1/resources:apply', { body: GROUP, type: 'application/yaml' });
    expect(applied.status).toBe(200);
  });
  afterEach(async () => {
    await stop(r);
  });

  it('registers from the WorkloadGroup template: labels merged, service account, ports, network, locality, weight', async () => {
    const res = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7', labels: { version: 'v2', 'istio-locality': 'x' }, ports: { grpc: 9090 } });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe('shop/reviews-vm-10.0.0.7-vm-net');
    expect(res.body.workload).toMatchObject({
      id: 'shop/reviews-vm-10.0.0.7-vm-net',
      namespace: 'shop',
      name: 'reviews-vm-10.0.0.7-vm-net',
      address: '10.0.0.7',
      serviceAccount: 'reviews',
      ports: { http: 9080, grpc: 9090 },
      // template < group metadata < registration; the locality label is not kept
      labels: { app: 'reviews', tier: 'backend', version: 'v2' },
      locality: 'eu-west/zone-a',
      network: 'vm-net',
      weight: 3,
      group: 'shop/reviews-vm',
      lastHeartbeatMs: 1_000_000,
      healthy: true,
    });
    expect(res.body.workload.labels['istio-locality']).toBeUndefined();
    expect(res.body.revision).toBe(res.body.workload.revision);

    // The same registration again: idempotent.
    r.clock.now += 1000;
    const again = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7', labels: { version: 'v2', 'istio-locality': 'x' }, ports: { grpc: 9090 } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(res.body.id);
    expect(again.body.revision).toBe(res.body.revision);
    expect((await call(r.base, 'GET', '/v1/workloads')).body.items).toHaveLength(1);

    // An explicit name and locality, and the template's own service account named explicitly.
    const named = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.8', name: 'vm-8', locality: 'us-east/zone-b', serviceAccount: 'reviews' });
    expect(named.status).toBe(200);
    expect(named.body.workload).toMatchObject({ id: 'shop/vm-8', locality: 'us-east/zone-b', labels: { app: 'reviews', tier: 'backend', version: 'v1' } });
  });

  it('refuses another service account (400), an unknown group (404) and bad bodies', async () => {
    const sa = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7', serviceAccount: 'admin' });
    expect(sa.status).toBe(400);
    expect(sa.body.error).toBe('invalid');
    expect(sa.body.message).toMatch(/"admin".*"reviews".*another identity/);

    const missing = await register(r.base, { group: 'shop/ratings-vm', address: '10.0.0.7' });
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain('WorkloadGroup shop/ratings-vm');

    expect((await register(r.base, { group: 'reviews-vm', address: '10.0.0.7' })).status).toBe(400);
    expect((await register(r.base, { group: 'shop/reviews-vm' })).status).toBe(400);
    expect((await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7', ports: { http: 70000 } })).status).toBe(400);
    expect((await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7', bogus: 1 })).body.message).toMatch(/bogus/);
    const yaml = await call(r.base, 'POST', '/v1/workloads:register', { body: 'group: shop/reviews-vm', type: 'application/yaml' });
    expect(yaml.status).toBe(415);
    const broken = await call(r.base, 'POST', '/v1/workloads:register', { body: '{', type: 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toBe('malformed');
    expect((await call(r.base, 'GET', '/v1/workloads')).body.items).toEqual([]);
  });

  it('heartbeats keep a workload healthy; after the TTL it is unhealthy until the next heartbeat', async () => {
    const { body } = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' });
    const id: string = body.id;
    const health = async (): Promise<boolean> => (await call(r.base, 'GET', '/v1/workloads')).body.items[0].healthy;

    r.clock.now += TTL;
    expect(await health()).toBe(true);
    r.clock.now += 1;
    expect(await health()).toBe(false);

    const hb = await call(r.base, 'POST', `/v1/workloads/${enc(id)}:heartbeat`);
    expect(hb.status).toBe(200);
    expect(hb.body).toEqual({ id, ttlMs: TTL });
    expect(await health()).toBe(true);
    expect((await call(r.base, 'GET', '/v1/workloads')).body.items[0].lastHeartbeatMs).toBe(r.clock.now);

    const unknown = await call(r.base, 'POST', `/v1/workloads/${enc('shop/nobody')}:heartbeat`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('shop/nobody');
  });

  it('deregisters (200, then 404) and filters the list by namespace', async () => {
    await call(r.base, 'POST', '/v1/resources:apply', { body: GROUP.replace('namespace: shop', 'namespace: lab'), type: 'application/yaml' });
    const a = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' });
    await register(r.base, { group: 'lab/reviews-vm', address: '10.0.0.9' });
    const shop = await call(r.base, 'GET', '/v1/workloads?namespace=shop');
    expect(shop.body.items.map((w: any) => w.id)).toEqual([a.body.id]);
    expect((await call(r.base, 'GET', '/v1/workloads')).body.items.map((w: any) => w.namespace)).toEqual(['lab', 'shop']);

    const del = await call(r.base, 'DELETE', `/v1/workloads/${enc(a.body.id)}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ id: a.body.id, status: 'deleted' });
    expect((await call(r.base, 'DELETE', `/v1/workloads/${enc(a.body.id)}`)).status).toBe(404);
    expect((await call(r.base, 'POST', `/v1/workloads/${enc(a.body.id)}:heartbeat`)).status).toBe(404);
    expect((await call(r.base, 'GET', '/v1/workloads?namespace=shop')).body.items).toEqual([]);
  });

  it('needs the admin token (401)', async () => {
    const none = await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' }, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await register(r.base, { group: 'shop/reviews-vm', address: '10.0.0.7' }, 'wrong-token-wrong-token')).status).toBe(401);
    expect((await call(r.base, 'GET', '/v1/workloads', { token: null })).status).toBe(401);
    expect((await call(r.base, 'POST', '/v1/workloads/x:heartbeat', { token: null })).status).toBe(401);
    expect((await call(r.base, 'DELETE', '/v1/workloads/x', { token: null })).status).toBe(401);
    expect((await call(r.base, 'GET', '/v1/workloads')).body.items).toEqual([]);
  });
});

describe('registry view: healthy workloads as WorkloadEntries', () => {
  const wl = (name: string, address: string, lastHeartbeatMs: number): Workload => ({
    id: `shop/${name}`,
    namespace: 'shop',
    name,
    address,
    ports: { http: 9080 },
    labels: { app: 'reviews', version: 'v1' },
    serviceAccount: 'reviews',
    locality: 'eu-west/zone-a',
    group: 'shop/reviews-vm',
    weight: 2,
    lastHeartbeatMs,
    revision: 1,
  });
  const workloads = [wl('vm-b', '10.0.0.2', 0), wl('vm-a', '10.0.0.1', 95_000), wl('vm-c', '10.0.0.3', 100_000)];

  it('turns healthy workloads into networking.istio.io/v1 WorkloadEntries', () => {
    const docs = workloadEntries(workloads, { nowMs: 100_000, ttlMs: 30_000 });
    expect(docs.map((d) => d.metadata.name)).toEqual(['vm-a', 'vm-c']);
    expect(docs[0]).toEqual({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadEntry',
      metadata: { name: 'vm-a', namespace: 'shop', labels: { app: 'reviews', version: 'v1' }, annotations: { 'istio.io/autoRegistrationGroup': 'reviews-vm' } },
      spec: { address: '10.0.0.1', ports: { http: 9080 }, labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', locality: 'eu-west/zone-a', weight: 2 },
    });
    // default TTL is 30 s
    expect(workloadEntries(workloads, { nowMs: 130_000 }).map((d) => d.metadata.name)).toEqual(['vm-c']);
  });

  it('compileSnapshot: a ServiceEntry selecting the group labels gets the healthy endpoints only', () => {
    const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews.shop.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - { number: 80, name: http, protocol: HTTP, targetPort: 9080 }
  workloadSelector:
    labels:
      app: reviews
`;
    const entries = workloadEntries(workloads, { nowMs: 100_000, ttlMs: 30_000 });
    const loaded = loadText([se, ...entries.map((d) => JSON.stringify(d))].join('\n---\n'), 'registry.yaml');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const snap = compileSnapshot(loaded.resources, { namespace: 'shop', labels: { app: 'productpage' }, serviceAccount: 'productpage' });
    const svc = snap.registry.services.find((s) => s.hostname === 'reviews.shop.internal');
    expect(svc).toBeDefined();
    expect(svc!.endpoints.map((e) => e.address).sort()).toEqual(['10.0.0.1', '10.0.0.3']);
    expect(svc!.endpoints[0]).toMatchObject({ serviceAccount: 'reviews', locality: 'eu-west/zone-a', weight: 2 });
  });
});
