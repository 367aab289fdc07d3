/**
 * The watch stream with snapshots larger than one write: events arrive whole and in order,
 * a slow reader gets the newest version once it reads again (not a backlog), and heartbeat
 * comments never land inside an event.
 */
import http from 'node:http';
import { inflateRawSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createControlServer, openSqliteStore, SnapshotHub } from '../src/index.js';
import { ADMIN, call, json } from './support.js';

interface Event {
  id: string | undefined;
  event: string;
  data: string;
}

/** An SSE reader over node:http that can stop reading (so the server sees backpressure). */
function watch(base: string, id: string, extraHeaders: Record<string, string> = {}): { events: Event[]; comments: number; res: Promise<http.IncomingMessage> } {
  const out = { events: [] as Event[], comments: 0, res: undefined as unknown as Promise<http.IncomingMessage> };
  out.res = new Promise((resolve, reject) => {
    const req = http.get(`${base}/v1/workloads/${encodeURIComponent(id)}:watch`, { headers: { authorization: `Bearer ${ADMIN}`, ...extraHeaders } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const e: Event = { id: undefined, event: 'message', data: '' };
          let fields = 0;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) out.comments++;
            else if (line.startsWith('id: ')) (e.id = line.slice(4)), fields++;
            else if (line.startsWith('event: ')) (e.event = line.slice(7)), fields++;
            else if (line.startsWith('data: ')) (e.data = line.slice(6)), fields++;
          }
          if (fields > 0) out.events.push(e);
        }
      });
      resolve(res);
    });
    req.on('error', reject);
    onTestFinished(() => req.destroy());
  });
  return out;
}

const until = async (what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('watch stream', () => {
  it('sends snapshots of several hundred KB whole, the newest to a slow reader, and no heartbeat inside an event', async () => {
    const store = await openSqliteStore({ dataDir: ':memory:' });
    const hub = new SnapshotHub({ store, heartbeatTtlMs: 60_000, now: Date.now, pollIntervalMs: 0 });
    // A heartbeat comment every millisecond: it would land inside an event if it could.
    const server = createControlServer({ store, adminToken: ADMIN, hub, heartbeatTtlMs: 60_000, watchHeartbeatMs: 1 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(async () => {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const apply = (marker: string) => call(base, 'POST', '/v1/resources:apply', json({
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'big', namespace: 'shop' },
      spec: { hosts: ['big'], http: [{ route: [{ destination: { host: 'big' } }], headers: { response: { set: { marker } } } }] },
    }));
    // About 2,000 WorkloadEntries: a snapshot of several hundred KB, many writes' worth.
    for (let i = 0; i < 2000; i++) {
      await store.upsertWorkload({ id: `shop/w-${i}`, namespace: 'shop', name: `w-${i}`, address: `10.0.${i >> 8}.${i & 255}`, ports: { http: 8080 }, labels: { app: 'w', index: String(i) }, serviceAccount: 'default', locality: '' }, Date.now());
    }
    await apply('v1');

    const w = watch(base, 'shop/w-0');
    const res = await w.res;
    await until('the first snapshot', () => w.events.some((e) => e.event === 'snapshot'));
    const first = w.events.find((e) => e.event === 'snapshot')!;
    expect(first.data.length).toBeGreaterThan(300_000);
    expect(JSON.parse(first.data).version).toBe(first.id);

    // A slow reader: stop reading, push 30 versions (far more than the socket buffers hold), read again.
    res.pause();
    const pushed = [first.id];
    for (let i = 2; i <= 31; i++) {
      await apply(`v${i}`);
      await hub.refresh();
      pushed.push((await hub.snapshotFor('shop')).snapshot.version);
    }
    res.resume();
    await until('the newest version', () => w.events.at(-1)?.id === pushed.at(-1));

    const snapshots = w.events.filter((e) => e.event === 'snapshot');
    for (const e of snapshots) {
      const s = JSON.parse(e.data); // whole: a heartbeat inside would break the JSON
      expect(s.version).toBe(e.id);
    }
    // In the order pushed, and not a backlog: versions pushed while the reader was stuck were skipped.
    const order = snapshots.map((e) => pushed.indexOf(e.id!));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(snapshots.length).toBeLessThan(pushed.length);
    expect(w.comments).toBeGreaterThan(0);

    // Asked for (as the SDK asks), the same snapshot comes compressed: the JSON, byte for byte, in a tenth of the size.
    const z = watch(base, 'shop/w-1', { 'x-meshwork-snapshot-encoding': 'deflate' });
    await z.res;
    await until('the compressed snapshot', () => z.events.some((e) => e.event === 'snapshot-deflate'));
    const packed = z.events.find((e) => e.event === 'snapshot-deflate')!;
    const wrapper = JSON.parse(packed.data) as { version: string; revision: number; encoding: string; data: string };
    expect(wrapper).toMatchObject({ version: pushed.at(-1), encoding: 'deflate' });
    expect(packed.id).toBe(wrapper.version);
    const plain = w.events.at(-1)!;
    expect(plain.id).toBe(wrapper.version);
    expect(inflateRawSync(Buffer.from(wrapper.data, 'base64')).toString('utf8')).toBe(plain.data);
    expect(wrapper.revision).toBe(JSON.parse(plain.data).revision);
    expect(packed.data.length).toBeLessThan(plain.data.length / 8);
  });
});
