/**
 * An invalid apply leaves the previous configuration serving. A control service (HTTPS, its
 * own CA, the hub polling every 200 ms) serves a valid config to two watchers: a raw SSE
 * stream opened here with node:https, and an SDK workload (@meshwork/core's Mesh with
 * controlUrl). Then a batch with one bad document among good ones that would change the
 * routing: 400 with file:line diagnostics, nothing stored, no new snapshot version on the
 * stream for many poll intervals, and the workload still routes by the old config. Finally
 * the good documents alone: the stream and the workload take them within seconds, which
 * shows they were listening all along.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlService, type ControlService } from '@meshwork/control';
import { Mesh } from '@meshwork/core';
import { waitFor } from './support.js';

const ADMIN = 'invalid-apply-admin-token-0123456789';
const POLL_MS = 200;
/** No event may come for this long after the refused apply: 15 poll intervals, and several hub rebuilds. */
const QUIET_MS = 15 * POLL_MS;

const BASE = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: productpage, namespace: shop }
spec:
  metadata: { labels: { app: productpage } }
  template: { serviceAccount: productpage }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;

const routeTo = (subset: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: ${subset} }
`;

/** The new routing (good), a bad VirtualService in the middle, and a new Service (good). */
const BATCH = `${routeTo('v2')}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings
  namespace: shop
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: { host: ratings }
      weight: -5
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: shop }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
`;

interface Event {
  at: number;
  id: string | undefined;
  event: string;
  data: string;
}

interface Api {
  status: number;
  body: any;
}

let dir: string;
let control: ControlService;
let ca: string;
let token: string;
let mesh: Mesh;
const events: Event[] = [];
let stream: { close(): void } | undefined;

function api(method: string, path: string, body?: string, type = 'application/json', auth = ADMIN): Promise<Api> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(path, control.url), { method, ca, agent: false, headers: { authorization: `Bearer ${auth}`, ...(body !== undefined ? { 'content-type': type } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A server-sent-events stream parsed by hand (the WHATWG rules this server uses: `id:`, `event:`, `data:`, `:` comments, blank line ends an event). */
function watch(id: string, onEvent: (e: Event) => void): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(`/v1/workloads/${encodeURIComponent(id)}:watch`, control.url), { ca, agent: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`watch answered ${res.statusCode}`));
        return;
      }
      let buffer = '';
      let current: Partial<Event> = {};
      let data: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data.length > 0) onEvent({ at: Date.now(), id: current.id, event: current.event ?? 'message', data: data.join('\n') });
            current = {};
            data = [];
          } else if (line.startsWith(':')) {
            // comment (heartbeat)
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'data') data.push(value);
            else if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
          }
        }
      });
      resolve({ close: () => req.destroy() });
    });
    req.on('error', (e) => (stream ? undefined : reject(e)));
    req.end();
  });
}

const snapshots = (): Event[] => events.filter((e) => e.event === 'snapshot');
const subsetNow = (): string | null | undefined =>
  mesh.decide({ method: 'GET', scheme: 'http', authority: 'reviews:9080', port: 9080, target: '/', headers: {} }).destinations[0]?.subset;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshwork-invalid-apply-'));
  // A long heartbeat TTL: the raw watcher's workload never heartbeats, and health changes would be new versions.
  control = await startControlService({ dataDir: join(dir, 'data'), port: 0, adminToken: ADMIN, pollIntervalMs: POLL_MS, heartbeatTtlMs: 600_000, rateLimit: false });
  ca = readFileSync(control.rootCertPath, 'utf8');
  expect((await api('POST', '/v1/resources:apply', `${BASE}---\n${routeTo('v1')}`, 'application/yaml')).status).toBe(200);
  const t = await api('POST', '/v1/tokens', JSON.stringify({ namespace: 'shop', serviceAccount: 'productpage' }));
  token = t.body.token;

  // Watcher 1: a raw stream for a workload registered here.
  const reg = await api('POST', '/v1/workloads:register', JSON.stringify({ group: 'shop/productpage', address: '10.0.0.50' }), 'application/json', token);
  expect(reg.status).toBe(200);
  stream = await watch(reg.body.id, (e) => events.push(e));
  // Watcher 2: the SDK.
  mesh = new Mesh({
    controlUrl: control.url,
    token,
    controlCa: control.rootCertPath,
    cacheDir: join(dir, 'cache'),
    control: { group: 'shop/productpage', address: '127.0.0.1', heartbeatMs: 1000 },
    onControlError: () => {},
  });
  await mesh.ready(20_000);
});

afterAll(async () => {
  stream?.close();
  await mesh?.close();
  await control?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an invalid apply', () => {
  it('is refused whole (400, file:line), stores nothing, pushes no new version, and the workload keeps routing by the old config', async () => {
    // Settled: the SDK's own registration changed the registry, so wait until the stream and the SDK hold the same, current version.
    const first = await waitFor('the stream and the SDK on the same version', async () => {
      const last = snapshots().at(-1);
      const current = (await api('GET', '/v1/status?namespace=shop')).body.items[0]?.currentVersion;
      return last && last.id === current && mesh.controlStatus()!.version === current ? last : undefined;
    }, 10_000);
    expect(subsetNow()).toBe('v1');
    const before = await api('GET', '/v1/resources');
    const vsBefore = await api('GET', '/v1/resources/VirtualService/shop/reviews');
    const sdkVersion = mesh.controlStatus()!.version;
    expect(sdkVersion).toBe(first.id);

    const refused = await api('POST', '/v1/resources:apply?file=change.yaml', BATCH, 'application/yaml');
    const refusedAt = Date.now();
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid');
    const lines = BATCH.split('\n');
    const weightLine = lines.indexOf('      weight: -5') + 1;
    expect(refused.body.diagnostics.length).toBeGreaterThan(0);
    const d = refused.body.diagnostics[0];
    expect(d).toMatchObject({ file: 'change.yaml', line: weightLine, resource: 'VirtualService/shop/ratings', severity: 'error' });
    expect(d.message).toMatch(/weight/);
    for (const x of refused.body.diagnostics) expect(x.message).not.toMatch(/\n/);

    // Nothing stored: same revision, same objects, the good documents of the batch absent.
    const after = await api('GET', '/v1/resources');
    expect(after.body.revision).toBe(before.body.revision);
    expect(after.body.items).toEqual(before.body.items);
    expect((await api('GET', '/v1/resources/VirtualService/shop/reviews')).body).toEqual(vsBefore.body);
    expect((await api('GET', '/v1/resources/Service/shop/ratings')).status).toBe(404);

    // No new version for QUIET_MS (15 poll intervals: the hub rebuilt many times meanwhile).
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const late = events.filter((e) => e.at >= refusedAt && e.event !== 'unchanged');
    expect(late).toEqual([]);
    expect(snapshots().at(-1)).toBe(first);
    const status = await api('GET', '/v1/status?namespace=shop');
    expect(status.body.revision).toBe(before.body.revision);
    for (const item of status.body.items) expect(item.currentVersion).toBe(first.id);

    // The workload still routes by the old config.
    expect(mesh.controlStatus()!.version).toBe(sdkVersion);
    expect(subsetNow()).toBe('v1');

    // The good part alone goes through, and both watchers take it: they were listening.
    const good = `${routeTo('v2')}---\napiVersion: v1\nkind: Service\nmetadata: { name: ratings, namespace: shop }\nspec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }\n`;
    const applied = await api('POST', '/v1/resources:apply', good, 'application/yaml');
    expect(applied.status).toBe(200);
    const appliedAt = Date.now();
    const next = await waitFor('a new snapshot on the stream', () => snapshots().slice(snapshots().indexOf(first) + 1)[0], 10_000);
    expect(JSON.parse(next.data).revision).toBe(applied.body.revision);
    await waitFor('the SDK routing by the new config', () => (subsetNow() === 'v2' ? true : undefined), 10_000);
    console.log(`invalid apply: no event for ${QUIET_MS} ms after the refusal (poll every ${POLL_MS} ms); the next valid apply reached the stream in ${Math.max(0, next.at - appliedAt)} ms`);
  });
});
