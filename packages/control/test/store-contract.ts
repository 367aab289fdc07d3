import { describe, expect, it } from 'vitest';
import { StoreError, type ControlStore, type ResourceDoc, type WorkloadInput } from '../src/index.js';

/** What a store implementation gives the contract. */
export interface StoreHarness {
  /** Opens a handle; when `shared`, every call opens another handle on the same data. */
  open(options?: { historyRevisions?: number; now?: () => number }): Promise<ControlStore>;
  /** True for a durable backend: reopen and two concurrent handles are tested. */
  shared: boolean;
}

export function vs(name: string, host = name, extra: Record<string, unknown> = {}, namespace = 'default'): ResourceDoc {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
    ...extra,
  };
}

export function dr(name: string, namespace = 'default'): ResourceDoc {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace }, spec: { host: name } };
}

const key = (name: string, kind = 'VirtualService', namespace = 'default') => ({ kind, namespace, name });

export function wl(id: string, extra: Partial<WorkloadInput> = {}): WorkloadInput {
  return { id, namespace: 'default', name: 'reviews', address: '10.0.0.1', ports: { http: 9080 }, labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'bookinfo-reviews', locality: 'eu/west', ...extra };
}

async function rejects(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error('expected the call to fail');
}

/**
 * The behaviour every ControlStore implementation must show. Assertions compare revisions
 * relative to each other (never absolute numbers), so etcd, whose revisions also move for
 * other keys, can run the same suite.
 */
export function storeContract(name: string, setup: () => Promise<StoreHarness>): void {
  describe(`store contract: ${name}`, () => {
    async function fresh(options?: { historyRevisions?: number; now?: () => number }) {
      const h = await setup();
      return { h, store: await h.open(options) };
    }

    it('creates a resource with resourceVersion = the revision after the write and generation 1', async () => {
      const { store } = await fresh();
      const before = await store.revision();
      const res = await store.applyBatch([vs('reviews')]);
      expect(res.revision).toBeGreaterThan(before);
      expect(await store.revision()).toBe(res.revision);
      expect(res.results).toEqual([{ key: key('reviews'), status: 'created', resourceVersion: String(res.revision), generation: 1 }]);
      const got = await store.get(key('reviews'));
      expect(got?.metadata).toMatchObject({ name: 'reviews', namespace: 'default', resourceVersion: String(res.revision), generation: 1 });
      expect(got?.spec).toEqual(vs('reviews').spec);
      expect(await store.get(key('nope'))).toBeUndefined();
      await store.close();
    });

    it('re-applying the same spec is unchanged: no new resourceVersion, generation or revision', async () => {
      const { store } = await fresh();
      const first = await store.applyBatch([vs('reviews')]);
      // Same content, other key order, with stale server fields that the store ignores.
      const again = { spec: vs('reviews').spec, metadata: { namespace: 'default', name: 'reviews', resourceVersion: '999', generation: 7 }, kind: 'VirtualService', apiVersion: 'networking.istio.io/v1' } as ResourceDoc;
      const res = await store.applyBatch([again]);
      expect(res.results[0]).toMatchObject({ status: 'unchanged', resourceVersion: String(first.revision), generation: 1 });
      expect(res.revision).toBe(first.revision);
      expect(await store.revision()).toBe(first.revision);
      expect((await store.changesSince(first.revision)).changes).toEqual([]);
      await store.close();
    });

    it('a spec change bumps generation; a metadata-only change bumps resourceVersion but not generation', async () => {
      const { store } = await fresh();
      const a = await store.applyBatch([vs('reviews')]);
      const b = await store.applyBatch([vs('reviews', 'reviews.other.svc.cluster.local')]);
      expect(b.results[0]).toMatchObject({ status: 'configured', generation: 2, resourceVersion: String(b.revision) });
      expect(b.revision).toBeGreaterThan(a.revision);
      const labelled = vs('reviews', 'reviews.other.svc.cluster.local');
      labelled.metadata.labels = { team: 'books' };
      const c = await store.applyBatch([labelled]);
      expect(c.results[0]).toMatchObject({ status: 'configured', generation: 2 });
      expect(c.revision).toBeGreaterThan(b.revision);
      expect((await store.get(key('reviews')))?.metadata.labels).toEqual({ team: 'books' });
      await store.close();
    });

    it('sets metadata.creationTimestamp (RFC 3339, whole seconds, from its clock) when it creates an object without one', async () => {
      const clock = { now: Date.parse('2030-05-01T12:00:00.750Z') };
      const { store } = await fresh({ now: () => clock.now });
      const res = await store.applyBatch([vs('reviews')]);
      const got = await store.get(key('reviews'));
      expect(got?.metadata.creationTimestamp).toBe('2030-05-01T12:00:00Z');
      const feed = await store.changesSince(res.revision - 1);
      const put = feed.changes[0]!;
      expect(put.type === 'resource' && put.op === 'put' && put.resource.metadata.creationTimestamp).toBe('2030-05-01T12:00:00Z');
      await store.close();
    });

    it('keeps the stored creationTimestamp when a later document has none: an unchanged re-apply stays unchanged, a change keeps it', async () => {
      const clock = { now: Date.parse('2030-05-01T12:00:00Z') };
      const { store } = await fresh({ now: () => clock.now });
      const first = await store.applyBatch([vs('reviews')]);
      clock.now += 3_600_000;
      const again = await store.applyBatch([vs('reviews')]);
      expect(again.results[0]).toMatchObject({ status: 'unchanged', resourceVersion: String(first.revision) });
      expect(again.revision).toBe(first.revision);
      // A document that echoes the stored value back (kubectl get -o yaml | kubectl apply) is unchanged too.
      const echoed = vs('reviews');
      echoed.metadata.creationTimestamp = '2030-05-01T12:00:00Z';
      expect((await store.applyBatch([echoed])).results[0]!.status).toBe('unchanged');
      const changed = await store.applyBatch([vs('reviews', 'reviews.other.svc.cluster.local')]);
      expect(changed.results[0]).toMatchObject({ status: 'configured', generation: 2 });
      expect((await store.get(key('reviews')))?.metadata.creationTimestamp).toBe('2030-05-01T12:00:00Z');
      // Deleted and created again: a new object, a new time.
      await store.deleteBatch([key('reviews')]);
      await store.applyBatch([vs('reviews')]);
      expect((await store.get(key('reviews')))?.metadata.creationTimestamp).toBe('2030-05-01T13:00:00Z');
      await store.close();
    });

    it('keeps a creationTimestamp the document carries; changing it is a metadata change (new resourceVersion, same generation)', async () => {
      const { store } = await fresh({ now: () => Date.parse('2030-05-01T12:00:00Z') });
      const given = vs('reviews');
      given.metadata.creationTimestamp = '2021-01-02T03:04:05Z';
      const a = await store.applyBatch([given, vs('ratings')]);
      expect((await store.get(key('reviews')))?.metadata.creationTimestamp).toBe('2021-01-02T03:04:05Z');
      expect((await store.get(key('ratings')))?.metadata.creationTimestamp).toBe('2030-05-01T12:00:00Z');
      expect((await store.applyBatch([vs('reviews')])).results[0]!.status).toBe('unchanged');
      const older = vs('reviews');
      older.metadata.creationTimestamp = '2020-01-01T00:00:00Z';
      const b = await store.applyBatch([older]);
      expect(b.results[0]).toMatchObject({ status: 'configured', generation: 1 });
      expect(b.revision).toBeGreaterThan(a.revision);
      expect((await store.get(key('reviews')))?.metadata.creationTimestamp).toBe('2020-01-01T00:00:00Z');
      await store.close();
    });

    it('refuses a creationTimestamp that is not an RFC 3339 time, and changes nothing', async () => {
      const { store } = await fresh();
      const rev = await store.revision();
      for (const bad of ['yesterday', '2021-01-02', 1_700_000_000, '2021-13-45T99:00:00Z']) {
        const doc = vs('reviews');
        doc.metadata.creationTimestamp = bad as string;
        const e = await rejects(store.applyBatch([vs('ok'), doc]));
        expect(e.reason).toBe('invalid');
        expect(e.message).toContain('metadata.creationTimestamp');
      }
      expect(await store.list()).toEqual([]);
      expect(await store.revision()).toBe(rev);
      await store.close();
    });

    it('group/version is not identity: v1beta1 and v1 of a kind are one object', async () => {
      const { store } = await fresh();
      await store.applyBatch([{ ...vs('reviews'), apiVersion: 'networking.istio.io/v1beta1' }]);
      const res = await store.applyBatch([vs('reviews')]);
      expect(res.results[0]).toMatchObject({ status: 'configured', generation: 1 });
      expect(await store.list()).toHaveLength(1);
      expect((await store.get(key('reviews')))?.apiVersion).toBe('networking.istio.io/v1');
      await store.close();
    });

    it('a batch is all-or-nothing: a conflict on the 3rd document leaves the first two unapplied', async () => {
      const { store } = await fresh();
      const seed = await store.applyBatch([vs('c')]);
      await store.applyBatch([vs('c', 'c2')]); // c moves on; seed.revision is now stale
      const rev = await store.revision();
      const err = await rejects(store.applyBatch([vs('a'), dr('b'), vs('c', 'c3')], { expected: { 'VirtualService/default/c': String(seed.revision) } }));
      expect(err.reason).toBe('conflict');
      expect(err.key).toEqual(key('c'));
      expect(err.message).toContain('VirtualService/default/c');
      expect(err.expected).toBe(String(seed.revision));
      expect(err.actual).toBe(String(rev));
      expect(await store.get(key('a'))).toBeUndefined();
      expect(await store.get(key('b', 'DestinationRule'))).toBeUndefined();
      expect((await store.get(key('c')))?.spec).toEqual(vs('c', 'c2').spec);
      expect(await store.revision()).toBe(rev);
      expect((await store.changesSince(rev)).changes).toEqual([]);
      await store.close();
    });

    it('refuses a document without kind, namespace or name, or not plain JSON, and changes nothing', async () => {
      const { store } = await fresh();
      await store.applyBatch([vs('keep')]);
      const rev = await store.revision();
      const noNs = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: {} } as unknown as ResourceDoc;
      const e1 = await rejects(store.applyBatch([vs('a'), vs('b'), noNs]));
      expect(e1.reason).toBe('invalid');
      expect(e1.message).toMatch(/document 3 .*metadata\.namespace/);
      const e2 = await rejects(store.applyBatch([vs('a'), { apiVersion: 'v1', metadata: { name: 'x', namespace: 'default' } } as unknown as ResourceDoc]));
      expect(e2.message).toMatch(/document 2 .*kind/);
      const e3 = await rejects(store.applyBatch([vs('a'), vs('a', 'other')]));
      expect(e3.message).toContain('twice');
      const e4 = await rejects(store.applyBatch([vs('a'), vs('b', 'b', { spec: { big: 1n } })]));
      expect(e4.reason).toBe('invalid');
      expect((await store.list()).map((r) => r.metadata.name)).toEqual(['keep']);
      expect(await store.revision()).toBe(rev);
      await store.close();
    });

    it("expected '0' means create-only", async () => {
      const { store } = await fresh();
      await store.applyBatch([vs('a')], { expected: { 'VirtualService/default/a': '0' } });
      const err = await rejects(store.applyBatch([vs('a', 'x')], { expected: { 'VirtualService/default/a': '0' } }));
      expect(err.reason).toBe('conflict');
      await store.close();
    });

    it('two appliers with the same read resourceVersion: the second gets one conflict', async () => {
      const { h, store: one } = await fresh();
      const two = h.shared ? await h.open() : one;
      await one.applyBatch([vs('reviews')]);
      const rvOne = (await one.get(key('reviews')))!.metadata.resourceVersion;
      const rvTwo = (await two.get(key('reviews')))!.metadata.resourceVersion;
      expect(rvTwo).toBe(rvOne);
      const results = await Promise.allSettled([
        one.applyBatch([vs('reviews', 'one')], { expected: { 'VirtualService/default/reviews': rvOne } }),
        two.applyBatch([vs('reviews', 'two')], { expected: { 'VirtualService/default/reviews': rvTwo } }),
      ]);
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(rejected).toHaveLength(1);
      expect((rejected[0] as PromiseRejectedResult).reason).toMatchObject({ reason: 'conflict', key: key('reviews') });
      expect((await two.get(key('reviews')))?.metadata.generation).toBe(2);
      if (two !== one) await two.close();
      await one.close();
    });

    it('deletes with an expected version, all-or-nothing, reporting missing keys', async () => {
      const { store } = await fresh();
      const a = await store.applyBatch([vs('a'), vs('b')]);
      const rv = String(a.revision);
      const err = await rejects(store.deleteBatch([key('a'), key('b')], { expected: { 'VirtualService/default/a': rv, 'VirtualService/default/b': String(a.revision - 1) } }));
      expect(err).toMatchObject({ reason: 'conflict', key: key('b') });
      expect(await store.list()).toHaveLength(2);
      expect(await store.revision()).toBe(a.revision);
      const del = await store.deleteBatch([key('a'), key('b'), key('ghost')], { expected: { 'VirtualService/default/a': rv, 'VirtualService/default/b': rv } });
      expect(del.results.map((r) => r.status)).toEqual(['deleted', 'deleted', 'not-found']);
      expect(del.revision).toBeGreaterThan(a.revision);
      expect(await store.list()).toEqual([]);
      const feed = await store.changesSince(a.revision);
      expect(feed.changes).toEqual([
        { revision: del.revision, type: 'resource', op: 'delete', key: key('a') },
        { revision: del.revision, type: 'resource', op: 'delete', key: key('b') },
      ]);
      const none = await store.deleteBatch([key('ghost')]);
      expect(none.revision).toBe(del.revision);
      await rejects(store.deleteBatch([key('ghost')], { expected: { 'VirtualService/default/ghost': '5' } }));
      await store.close();
    });

    it('lists by kind and namespace, sorted by kind, namespace, name', async () => {
      const { store } = await fresh();
      await store.applyBatch([vs('b'), vs('a', 'a', {}, 'prod'), dr('z'), vs('a'), dr('y', 'prod')]);
      const names = (rs: Awaited<ReturnType<ControlStore['list']>>) => rs.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
      expect(names(await store.list())).toEqual(['DestinationRule/default/z', 'DestinationRule/prod/y', 'VirtualService/default/a', 'VirtualService/default/b', 'VirtualService/prod/a']);
      expect(names(await store.list({ kind: 'VirtualService' }))).toEqual(['VirtualService/default/a', 'VirtualService/default/b', 'VirtualService/prod/a']);
      expect(names(await store.list({ namespace: 'prod' }))).toEqual(['DestinationRule/prod/y', 'VirtualService/prod/a']);
      expect(names(await store.list({ kind: 'DestinationRule', namespace: 'default' }))).toEqual(['DestinationRule/default/z']);
      expect(await store.list({ kind: 'Gateway' })).toEqual([]);
      await store.close();
    });

    it('changesSince returns resource and workload changes in order and resumes from any revision', async () => {
      const { store } = await fresh();
      const start = await store.revision();
      const r1 = await store.applyBatch([vs('a'), dr('a')]);
      const r2 = await store.upsertWorkload(wl('w1'), 1_000);
      const r3 = await store.deleteBatch([key('a')]);
      const r4 = await store.deleteWorkload('w1');
      expect(r4).toBe(true);
      const all = await store.changesSince(start);
      expect(all.revision).toBe(await store.revision());
      expect(all.changes.map((c) => [c.type, c.op, c.type === 'resource' ? c.key.kind : c.id])).toEqual([
        ['resource', 'put', 'VirtualService'],
        ['resource', 'put', 'DestinationRule'],
        ['workload', 'put', 'w1'],
        ['resource', 'delete', 'VirtualService'],
        ['workload', 'delete', 'w1'],
      ]);
      expect(all.changes[0]!.revision).toBe(r1.revision);
      expect(all.changes[1]!.revision).toBe(r1.revision);
      expect(all.changes[2]!.revision).toBe(r2.revision);
      expect(all.changes[3]!.revision).toBe(r3.revision);
      const put = all.changes[0]!;
      expect(put.type === 'resource' && put.op === 'put' && put.resource.metadata.resourceVersion).toBe(String(r1.revision));
      const wput = all.changes[2]!;
      expect(wput.type === 'workload' && wput.op === 'put' && wput.workload).toMatchObject({ ...wl('w1'), lastHeartbeatMs: 1_000, revision: r2.revision });
      // Resume (Last-Event-ID): only what came after.
      const tail = await store.changesSince(r2.revision);
      expect(tail.changes.map((c) => c.revision)).toEqual([r3.revision, all.revision]);
      expect((await store.changesSince(all.revision)).changes).toEqual([]);
      await rejects(store.changesSince(-1));
      await store.close();
    });

    it('keeps a bounded history and says compacted below it', async () => {
      const { store } = await fresh({ historyRevisions: 2 });
      const start = await store.revision();
      for (let i = 0; i < 5; i++) await store.applyBatch([vs('a', `h${i}`)]);
      const err = await rejects(store.changesSince(start));
      expect(err.reason).toBe('compacted');
      expect(err.compactedRevision).toBeGreaterThan(start);
      const kept = await store.changesSince(err.compactedRevision!);
      expect(kept.changes.length).toBeGreaterThan(0);
      expect(kept.changes.length).toBeLessThanOrEqual(2);
      expect(kept.changes.at(-1)!.revision).toBe(await store.revision());
      await store.close();
    });

    it('registers workloads; heartbeats move lastHeartbeat without a revision; delete removes them', async () => {
      const { store } = await fresh();
      const a = await store.upsertWorkload(wl('w1'), 1_000);
      expect(a.status).toBe('created');
      const same = await store.upsertWorkload(wl('w1'), 2_000);
      expect(same).toEqual({ revision: a.revision, status: 'unchanged' });
      expect(await store.heartbeat('w1', 3_000)).toBe(true);
      expect(await store.heartbeat('w1', 2_500)).toBe(true); // late, out of order: never moves back
      expect(await store.heartbeat('ghost', 3_000)).toBe(false);
      expect(await store.revision()).toBe(a.revision);
      expect(await store.listWorkloads()).toEqual([{ ...wl('w1'), lastHeartbeatMs: 3_000, revision: a.revision }]);
      expect(await store.getWorkload('w1')).toEqual({ ...wl('w1'), lastHeartbeatMs: 3_000, revision: a.revision });
      expect(await store.getWorkload('ghost')).toBeUndefined();
      const moved = await store.upsertWorkload(wl('w1', { labels: { app: 'reviews', version: 'v2' }, group: 'reviews-v2' }), 4_000);
      expect(moved.status).toBe('configured');
      expect(moved.revision).toBeGreaterThan(a.revision);
      await store.upsertWorkload(wl('w0', { address: '10.0.0.2' }), 4_000);
      expect((await store.listWorkloads()).map((w) => [w.id, w.group, w.labels.version])).toEqual([['w0', undefined, 'v1'], ['w1', 'reviews-v2', 'v2']]);
      expect(await store.deleteWorkload('w1')).toBe(true);
      expect(await store.deleteWorkload('w1')).toBe(false);
      expect((await store.listWorkloads()).map((w) => w.id)).toEqual(['w0']);
      await rejects(store.upsertWorkload({ ...wl('bad'), ports: { http: 70000 } }));
      await rejects(store.upsertWorkload({ ...wl('bad'), address: '' }));
      await store.close();
    });

    it('keeps join tokens by hash only, with scope and expiry', async () => {
      const { store } = await fresh();
      const { hashToken } = await import('../src/index.js');
      const hash = hashToken('mwj_secret-join-token');
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      await store.putToken({ hash, namespace: 'default', serviceAccount: 'reviews', expiresAtMs: 2_000, createdAtMs: 1_000 });
      expect(await store.findToken(hash)).toEqual({ hash, namespace: 'default', serviceAccount: 'reviews', expiresAtMs: 2_000, createdAtMs: 1_000 });
      expect(await store.findToken(hashToken('other'))).toBeUndefined();
      const err = await rejects(store.putToken({ hash: 'mwj_secret-join-token', namespace: 'default', serviceAccount: 'reviews', expiresAtMs: 2_000, createdAtMs: 1_000 }));
      expect(err.reason).toBe('invalid');
      expect(await store.deleteToken(hash)).toBe(true);
      expect(await store.deleteToken(hash)).toBe(false);
      expect(await store.findToken(hash)).toBeUndefined();
      await store.close();
    });

    it('records the latest ACK/NACK per workload and keeps the last good ACK', async () => {
      const { store } = await fresh();
      await store.upsertWorkload(wl('w1'), 0);
      await store.recordAck({ workload: 'w1', version: 'v-1', atMs: 100 });
      await store.recordAck({ workload: 'w2', version: 'v-1', atMs: 110 });
      await store.recordAck({ workload: 'w1', version: 'v-2', nack: 'bad regex in spec.http[0]', atMs: 200 });
      expect(await store.listAcks()).toEqual([
        { workload: 'w1', version: 'v-2', nack: 'bad regex in spec.http[0]', atMs: 200, ackedVersion: 'v-1', ackedAtMs: 100 },
        { workload: 'w2', version: 'v-1', atMs: 110, ackedVersion: 'v-1', ackedAtMs: 110 },
      ]);
      await store.recordAck({ workload: 'w1', version: 'v-3', atMs: 300 });
      expect((await store.listAcks())[0]).toEqual({ workload: 'w1', version: 'v-3', atMs: 300, ackedVersion: 'v-3', ackedAtMs: 300 });
      await store.deleteWorkload('w1');
      expect((await store.listAcks()).map((a) => a.workload)).toEqual(['w2']);
      await store.close();
    });

    it('reopening keeps everything', async (ctx) => {
      const { h, store } = await fresh({ historyRevisions: 100 });
      if (!h.shared) {
        await store.close();
        ctx.skip();
      }
      const { hashToken } = await import('../src/index.js');
      await store.applyBatch([vs('a'), dr('b')]);
      await store.upsertWorkload(wl('w1'), 5);
      await store.heartbeat('w1', 6);
      await store.putToken({ hash: hashToken('t'), namespace: 'ns', serviceAccount: 'sa', expiresAtMs: 9, createdAtMs: 1 });
      await store.recordAck({ workload: 'w1', version: 'v', atMs: 7 });
      const before = { rev: await store.revision(), list: await store.list(), wls: await store.listWorkloads(), acks: await store.listAcks(), feed: await store.changesSince(0).catch(() => undefined) };
      await store.close();
      const again = await h.open({ historyRevisions: 100 });
      expect(await again.revision()).toBe(before.rev);
      expect(await again.list()).toEqual(before.list);
      expect(await again.listWorkloads()).toEqual(before.wls);
      expect(await again.listAcks()).toEqual(before.acks);
      expect(await again.findToken(hashToken('t'))).toMatchObject({ namespace: 'ns', serviceAccount: 'sa' });
      expect(await again.changesSince(0).catch(() => undefined)).toEqual(before.feed);
      const next = await again.applyBatch([vs('c')]);
      expect(next.revision).toBeGreaterThan(before.rev);
      await again.close();
    });
  });
}
