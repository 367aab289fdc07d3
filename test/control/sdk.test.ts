/**
 * The SDK against a real control service (its own process, HTTPS with its own CA): a server
 * workload and a client workload register, get certificates signed for their own identity,
 * watch their namespace's snapshot, call each other over mTLS (STRICT), acknowledge every
 * version (status SYNCED), and take a config change pushed while they run. Then the control
 * service is killed for 20 s under steady load: no application request fails, a workload
 * restarted meanwhile serves from its disk cache, and both resync within a second of its
 * return.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mesh } from '@meshwork/core';
import { createMeshDispatcher, type MeshDispatcher } from '@meshwork/fetch';
import { createMeshServer, meshworkOf, type MeshServer } from '@meshwork/server';
import { api, applyYaml, joinToken, startControlProcess, waitFor, type ControlProcess } from './support.js';

const CONFIG = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: reviews-v1, namespace: shop }
spec:
  metadata: { labels: { app: reviews, version: v1 } }
  template: { serviceAccount: reviews }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: productpage, namespace: shop }
spec:
  metadata: { labels: { app: productpage } }
  template: { serviceAccount: productpage }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec: { mtls: { mode: STRICT } }
`;

const VS_HEADER = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews } }]
    headers: { response: { set: { x-config: pushed } } }
`;

let dir: string;
let control: ControlProcess;
let controlPort: number;
let reviewsToken: string;
let productpageToken: string;

interface Reviews {
  mesh: Mesh;
  server: MeshServer;
  port: number;
  close(): Promise<void>;
}

async function startReviews(port = 0): Promise<Reviews> {
  const mesh = new Mesh({
    controlUrl: control.url,
    token: reviewsToken,
    controlCa: control.rootCertPath,
    cacheDir: join(dir, 'cache-reviews'),
    control: { group: 'shop/reviews-v1', heartbeatMs: 1000 },
    onControlError: () => {},
  });
  const server = createMeshServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ principal: meshworkOf(req)?.principal ?? null }));
  }, { mesh });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    mesh,
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await mesh.close();
    },
  };
}

let reviews: Reviews;
let dispatcher: MeshDispatcher;

const status = async (): Promise<Record<string, any>> => {
  const r = await api(control, control.adminToken, 'GET', '/v1/status');
  return Object.fromEntries((r.body.items as any[]).map((i) => [i.id.split('/')[1].replace(/-[0-9a-f]{6}$/, ''), i]));
};

const call = async () => {
  const r = await request('http://reviews.shop:9080/', { dispatcher });
  return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as { principal: string | null } };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshwork-sdk-'));
  control = await startControlProcess(join(dir, 'data'));
  controlPort = control.port;
  await applyYaml(control, CONFIG);
  reviewsToken = await joinToken(control, 'shop', 'reviews');
  productpageToken = await joinToken(control, 'shop', 'productpage');
  reviews = await startReviews();
  dispatcher = createMeshDispatcher({
    controlUrl: control.url,
    token: productpageToken,
    controlCa: control.ca,
    cacheDir: join(dir, 'cache-productpage'),
    control: { group: 'shop/productpage', heartbeatMs: 1000 },
    onControlError: () => {},
  });
});

afterAll(async () => {
  await dispatcher?.close();
  await reviews?.close();
  await control?.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('a workload configured by the control service', () => {
  it('registers, gets a certificate for its own identity, and calls a STRICT mTLS server by its mesh name', async () => {
    const r = await call();
    expect(r.status).toBe(200);
    // The server saw the client's certificate: signed by the control CA for productpage's own identity.
    expect(r.body.principal).toBe('cluster.local/ns/shop/sa/productpage');
    expect(reviews.mesh.workload).toMatchObject({ namespace: 'shop', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } });
    expect(reviews.mesh.identity!.current().spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/reviews');
    const s = await waitFor('both workloads SYNCED', async () => {
      const st = await status();
      return st['reviews-v1']?.state === 'SYNCED' && st.productpage?.state === 'SYNCED' ? st : undefined;
    });
    expect(s['reviews-v1']).toMatchObject({ healthy: true, connected: true });
    // The cache holds the private key: owner-only files.
    expect(statSync(join(dir, 'cache-reviews', 'identity.json')).mode & 0o777).toBe(0o600);
  });

  it('takes a config change pushed while it runs, and acknowledges the new version', async () => {
    const before = (await status()).productpage.ackedVersion;
    await applyYaml(control, VS_HEADER);
    await waitFor('the pushed VirtualService in force', async () => ((await call()).headers['x-config'] === 'pushed' ? true : undefined));
    const s = await waitFor('the new version SYNCED', async () => {
      const st = await status();
      return st.productpage?.state === 'SYNCED' && st.productpage.ackedVersion !== before ? st : undefined;
    });
    expect(s.productpage.ackedVersion).toBe(s.productpage.currentVersion);
  });

  it('keeps serving while the control service is killed for 20 s, restarts a workload from its cache, and resyncs within a second of its return', async () => {
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    // Steady load: one request after another for the whole outage.
    const load = (async () => {
      while (running) {
        try {
          const r = await call();
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status}`);
        } catch (e) {
          failures.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    await new Promise((r) => setTimeout(r, 500));
    await control.kill('SIGKILL');
    const killedAt = Date.now();

    // A workload restarted during the outage serves from its cache, on its usual port.
    const port = reviews.port;
    await reviews.close();
    reviews = await startReviews(port);
    expect(reviews.mesh.controlStatus()).toMatchObject({ source: 'cache', connected: false });
    // ... as the same workload, under the same policy (the cache keeps who the registration made it).
    expect(reviews.mesh.workload).toMatchObject({ namespace: 'shop', serviceAccount: 'reviews', labels: { app: 'reviews', version: 'v1' } });
    expect(reviews.mesh.snapshot.inbound.peerAuthentication.mode).toBe('STRICT');

    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - killedAt))));
    control = await startControlProcess(join(dir, 'data'), controlPort);
    const back = Date.now();
    await waitFor('both workloads reconnected', () => (reviews.mesh.controlStatus()!.connected && dispatcher.mesh.controlStatus()!.connected ? true : undefined), 5000, 10);
    const resyncMs = Date.now() - back;
    const s = await waitFor('both SYNCED again', async () => {
      const st = await status();
      return st['reviews-v1']?.state === 'SYNCED' && st.productpage?.state === 'SYNCED' ? st : undefined;
    });
    running = false;
    await load;
    console.log(`control outage 20 s: ${ok} requests succeeded, ${failures.length} failed; resync ${resyncMs} ms after the control service returned`);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    // The client backs off at most 1 s (jittered 0.5-1 s), so this is about a second; the bound here
    // only catches a broken reconnect, the figure is printed above.
    expect(resyncMs).toBeLessThan(5000);
    expect(s['reviews-v1'].connected).toBe(true);
  }, 60_000);
});
