/**
 * Three meshed services in this process, calling each other over real sockets as Bookinfo does:
 * an unmeshed client → productpage → reviews → ratings. Each has its own Mesh (with telemetry
 * into its own prom-client registry: reporter="source" from the fetch dispatcher,
 * reporter="destination" from the server pipeline), certificate, inbound server and metrics port,
 * served like a sidecar's merged /stats/prometheus. The traffic is known in advance:
 *
 * - ratings waits `ratingsDelayMs`, then answers 503 to every `failEvery`-th request, else 200;
 * - reviews waits `reviewsDelayMs`, calls ratings and passes its status on;
 * - productpage calls reviews and always answers 200 (it degrades, as Bookinfo's does).
 *
 * productpage → reviews goes over auto-mTLS (the endpoint's service account); reviews → ratings
 * in plaintext (DestinationRule `tls: {mode: DISABLE}`), so that both the mTLS and the plaintext
 * variants of the dashboards' panels have traffic. Retries are off (VirtualService
 * `retries: {attempts: 0}`) so each request is one attempt and both reporters count the same
 * requests.
 */
import http from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { Agent, request } from 'undici';
import { Registry } from 'prom-client';
import { Mesh } from '@meshwork/core';
import { createMeshDispatcher, type MeshDispatcher } from '@meshwork/fetch';
import { CertificateAuthority, createCaIdentitySource, type CaIdentitySource } from '@meshwork/identity';
import { createInbound, createMeshServer, type MeshServer } from '@meshwork/server';
import { meshMetricsHandler } from '@meshwork/telemetry';

export const NAMESPACE = 'default';
export const TRUST_DOMAIN = 'cluster.local';
export const SERVICE_NAMES = ['productpage', 'reviews', 'ratings'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The hop into this service is plaintext; the other meshed hop is mTLS. */
export const PLAINTEXT_SERVICE: ServiceName = 'ratings';

export interface ChainOptions {
  ratingsDelayMs: number;
  reviewsDelayMs: number;
  /** ratings answers 503 to requests whose index i has i % failEvery === failEvery - 1. */
  failEvery: number;
}

export interface ChainService {
  name: ServiceName;
  /** `reviews-v1`. */
  workload: string;
  /** `reviews.default.svc.cluster.local`. */
  host: string;
  /** The SPIFFE ID in its certificate. */
  principal: string;
  mesh: Mesh;
  registry: Registry;
  port: number;
  metricsPort: number;
}

export interface TrafficRun {
  /** Requests sent by the unmeshed client to productpage. */
  sent: number;
  /** Seconds since the epoch of the first and the last request sent. */
  firstSentAt: number;
  lastSentAt: number;
  /** productpage's answers (always 200 unless something broke). */
  statuses: Record<number, number>;
  /**
   * The slowest request into each service as its caller timed it (request sent to body read),
   * after the first `WARM_UP_MS` of the run (connection set-up, cold code; outside any query
   * window): an upper bound of what either side's telemetry measured for that hop.
   */
  slowestMs: Record<ServiceName, number>;
}

export interface BookinfoChain {
  services: Record<ServiceName, ChainService>;
  /** Sends `ratePerSecond` requests a second to productpage for `durationMs`, on a fixed schedule. */
  drive(ratePerSecond: number, durationMs: number): Promise<TrafficRun>;
  close(): Promise<void>;
}

const PORT = 9080;
export const WARM_UP_MS = 2000;
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function send(res: http.ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The Services, their one endpoint each (a WorkloadEntry with its service account: auto-mTLS), no retries. */
function meshConfig(ports: Record<ServiceName, number>): string {
  const plaintext = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${PLAINTEXT_SERVICE}, namespace: ${NAMESPACE}}
spec: {host: ${PLAINTEXT_SERVICE}, trafficPolicy: {tls: {mode: DISABLE}}}
`;
  return [plaintext, ...SERVICE_NAMES.map((s) => `apiVersion: v1
kind: Service
metadata: {name: ${s}, namespace: ${NAMESPACE}, labels: {app: ${s}, service: ${s}}}
spec: {selector: {app: ${s}}, ports: [{name: http, port: ${PORT}}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${s}-v1, namespace: ${NAMESPACE}}
spec: {address: 127.0.0.1, ports: {http: ${ports[s]}}, labels: {app: ${s}, version: v1}, serviceAccount: bookinfo-${s}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${s}, namespace: ${NAMESPACE}}
spec:
  hosts: [${s}]
  http:
  - route: [{destination: {host: ${s}}}]
    retries: {attempts: 0}
`)].join('---\n');
}

export async function startBookinfoChain(o: ChainOptions): Promise<BookinfoChain> {
  const ca = await CertificateAuthority.selfSigned({ trustDomain: TRUST_DOMAIN });
  const closers: (() => Promise<void> | void)[] = [];
  const services = {} as Record<ServiceName, ChainService>;
  const dispatchers = {} as Record<ServiceName, MeshDispatcher>;
  const slowestMs: Record<ServiceName, number> = { productpage: 0, reviews: 0, ratings: 0 };
  let timeFrom = Infinity; // performance.now() after which requests are timed
  const timed = async <T>(to: ServiceName, call: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await call();
    } finally {
      if (start >= timeFrom) slowestMs[to] = Math.max(slowestMs[to], performance.now() - start);
    }
  };
  const get = (from: ServiceName, to: ServiceName, url: string) =>
    timed(to, async () => {
      const res = await request(url, { dispatcher: dispatchers[from] });
      return { status: res.statusCode, body: await res.body.text() };
    });
  const listen = (server: Server) => new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));

  const handlers: Record<ServiceName, Handler> = {
    ratings: (req, res) => {
      const i = Number(req.url?.split('/').pop() ?? 0);
      setTimeout(() => {
        if (i % o.failEvery === o.failEvery - 1) send(res, 503, 'ratings unavailable', 'text/plain');
        else send(res, 200, JSON.stringify({ id: i, ratings: { Reviewer1: 5, Reviewer2: 4 } }));
      }, o.ratingsDelayMs);
    },
    reviews: (req, res) => {
      const i = Number(req.url?.split('/').pop() ?? 0);
      setTimeout(() => {
        get('reviews', 'ratings', `http://ratings:${PORT}/ratings/${i}`).then(
            (r) => send(res, r.status === 200 ? 200 : 503, r.status === 200 ? JSON.stringify({ id: i, reviews: [{ reviewer: 'Reviewer1', rating: JSON.parse(r.body) }] }) : 'ratings unavailable', r.status === 200 ? 'application/json' : 'text/plain'),
            () => send(res, 503, 'ratings unreachable', 'text/plain'),
          );
      }, o.reviewsDelayMs);
    },
    productpage: (req, res) => {
      const i = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('i') ?? 0);
      get('productpage', 'reviews', `http://reviews:${PORT}/reviews/${i}`).then(
          (r) => send(res, 200, `<html><body>product ${i}: ${r.status === 200 ? r.body : 'Sorry, product reviews are currently unavailable for this book.'}</body></html>`, 'text/html'),
          () => send(res, 200, `<html><body>product ${i}: reviews unreachable</body></html>`, 'text/html'),
        );
    },
  };

  try {
    for (const name of SERVICE_NAMES) {
      const sa = `bookinfo-${name}`;
      const principal = `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${sa}`;
      const workload = `${name}-v1`;
      const identity: CaIdentitySource = await createCaIdentitySource({ signer: ca, spiffeId: principal });
      closers.push(() => identity.close());
      // Each service its own registry, served on its own port like a sidecar's merged metrics.
      const registry = new Registry();
      const mesh = new Mesh({ workload: { namespace: NAMESPACE, labels: { app: name, version: 'v1' }, serviceAccount: sa, name: workload }, configYaml: '', identity, telemetry: { registry } });
      closers.push(() => mesh.close());
      if (!mesh.telemetry?.metrics) throw new Error(`${name}: the Mesh records no metrics (telemetry option missing or refused by the registry)`);
      const dispatcher = createMeshDispatcher({ mesh });
      closers.push(() => dispatcher.close());
      dispatchers[name] = dispatcher;
      const inbound = createInbound({ mesh });
      closers.push(() => inbound.close());
      const server: MeshServer = createMeshServer(handlers[name], { inbound, identity });
      const port = await listen(server);
      closers.push(() => new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }));
      const metricsServer = http.createServer(meshMetricsHandler(registry));
      const metricsPort = await listen(metricsServer);
      closers.push(() => new Promise<void>((r) => {
        metricsServer.closeAllConnections();
        metricsServer.close(() => r());
      }));
      services[name] = { name, workload, host: `${name}.${NAMESPACE}.svc.${TRUST_DOMAIN}`, principal, mesh, registry, port, metricsPort };
    }
    const yaml = meshConfig({ productpage: services.productpage.port, reviews: services.reviews.port, ratings: services.ratings.port });
    for (const s of Object.values(services)) {
      const r = s.mesh.configure({ configYaml: yaml });
      if (!r.applied) throw new Error(`${s.name}: config rejected: ${JSON.stringify(r.diagnostics)}`);
    }
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }

  const client = new Agent();
  closers.push(() => client.close());

  return {
    services,
    async drive(ratePerSecond, durationMs) {
      const n = Math.round((ratePerSecond * durationMs) / 1000);
      const statuses: Record<number, number> = {};
      for (const k of SERVICE_NAMES) slowestMs[k] = 0;
      const pending: Promise<void>[] = [];
      const t0 = performance.now();
      timeFrom = t0 + WARM_UP_MS;
      const first = Date.now() / 1000;
      let last = first;
      for (let i = 0; i < n; i++) {
        // A fixed schedule, not a fixed gap: a late timer is caught up, so the rate holds.
        const wait = t0 + (i * 1000) / ratePerSecond - performance.now();
        if (wait > 0) await sleep(wait);
        last = Date.now() / 1000;
        pending.push(
          timed('productpage', async () => {
            const r = await request(`http://127.0.0.1:${services.productpage.port}/productpage?i=${i}`, { dispatcher: client });
            await r.body.dump();
            return r.statusCode;
          }).then(
            (status) => {
              statuses[status] = (statuses[status] ?? 0) + 1;
            },
            () => {
              statuses[0] = (statuses[0] ?? 0) + 1;
            },
          ),
        );
      }
      await Promise.all(pending);
      return { sent: n, firstSentAt: first, lastSentAt: last, statuses, slowestMs: { ...slowestMs } };
    },
    async close() {
      for (const c of closers.reverse()) await c();
    },
  };
}
