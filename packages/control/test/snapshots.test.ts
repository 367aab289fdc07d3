/**
 * The snapshot hub: one snapshot per namespace built from the store (the namespace's view,
 * healthy workloads as WorkloadEntries, mesh settings, trust bundle), content-addressed
 * versions, pushes to watchers only when the version moves, health expiry without a write,
 * and istioctl proxy-status's states.
 */
import { createHash } from 'node:crypto';
import { compileSnapshot, decideOutbound, loadObjects, meshConfig, validateResources, viewForNamespace, type WireSnapshot } from '@meshwork/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHealthy, openSqliteStore, workloadEntryOf, type ControlStore } from '../src/index.js';
import { SnapshotHub, syncState, type BuiltSnapshot } from '../src/snapshots.js';

const TTL = 10_000;

const doc = (kind: string, namespace: string, name: string, spec: unknown, apiVersion = 'networking.istio.io/v1') => ({ apiVersion, kind, metadata: { name, namespace }, spec });

const SERVICE = (ns: string, name: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] } });

let store: ControlStore;
let clock: { now: number };
let hub: SnapshotHub;
let bundle: string[];

beforeEach(async () => {
  store = await openSqliteStore({ dataDir: ':memory:' });
  clock = { now: 1_000_000 };
  bundle = ['-----BEGIN CERTIFICATE-----\nroot-a\n-----END CERTIFICATE-----\n'];
  hub = new SnapshotHub({ store, heartbeatTtlMs: TTL, now: () => clock.now, pollIntervalMs: 0, trustBundle: () => bundle, mesh: { trustDomain: 'example.org' } });
});

afterEach(async () => {
  hub.close();
  await store.close();
});

const register = (id: string, address: string, labels: Record<string, string>, sa = 'default') => {
  const [namespace, name] = id.split('/') as [string, string];
  return store.upsertWorkload({ id, namespace, name, address, ports: { http: 9080 }, labels, serviceAccount: sa, locality: '' }, clock.now);
};

const keys = (s: WireSnapshot) => s.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);

describe('SnapshotHub', () => {
  it('builds a namespace view with the registry, the mesh settings and the trust bundle, and the SDK compiles it', async () => {
    await store.applyBatch([
      SERVICE('shop', 'reviews'),
      doc('VirtualService', 'shop', 'reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] }),
      doc('DestinationRule', 'shop', 'reviews', { host: 'reviews', subsets: [{ name: 'v2', labels: { version: 'v2' } }] }),
      doc('AuthorizationPolicy', 'other', 'deny-all', {}, 'security.istio.io/v1'),
      doc('AuthorizationPolicy', 'shop', 'allow-all', { rules: [{}] }, 'security.istio.io/v1'),
    ]);
    await register('shop/reviews-v1', '10.0.0.1', { app: 'reviews', version: 'v1' });
    await register('shop/reviews-v2', '10.0.0.2', { app: 'reviews', version: 'v2' });
    const { snapshot } = await hub.snapshotFor('shop');
    expect(snapshot).toMatchObject({ apiVersion: 'meshwork.dev/v1', kind: 'Snapshot', namespace: 'shop', mesh: { trustDomain: 'example.org' }, trustBundle: bundle });
    expect(keys(snapshot)).toContain('AuthorizationPolicy/shop/allow-all');
    expect(keys(snapshot)).not.toContain('AuthorizationPolicy/other/deny-all');
    expect(keys(snapshot)).toEqual(expect.arrayContaining(['WorkloadEntry/shop/reviews-v1', 'WorkloadEntry/shop/reviews-v2']));

    // What the SDK does with it: load, validate, compile, decide.
    const loaded = loadObjects(snapshot.resources, 'control');
    expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const v = validateResources(loaded.resources);
    expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const snap = compileSnapshot(v.valid, { namespace: 'shop', labels: { app: 'productpage' } }, { mesh: snapshot.mesh });
    const d = decideOutbound(snap, { method: 'GET', scheme: 'http', authority: 'reviews:9080', port: 9080, target: '/', headers: {} });
    expect(d.action).toBe('route');
    const service = d.destinations[0]!.service!;
    expect(service.endpoints.map((e) => e.address).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('gives equal content an equal version, and a new version when the view, the registry or the bundle changes', async () => {
    await store.applyBatch([SERVICE('shop', 'reviews')]);
    const v1 = (await hub.snapshotFor('shop')).snapshot.version;
    await hub.refresh();
    expect((await hub.snapshotFor('shop')).snapshot.version).toBe(v1);

    // A change in another namespace that shop cannot see leaves shop's version alone.
    await store.applyBatch([doc('AuthorizationPolicy', 'other', 'x', {}, 'security.istio.io/v1')]);
    await hub.refresh();
    expect((await hub.snapshotFor('shop')).snapshot.version).toBe(v1);

    await register('shop/reviews-v1', '10.0.0.1', { app: 'reviews' });
    await hub.refresh();
    const v2 = (await hub.snapshotFor('shop')).snapshot.version;
    expect(v2).not.toBe(v1);

    bundle = [...bundle, '-----BEGIN CERTIFICATE-----\nroot-b\n-----END CERTIFICATE-----\n'];
    await hub.refresh();
    const v3 = (await hub.snapshotFor('shop')).snapshot;
    expect(v3.version).not.toBe(v2);
    expect(v3.trustBundle).toHaveLength(2);
  });

  it('drops a workload whose heartbeats stopped, without any write, and pushes only real changes to watchers', async () => {
    await store.applyBatch([SERVICE('shop', 'reviews')]);
    await register('shop/reviews-v1', '10.0.0.1', { app: 'reviews' });
    const got: BuiltSnapshot[] = [];
    let ended = 0;
    await hub.snapshotFor('shop');
    hub.watch({ workloadId: 'shop/reviews-v1', namespace: 'shop', send: (b) => got.push(b), end: () => ended++ });

    clock.now += TTL / 2;
    await hub.refresh();
    expect(got).toHaveLength(0); // nothing changed

    clock.now += TTL; // past the TTL: the workload is unhealthy, out of the endpoint set
    await hub.refresh();
    expect(got).toHaveLength(1);
    expect(keys(got[0]!.snapshot)).not.toContain('WorkloadEntry/shop/reviews-v1');
    expect(got[0]!.json).toBe(JSON.stringify(got[0]!.snapshot));

    await store.heartbeat('shop/reviews-v1', clock.now);
    await hub.refresh();
    expect(got).toHaveLength(2);
    expect(keys(got[1]!.snapshot)).toContain('WorkloadEntry/shop/reviews-v1');

    // Deregistered: its stream ends.
    await store.deleteWorkload('shop/reviews-v1');
    await hub.refresh();
    expect(ended).toBe(1);
  });

  it('builds what the whole registry and config give through viewForNamespace, as the registry and the config change', async () => {
    // The hub asks the view once per class of workloads (namespace, labels) and keeps what it
    // can between refreshes; this is the plain computation it must always agree with.
    const mesh = { trustDomain: 'example.org' };
    const reference = async (namespace: string): Promise<WireSnapshot> => {
      const entries = [
        ...(await store.list()).map((r) => ({ wire: r as Record<string, any> })),
        ...(await store.listWorkloads()).filter((w) => isHealthy(w, { nowMs: clock.now, ttlMs: TTL })).map((w) => ({ wire: workloadEntryOf(w) as Record<string, any> })),
      ].map((e) => ({ ...e, resource: loadObjects([e.wire], 'reference').resources[0]! }));
      const visible = new Set(viewForNamespace(entries.map((e) => e.resource), namespace, meshConfig(mesh)));
      const created = (e: (typeof entries)[number]) => String(e.wire.metadata.creationTimestamp ?? '');
      const kept = entries.filter((e) => visible.has(e.resource)).sort((a, b) => {
        const ca = created(a);
        const cb = created(b);
        if (ca !== cb) return ca === '' ? 1 : cb === '' ? -1 : ca < cb ? -1 : 1;
        return a.resource.key < b.resource.key ? -1 : a.resource.key > b.resource.key ? 1 : 0;
      }).map((e) => e.wire);
      const hash = createHash('sha256').update(JSON.stringify([namespace, mesh, bundle]));
      for (const r of kept) hash.update(JSON.stringify(r));
      return { apiVersion: 'meshwork.dev/v1', kind: 'Snapshot', version: hash.digest('hex').slice(0, 16), revision: await store.revision(), namespace, mesh, resources: kept, trustBundle: bundle } as WireSnapshot;
    };
    const namespaces = ['a', 'b', 'c', 'istio-system', 'empty'];
    const check = async (step: string) => {
      await hub.refresh();
      for (const ns of namespaces) {
        const got = await hub.snapshotFor(ns);
        expect(got.snapshot, `${step}: namespace ${ns}`).toEqual(await reference(ns));
        expect(got.json).toBe(JSON.stringify(got.snapshot));
      }
    };
    const service = (ns: string, name: string, selector: Record<string, string>, exportTo?: string) => ({
      apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...(exportTo ? { annotations: { 'networking.istio.io/exportTo': exportTo } } : {}) },
      spec: { selector, ports: [{ name: 'http', port: 80 }] },
    });
    await store.applyBatch([
      service('a', 'x', { app: 'x' }),
      service('a', 'private', { app: 'p' }, '.'),
      service('b', 'y', { app: 'y', tier: 'web' }),
      { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'z', namespace: 'b' }, spec: { hosts: ['z.internal'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], location: 'MESH_INTERNAL', resolution: 'STATIC', workloadSelector: { labels: { app: 'z' } }, exportTo: ['a'] } },
      { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'stored', namespace: 'c' }, spec: { address: '10.9.9.9', labels: { app: 'x' } } },
      doc('DestinationRule', 'a', 'x', { host: 'x', subsets: [{ name: 'v1', labels: { version: 'v1' } }] }),
      doc('VirtualService', 'b', 'y', { hosts: ['y'], http: [{ route: [{ destination: { host: 'y' } }] }] }),
      doc('AuthorizationPolicy', 'istio-system', 'mesh', { rules: [{}] }, 'security.istio.io/v1'),
    ]);
    let n = 0;
    const reg = (ns: string, labels: Record<string, string>) => register(`${ns}/w${++n}`, `10.0.${n >> 8}.${n & 255}`, labels);
    for (let i = 0; i < 4; i++) {
      await reg('a', { app: 'x', version: 'v1' });
      await reg('a', { version: 'v1', app: 'x' }); // the same labels in another order: the same class
      await reg('a', { app: 'p' });
      await reg('b', { app: 'y', tier: 'web' });
      await reg('b', { app: 'y' }); // not selected by b/y (tier missing)
      await reg('b', { app: 'z' });
      await reg('c', { app: 'x' }); // a/x selects only in a
    }
    await check('start');
    await reg('a', { app: 'x', version: 'v1' });
    await check('a workload joins an existing class');
    await reg('b', { app: 'y', tier: 'web', extra: '1' });
    await check('a workload makes a new class');
    await store.deleteWorkload('b/w4');
    await store.deleteWorkload(`b/w${n}`);
    await check('deregistrations, one emptying its class');
    await reg('b', { app: 'y', tier: 'web', extra: '1' });
    await check('the emptied class comes back');
    clock.now += TTL / 2;
    for (let i = 1; i <= 10; i++) await store.heartbeat(`a/w${i}`, clock.now);
    clock.now += TTL / 2 + 1;
    await check('heartbeats of most workloads ran out');
    await store.heartbeat('b/w5', clock.now);
    await check('a heartbeat revives one');
    await store.applyBatch([service('c', 'cx', { app: 'x' }), service('b', 'y', { app: 'y' })]);
    await check('services change which classes other namespaces see');
    await store.deleteBatch([{ kind: 'ServiceEntry', namespace: 'b', name: 'z' }]);
    await check('a service entry goes');
    bundle = [...bundle, '-----BEGIN CERTIFICATE-----\nroot-b\n-----END CERTIFICATE-----\n'];
    await check('the trust bundle changes');
  });

  it('orders resources by creation time, then kind/namespace/name', async () => {
    await store.applyBatch([doc('VirtualService', 'shop', 'b', { hosts: ['b'], http: [{ route: [{ destination: { host: 'b' } }] }] })]);
    clock.now += 1000;
    await store.applyBatch([doc('VirtualService', 'shop', 'a', { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' } }] }] })]);
    const s = (await hub.snapshotFor('shop')).snapshot;
    const created = s.resources.map((r) => String(r.metadata.creationTimestamp ?? ''));
    expect([...created].sort()).toEqual(created);
  });

  it('reports SYNCED, STALE, NACKED and NOT SENT as istioctl proxy-status does', async () => {
    await register('shop/a', '10.0.0.1', {});
    await register('shop/b', '10.0.0.2', {});
    await register('shop/c', '10.0.0.3', {});
    await register('shop/d', '10.0.0.4', {});
    const current = (await hub.snapshotFor('shop')).snapshot.version;
    hub.markSent('shop/a', current);
    await store.recordAck({ workload: 'shop/a', version: current, atMs: clock.now });
    hub.markSent('shop/b', current);
    hub.markSent('shop/c', current);
    await store.recordAck({ workload: 'shop/c', version: current, nack: 'VirtualService/shop/x: bad', atMs: clock.now });
    const { items } = await hub.status('shop');
    const by = Object.fromEntries(items.map((i) => [i.id, i]));
    expect(by['shop/a']).toMatchObject({ state: 'SYNCED', ackedVersion: current, currentVersion: current, healthy: true, connected: false });
    expect(by['shop/b']!.state).toBe('STALE');
    expect(by['shop/c']).toMatchObject({ state: 'NACKED', nackedVersion: current, nackError: 'VirtualService/shop/x: bad' });
    expect(by['shop/d']!.state).toBe('NOT SENT');
    expect(by['shop/a']!.lastAckAt).toBe(new Date(clock.now).toISOString());
  });
});

describe('syncState', () => {
  it('follows the ack, not just what was sent', () => {
    expect(syncState('v2', undefined, undefined)).toBe('NOT SENT');
    expect(syncState('v2', 'v2', undefined)).toBe('STALE');
    expect(syncState('v2', undefined, { workload: 'w', version: 'v2', atMs: 1, ackedVersion: 'v2', ackedAtMs: 1 })).toBe('SYNCED');
    expect(syncState('v2', 'v2', { workload: 'w', version: 'v1', atMs: 1, ackedVersion: 'v1', ackedAtMs: 1 })).toBe('STALE');
    expect(syncState('v2', 'v2', { workload: 'w', version: 'v2', nack: 'bad', atMs: 2, ackedVersion: 'v1', ackedAtMs: 1 })).toBe('NACKED');
    // A NACK of an older version does not hide that the new one is pending.
    expect(syncState('v3', 'v3', { workload: 'w', version: 'v2', nack: 'bad', atMs: 2, ackedVersion: 'v1', ackedAtMs: 1 })).toBe('STALE');
  });
});
