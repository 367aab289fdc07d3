/**
 * The SDK side of the control protocol against a small control service written here on
 * node:http (a real server on 127.0.0.1; the real one lives in @meshwork/control, which core
 * may not import): NACK of a snapshot the workload cannot compile while the last good one
 * keeps serving, `unchanged` answered with an ACK, resume with Last-Event-ID, re-registration
 * after a 404 heartbeat, and a refusal reported once per attempt without crashing anything.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority, verifyCsr } from '@meshwork/identity';
import type { WireSnapshot } from '@meshwork/policy';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Mesh } from '../src/index.js';

const SERVICE = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'shop' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } };
const entry = (address: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: `reviews-${address}`, namespace: 'shop' }, spec: { address, ports: { http: 9080 }, labels: { app: 'reviews' }, serviceAccount: 'reviews' } });

let ca: CertificateAuthority;
beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned();
});

const snapshot = (version: string, resources: unknown[]): WireSnapshot => ({
  apiVersion: 'meshwork.dev/v1', kind: 'Snapshot', version, revision: 1, namespace: 'shop', mesh: {}, resources: resources as WireSnapshot['resources'], trustBundle: [...ca.rootsPem],
});

/** A control service with just enough of API v1, recording what the SDK sent. */
class FakeControl {
  server!: Server;
  url = '';
  acks: Array<{ version: string; error?: string }> = [];
  registrations = 0;
  heartbeatStatus = 200;
  lastEventIds: Array<string | undefined> = [];
  registerStatus = 200;
  lastRegistration: any;
  signStatus = 200;
  watches = 0;
  private streams = new Set<ServerResponse>();
  current: WireSnapshot = snapshot('v1', [SERVICE, entry('10.0.0.1')]);

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  push(s: WireSnapshot): void {
    this.current = s;
    for (const res of this.streams) res.write(`id: ${s.version}\nevent: snapshot\ndata: ${JSON.stringify(s)}\n\n`);
  }

  dropStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
  }

  async close(): Promise<void> {
    this.dropStreams();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async body(req: IncomingMessage): Promise<any> {
    let text = '';
    for await (const c of req) text += c;
    return text ? JSON.parse(text) : undefined;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    if (req.headers.authorization !== 'Bearer mwj_test') return this.json(res, 401, { error: 'unauthenticated', message: 'the bearer token is not valid' });
    if (url === '/v1/workloads:register') {
      const b = await this.body(req);
      this.lastRegistration = b;
      this.registrations++;
      if (this.registerStatus !== 200) return this.json(res, this.registerStatus, { error: 'not_found', message: `WorkloadGroup ${b.group} does not exist` });
      return this.json(res, 200, { id: `shop/${b.name}`, revision: 1, workload: { namespace: 'shop', name: b.name, serviceAccount: 'productpage', labels: { app: 'productpage' } } });
    }
    if (url.endsWith(':heartbeat')) return this.json(res, this.heartbeatStatus, { error: 'not_found', message: 'not registered' });
    if (url.endsWith(':ack')) {
      this.acks.push(await this.body(req));
      return this.json(res, 200, {});
    }
    if (url === '/v1/certificates:sign') {
      const b = await this.body(req);
      if (this.signStatus !== 200) return this.json(res, this.signStatus, { error: 'unavailable', message: 'the CA is busy' });
      const csr = await verifyCsr(b.csr);
      const signed = await ca.sign(b.csr, { spiffeId: csr.requestedUris[0]! });
      return this.json(res, 200, { certChain: [signed.certChainPem], trustBundle: [...ca.rootsPem], notAfter: signed.notAfter.toISOString() });
    }
    if (url.endsWith(':watch')) {
      const last = req.headers['last-event-id'] as string | undefined;
      this.lastEventIds.push(last);
      this.watches++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 1000\n\n');
      if (last === this.current.version) res.write(`id: ${last}\nevent: unchanged\ndata: {"version":"${last}"}\n\n`);
      else res.write(`id: ${this.current.version}\nevent: snapshot\ndata: ${JSON.stringify(this.current)}\n\n`);
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    if (req.method === 'DELETE') return this.json(res, 200, {});
    this.json(res, 404, { error: 'not_found', message: url });
  }
}

let control: FakeControl | undefined;
let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close();
  await control?.close();
  mesh = undefined;
  control = undefined;
});

async function connect(o: { onControlError?: (m: string) => void; heartbeatMs?: number } = {}): Promise<Mesh> {
  control = new FakeControl();
  await control.start();
  mesh = new Mesh({ controlUrl: control.url, token: 'mwj_test', workload: { namespace: 'shop', name: 'productpage' }, onControlError: o.onControlError ?? (() => {}), control: { heartbeatMs: o.heartbeatMs, backoff: { initialMs: 10, maxMs: 20 } } });
  await mesh.ready(5000);
  return mesh;
}

const endpoints = (m: Mesh) => m.snapshot.services.find((s) => s.name === 'reviews')?.endpoints.map((e) => e.address) ?? [];

describe('the control client', () => {
  it('applies and ACKs a snapshot, NACKs one it cannot compile and keeps the last good one', async () => {
    const m = await connect();
    expect(m.workload).toMatchObject({ namespace: 'shop', serviceAccount: 'productpage', labels: { app: 'productpage' } });
    expect(m.identity!.current().spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/productpage');
    expect(endpoints(m)).toEqual(['10.0.0.1']);
    await vi.waitFor(() => expect(control!.acks).toEqual([{ version: 'v1' }]));

    // A VirtualService the workload's validator rejects (a timeout that is no duration), as a
    // newer or broken control service might send.
    const bad = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'shop' }, spec: { hosts: ['reviews'], http: [{ timeout: 'ten seconds', route: [{ destination: { host: 'reviews' } }] }] } };
    control!.push(snapshot('v2', [SERVICE, entry('10.0.0.2'), bad]));
    await vi.waitFor(() => expect(control!.acks.at(-1)?.version).toBe('v2'));
    expect(control!.acks.at(-1)!.error).toMatch(/timeout/);
    expect(endpoints(m)).toEqual(['10.0.0.1']); // the last good snapshot serves
    expect(m.controlStatus()).toMatchObject({ version: 'v1', source: 'control' });

    control!.push(snapshot('v3', [SERVICE, entry('10.0.0.3')]));
    await vi.waitFor(() => expect(control!.acks.at(-1)).toEqual({ version: 'v3' }));
    expect(endpoints(m)).toEqual(['10.0.0.3']);
  });

  it('resumes with Last-Event-ID and ACKs an unchanged version after a reconnect', async () => {
    const m = await connect();
    await vi.waitFor(() => expect(control!.acks).toHaveLength(1));
    control!.dropStreams();
    await vi.waitFor(() => expect(control!.lastEventIds).toEqual([undefined, 'v1']));
    await vi.waitFor(() => expect(control!.acks).toEqual([{ version: 'v1' }, { version: 'v1' }]));
    expect(m.controlStatus()!.connected).toBe(true);
  });

  it('registers again when a heartbeat finds it forgotten', async () => {
    await connect({ heartbeatMs: 20 });
    expect(control!.registrations).toBe(1);
    control!.heartbeatStatus = 404;
    await vi.waitFor(() => expect(control!.registrations).toBeGreaterThanOrEqual(2));
  });

  it('reports a refusal and keeps trying without throwing into the application', async () => {
    control = new FakeControl();
    await control.start();
    control.registerStatus = 404;
    const errors: string[] = [];
    mesh = new Mesh({ controlUrl: control.url, token: 'mwj_test', workload: { namespace: 'shop', name: 'nope' }, onControlError: (e) => errors.push(e) });
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(1));
    expect(errors[0]).toMatch(/WorkloadGroup shop\/nope does not exist/);
    expect(errors[0]).not.toMatch(/mwj_test/);
    expect(mesh.isReady).toBe(false);
    await expect(mesh.ready(50)).rejects.toThrow(/WorkloadGroup shop\/nope/);
  });

  it('registers with the labels and service account it was started with (MESHWORK_LABELS, MESHWORK_SERVICE_ACCOUNT)', async () => {
    control = new FakeControl();
    await control.start();
    mesh = new Mesh({ controlUrl: control.url, token: 'mwj_test', workload: { namespace: 'shop', name: 'productpage', labels: { track: 'canary' }, serviceAccount: 'productpage' }, onControlError: () => {} });
    await mesh.ready(5000);
    expect(control.lastRegistration).toMatchObject({ group: 'shop/productpage', labels: { track: 'canary' }, serviceAccount: 'productpage' });
    expect(control.lastRegistration.name).toMatch(/^productpage-[0-9a-f]{6}$/);
  });

  it('retries a refused certificate on its own schedule, keeping its one watch stream', async () => {
    control = new FakeControl();
    await control.start();
    control.signStatus = 503;
    const errors: string[] = [];
    mesh = new Mesh({ controlUrl: control.url, token: 'mwj_test', workload: { namespace: 'shop', name: 'productpage' }, onControlError: (e) => errors.push(e) });
    await vi.waitFor(() => expect(errors.some((e) => /the CA is busy/.test(e))).toBe(true));
    expect(mesh.isReady).toBe(false);
    control.signStatus = 200;
    await mesh.ready(10_000);
    expect(mesh.identity!.current().spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/productpage');
    expect(control.watches).toBe(1);
  });

  it('refuses a controlUrl without a token, and controlUrl together with identity', () => {
    expect(() => new Mesh({ controlUrl: 'https://127.0.0.1:1', token: '' })).toThrow(/join token is required/);
    expect(() => new Mesh({ controlUrl: 'ftp://x', token: 't' })).toThrow(/https:\/\//);
  });
});
