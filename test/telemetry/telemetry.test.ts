/**
 * Issue #7: both ends of a request report what an Istio sidecar reports. Four workloads in one
 * process, each with its own Mesh, registry, certificate and prom-client registry, over real
 * sockets on 127.0.0.1:
 *
 *   productpage (fetch only, no certificate) → reviews (createMeshServer, node:http)
 *     → ratings (Express, mTLS) → details (Fastify, mTLS)
 *
 * Checked: Istio's metrics from both reporters with the peer-metadata exchange in both
 * directions, response flags of local replies (UH, UO, UT, FI, NR) in metrics and access logs,
 * connection_security_policy, one trace across the services (and a B3-only caller joining it),
 * and the exchange headers never reaching an application or leaving the mesh.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import express from 'express';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Mesh, type RegistryService } from '@meshwork/core';
import { createMeshDispatcher, type MeshDispatcher } from '@meshwork/fetch';
import { CertificateAuthority, createCaIdentitySource, type CaIdentitySource } from '@meshwork/identity';
import { createInbound, createMeshServer, type MeshServer } from '@meshwork/server';
import { meshworkMiddleware } from '@meshwork/express';
import { meshServerFactory, meshworkPlugin } from '@meshwork/fastify';
import { memoryDestination } from '@meshwork/telemetry';

const TD = 'cluster.local';
const spiffe = (sa: string) => `spiffe://${TD}/ns/default/sa/${sa}`;
const EXCHANGE = ['x-envoy-peer-metadata', 'x-envoy-peer-metadata-id'];

// Every workload logs as Istio's default `envoy` provider does (text lines), switched on by a
// mesh-wide Telemetry resource, as in Istio.
const ACCESS_LOGS = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}]}]
`;

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

interface Workload {
  name: string;
  mesh: Mesh;
  registry: Registry;
  log: ReturnType<typeof memoryDestination>;
  dispatcher: MeshDispatcher;
  port: number;
  close(): Promise<void>;
}

/** What every handler answers: whether it saw exchange headers, its request id, the downstream answer. */
interface Echo {
  service: string;
  sawExchange: boolean;
  requestId: string | null;
  traceparent: string | null;
  downstream?: Echo | { status: number };
}

function sawExchange(req: http.IncomingMessage): boolean {
  // headersDistinct too: node:http builds it from rawHeaders, which lost the pair.
  return EXCHANGE.some((h) => req.headers[h] !== undefined || req.headersDistinct[h] !== undefined) || req.rawHeaders.some((h, i) => i % 2 === 0 && EXCHANGE.includes(h.toLowerCase()));
}

/** The workload's own Kubernetes Service (selecting it by label): the destination_service of its inbound requests. */
const ownService = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 9080}]}
`;

function meshFor(name: string, sa: string | undefined, identity: CaIdentitySource | undefined, registry: RegistryService[], yaml = ''): { mesh: Mesh; registry: Registry; log: ReturnType<typeof memoryDestination> } {
  const prom = new Registry();
  const log = memoryDestination();
  const mesh = new Mesh({
    workload: { namespace: 'default', labels: { app: name, version: 'v1' }, serviceAccount: sa, name: `${name}-v1` },
    registry, configYaml: `${ACCESS_LOGS}---\n${ownService(name)}${yaml ? `---\n${yaml}` : ''}`, identity, watch: false,
    telemetry: { registry: prom, accessLog: { destination: log } },
  });
  return { mesh, registry: prom, log };
}

/** Calls the next hop through this workload's dispatcher and returns its JSON (or status). */
async function callNext(d: MeshDispatcher, url: string): Promise<Echo | { status: number }> {
  const r = await request(url, { dispatcher: d });
  const text = await r.body.text();
  return r.statusCode === 200 ? (JSON.parse(text) as Echo) : { status: r.statusCode };
}

const endpoint = (port: number, app: string, sa: string) => ({ address: '127.0.0.1', port, labels: { app, version: 'v1' }, serviceAccount: sa });
const service = (name: string, port: number, app: string, sa: string): RegistryService => ({ name, ports: [{ name: 'http', port: 9080 }], endpoints: [endpoint(port, app, sa)] });

let ca: CertificateAuthority;
const identities: CaIdentitySource[] = [];
let details: Workload;
let ratings: Workload;
let reviews: Workload;
let productpage: Workload;
let plain: http.Server;
let plainPort = 0;
const plainSeen: http.IncomingHttpHeaders[] = [];

async function startDetails(identity: CaIdentitySource): Promise<Workload> {
  const { mesh, registry, log } = meshFor('details', 'details', identity, [], `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-denied, namespace: default}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/denied]}}]}]
`);
  const inbound = createInbound({ mesh });
  const app = Fastify({ serverFactory: meshServerFactory({ inbound, identity }) });
  await app.register(meshworkPlugin, { inbound });
  app.get('/slow', async () => {
    await new Promise((r) => setTimeout(r, 400));
    return { service: 'details', slow: true };
  });
  app.all('*', async (request): Promise<Echo> => ({
    service: 'details', sawExchange: sawExchange(request.raw), requestId: (request.headers['x-request-id'] as string) ?? null, traceparent: (request.headers.traceparent as string) ?? null,
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  const dispatcher = createMeshDispatcher({ mesh });
  return { name: 'details', mesh, registry, log, dispatcher, port, close: async () => { await app.close(); await dispatcher.close(); inbound.close(); await mesh.close(); } };
}

async function startRatings(identity: CaIdentitySource, detailsPort: number): Promise<Workload> {
  const { mesh, registry, log } = meshFor('ratings', 'ratings', identity, [service('details', detailsPort, 'details', 'details')]);
  const dispatcher = createMeshDispatcher({ mesh });
  const inbound = createInbound({ mesh });
  const app = express();
  app.use(meshworkMiddleware({ inbound }));
  app.use((req, res, next) => {
    callNext(dispatcher, `http://details:9080${req.originalUrl}`).then((downstream) => {
      res.json({ service: 'ratings', sawExchange: sawExchange(req), requestId: req.headers['x-request-id'] ?? null, traceparent: req.headers.traceparent ?? null, downstream } satisfies Echo);
    }, next);
  });
  const server = createMeshServer(app, { inbound, identity, pipeline: false });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { name: 'ratings', mesh, registry, log, dispatcher, port, close: () => closeServer(server, async () => { await dispatcher.close(); inbound.close(); await mesh.close(); }) };
}

async function startReviews(identity: CaIdentitySource, ratingsPort: number): Promise<Workload> {
  const { mesh, registry, log } = meshFor('reviews', 'reviews', identity, [service('ratings', ratingsPort, 'ratings', 'ratings')]);
  const dispatcher = createMeshDispatcher({ mesh });
  const server = createMeshServer((req, res) => {
    callNext(dispatcher, `http://ratings:9080${req.url}`).then((downstream) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ service: 'reviews', sawExchange: sawExchange(req), requestId: (req.headers['x-request-id'] as string) ?? null, traceparent: (req.headers.traceparent as string) ?? null, downstream } satisfies Echo));
    }, (e: Error) => {
      res.statusCode = 500;
      res.end(e.message);
    });
  }, { mesh, identity });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { name: 'reviews', mesh, registry, log, dispatcher, port, close: () => closeServer(server, async () => { await dispatcher.close(); await mesh.close(); }) };
}

/** The caller: no certificate (plaintext to reviews), and the services whose local replies it reports. */
function startProductpage(reviewsPort: number, detailsPort: number): Workload {
  const d = (name: string) => service(name, detailsPort, 'details', 'details');
  const { mesh, registry, log } = meshFor('productpage', undefined, undefined, [
    service('reviews', reviewsPort, 'reviews', 'reviews'),
    { name: 'empty', ports: [{ name: 'http', port: 9080 }], endpoints: [] },
    d('limited'), d('timed'), d('faulty'), d('routed'),
  ], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: limited}
spec:
  host: limited
  trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: timed}
spec:
  hosts: [timed]
  http: [{timeout: 0.1s, route: [{destination: {host: timed}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: faulty}
spec:
  hosts: [faulty]
  http: [{fault: {abort: {httpStatus: 418, percentage: {value: 100}}}, route: [{destination: {host: faulty}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routed}
spec:
  hosts: [routed]
  http: [{match: [{uri: {prefix: /only}}], route: [{destination: {host: routed}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [external.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${plainPort}}}]
`);
  const dispatcher = createMeshDispatcher({ mesh });
  return { name: 'productpage', mesh, registry, log, dispatcher, port: 0, close: async () => { await dispatcher.close(); await mesh.close(); } };
}

function closeServer(server: MeshServer, then: () => Promise<void>): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r())).then(then);
}

beforeAll(async () => {
  provider.register();
  ca = await CertificateAuthority.selfSigned({ trustDomain: TD });
  for (const sa of ['details', 'ratings', 'reviews']) identities.push(await createCaIdentitySource({ signer: ca, spiffeId: spiffe(sa) }));
  plain = http.createServer((req, res) => {
    plainSeen.push(req.headers);
    res.end('outside the mesh');
  });
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  plainPort = (plain.address() as AddressInfo).port;
  details = await startDetails(identities[0]!);
  ratings = await startRatings(identities[1]!, details.port);
  reviews = await startReviews(identities[2]!, ratings.port);
  productpage = startProductpage(reviews.port, details.port);
});

afterAll(async () => {
  for (const w of [productpage, reviews, ratings, details]) await w?.close();
  for (const i of identities) await i.close();
  plain?.closeAllConnections();
  await new Promise<void>((r) => (plain ? plain.close(() => r()) : r()));
  await provider.shutdown();
  trace.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

type Series = Record<string, string | number>;

/** Every series of a metric, as label maps with `value`. */
async function series(w: Workload, name = 'istio_requests_total'): Promise<Series[]> {
  const m = w.registry.getSingleMetric(name);
  if (!m) return [];
  const data = await m.get();
  return data.values.map((v) => ({ ...(v.labels as Record<string, string>), value: v.value }));
}

async function find(w: Workload, labels: Record<string, string>, name?: string): Promise<Series | undefined> {
  return (await series(w, name)).find((s) => Object.entries(labels).every(([k, v]) => s[k] === v));
}

/** Waits until every server span of a request has ended (they end when the response closes). */
async function spans(count: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const s = exporter.getFinishedSpans();
    if (s.length >= count) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return exporter.getFinishedSpans();
}

/** Lines of an access log, after pino's asynchronous writes. */
async function logLines(w: Workload, includes: string): Promise<string[]> {
  for (let i = 0; i < 50; i++) {
    const hit = w.log.lines.filter((l) => l.includes(includes));
    if (hit.length > 0) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

async function get(url: string, headers?: Record<string, string>) {
  const r = await request(url, { dispatcher: productpage.dispatcher, headers });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text };
}

describe('a request through four workloads', () => {
  it('reaches the leaf, with one request id and no exchange header seen by any application', async () => {
    const r = await get('http://reviews:9080/chain');
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.text) as Echo;
    const ratingsEcho = echo.downstream as Echo;
    const detailsEcho = ratingsEcho.downstream as Echo;
    expect([echo.service, ratingsEcho.service, detailsEcho.service]).toEqual(['reviews', 'ratings', 'details']);
    expect([echo.sawExchange, ratingsEcho.sawExchange, detailsEcho.sawExchange]).toEqual([false, false, false]);
    expect(echo.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ratingsEcho.requestId).toBe(echo.requestId);
    expect(detailsEcho.requestId).toBe(echo.requestId);
    // The caller sees no exchange header either (undici's parsed headers).
    for (const h of EXCHANGE) expect(r.headers[h]).toBeUndefined();
  });

  it("Node's built-in fetch (raw header path) sees no exchange header", async () => {
    const res = await fetch('http://reviews:9080/raw', { dispatcher: productpage.dispatcher } as RequestInit);
    expect(res.status).toBe(200);
    await res.text();
    for (const h of EXCHANGE) expect(res.headers.has(h)).toBe(false);
  });

  it('is one trace: each server span is the child of its caller span, each client span the child of its server span', async () => {
    const r = await get('http://reviews:9080/trace');
    expect(r.status).toBe(200);
    const all = await spans(6);
    const by = (svc: string, kind: SpanKind) => all.find((s) => s.attributes['istio.canonical_service'] === svc && s.kind === kind);
    const chain = [
      by('productpage', SpanKind.CLIENT), by('reviews', SpanKind.SERVER), by('reviews', SpanKind.CLIENT),
      by('ratings', SpanKind.SERVER), by('ratings', SpanKind.CLIENT), by('details', SpanKind.SERVER),
    ];
    for (const s of chain) expect(s).toBeDefined();
    const traceId = chain[0]!.spanContext().traceId;
    for (const s of chain) expect(s!.spanContext().traceId).toBe(traceId);
    expect(chain[0]!.parentSpanContext).toBeUndefined();
    for (let i = 1; i < chain.length; i++) expect(chain[i]!.parentSpanContext?.spanId).toBe(chain[i - 1]!.spanContext().spanId);
    // Istio's span names and tags.
    expect(chain[0]!.name).toBe('reviews.default.svc.cluster.local:9080/*');
    expect(chain[0]!.attributes['upstream_cluster']).toBeUndefined();
    expect(chain[1]!.attributes['http.response.status_code']).toBe(200);
    expect(chain[5]!.attributes['guid:x-request-id']).toBe(chain[0]!.attributes['guid:x-request-id']);
  });

  it('a caller that sends only B3 headers joins the same trace', async () => {
    const traceId = '463ac35c9f6413ad48485a3953bb6124';
    const spanId = 'a2fb4a1d1a96d312';
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: reviews.port, path: '/b3', headers: { host: 'reviews:9080', 'x-b3-traceid': traceId, 'x-b3-spanid': spanId, 'x-b3-sampled': '1' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const all = await spans(5);
    const server = all.find((s) => s.attributes['istio.canonical_service'] === 'reviews' && s.kind === SpanKind.SERVER);
    expect(server?.spanContext().traceId).toBe(traceId);
    expect(server?.parentSpanContext?.spanId).toBe(spanId);
    const leaf = all.find((s) => s.attributes['istio.canonical_service'] === 'details' && s.kind === SpanKind.SERVER);
    expect(leaf?.spanContext().traceId).toBe(traceId);
  });
});

describe("Istio's metrics from both reporters", () => {
  it('label the caller and the server from the exchange, both ways, with the connection security of each hop', async () => {
    expect((await get('http://reviews:9080/metrics-check')).status).toBe(200);
    await spans(6); // every response closed
    // Client side of productpage: the destination as reviews described itself in its response
    // (workload name `reviews-v1` is only in the exchange; the registry knows labels only).
    const source = await find(productpage, { reporter: 'source', destination_service: 'reviews.default.svc.cluster.local', response_code: '200' });
    expect(source).toMatchObject({
      source_workload: 'productpage-v1', source_app: 'productpage', source_version: 'v1', source_canonical_service: 'productpage', source_cluster: 'Kubernetes',
      source_principal: 'unknown', destination_principal: 'unknown', destination_workload: 'reviews-v1', destination_app: 'reviews', destination_version: 'v1', destination_workload_namespace: 'default',
      destination_service_name: 'reviews', destination_service_namespace: 'default', destination_cluster: 'Kubernetes', request_protocol: 'http',
      response_flags: '-', connection_security_policy: 'unknown',
    });
    // Server side of reviews: the caller as productpage described itself in its request; plaintext.
    const dest = await find(reviews, { reporter: 'destination', source_workload: 'productpage-v1', response_code: '200' });
    expect(dest).toMatchObject({
      source_app: 'productpage', source_workload_namespace: 'default', source_principal: 'unknown', destination_workload: 'reviews-v1', destination_app: 'reviews',
      destination_principal: 'unknown', destination_service: 'reviews.default.svc.cluster.local', connection_security_policy: 'none',
    });
    // reviews → ratings over mTLS: principals on both sides.
    const mtlsSource = await find(reviews, { reporter: 'source', destination_workload: 'ratings-v1', response_code: '200' });
    expect(mtlsSource).toMatchObject({ source_principal: spiffe('reviews'), destination_principal: spiffe('ratings'), destination_service: 'ratings.default.svc.cluster.local' });
    const mtlsDest = await find(ratings, { reporter: 'destination', source_workload: 'reviews-v1', response_code: '200' });
    expect(mtlsDest).toMatchObject({ source_principal: spiffe('reviews'), destination_principal: spiffe('ratings'), connection_security_policy: 'mutual_tls', source_app: 'reviews' });
    // ratings (Express) → details (Fastify): the Fastify side answered with its metadata too.
    expect(await find(ratings, { reporter: 'source', destination_workload: 'details-v1', response_code: '200' })).toMatchObject({ source_workload: 'ratings-v1', destination_principal: spiffe('details') });
    const leaf = await find(details, { reporter: 'destination', source_workload: 'ratings-v1', response_code: '200' });
    expect(leaf).toMatchObject({ connection_security_policy: 'mutual_tls', destination_workload: 'details-v1' });
    // Durations and sizes went into the histograms.
    const count = await find(productpage, { reporter: 'source', destination_workload: 'reviews-v1', response_code: '200' }, 'istio_request_duration_milliseconds');
    expect(count).toBeDefined();
    const text = await productpage.registry.metrics();
    expect(text).toMatch(/istio_response_bytes_sum\{reporter="source",[^}]*destination_workload="reviews-v1"[^}]*\} [1-9]\d*/);
  });

  it('record the response flags of local replies: UH, UO, UT, FI, NR', async () => {
    expect((await get('http://empty:9080/')).status).toBe(503);
    const [a, b] = await Promise.all([get('http://limited:9080/slow'), get('http://limited:9080/slow')]);
    expect([a.status, b.status].sort()).toEqual([200, 503]);
    expect((await get('http://timed:9080/slow')).status).toBe(504);
    expect((await get('http://faulty:9080/')).status).toBe(418);
    expect((await get('http://routed:9080/elsewhere')).status).toBe(404);
    const flag = async (service: string, code: string, flags: string) => find(productpage, { reporter: 'source', destination_service: `${service}.default.svc.cluster.local`, response_code: code, response_flags: flags });
    expect(await flag('empty', '503', 'UH')).toMatchObject({ value: 1, destination_workload: 'unknown' });
    expect(await flag('limited', '503', 'UO')).toMatchObject({ value: 1 });
    expect(await flag('timed', '504', 'UT')).toMatchObject({ value: 1 });
    expect(await flag('faulty', '418', 'FI')).toMatchObject({ value: 1 });
    expect(await flag('routed', '404', 'NR')).toMatchObject({ value: 1 });
    // Meshwork's own series: the overflow per cluster.
    expect(await find(productpage, { cluster: 'outbound|9080||limited.default.svc.cluster.local' }, 'meshwork_pool_overflow_total')).toMatchObject({ value: 1 });
  });

  it('a denial by AuthorizationPolicy is recorded by the server with code 403 and no flag', async () => {
    const r = await get('http://reviews:9080/denied');
    expect(r.status).toBe(200); // reviews answers; ratings got 403 from details
    expect((JSON.parse(r.text) as Echo).downstream).toMatchObject({ downstream: { status: 403 } });
    await new Promise((res) => setTimeout(res, 50));
    expect(await find(details, { reporter: 'destination', response_code: '403' })).toMatchObject({ response_flags: '-', source_workload: 'ratings-v1', connection_security_policy: 'mutual_tls' });
    const lines = await logLines(details, '"GET /denied HTTP/1.1" 403');
    expect(lines[0]).toContain('rbac_access_denied_matched_policy[ns[default]-policy[deny-denied]-rule[0]]');
  });

  it("meshwork's own series: snapshot version, sync state, certificate expiry", async () => {
    const text = await ratings.registry.metrics();
    expect(text).toContain(`meshwork_snapshot_info{version="${ratings.mesh.snapshot.version}"} 1`);
    expect(text).toContain('meshwork_snapshot_sync_state{state="STATIC"} 1');
    expect(text).toMatch(/meshwork_certificate_expiry_seconds\{resource_name="default"\} \d+/);
    expect(text).toMatch(/meshwork_certificate_expiry_seconds\{resource_name="ROOTCA"\} \d+/);
  });
});

describe('access logs', () => {
  it('carry the response flags of UH, UO, UT, FI, NR with Envoy details', async () => {
    const cases: [string, string][] = [
      ['empty', '503 UH no_healthy_upstream'],
      ['limited', '503 UO upstream_reset_before_response_started{overflow}'],
      ['timed', '504 UT response_timeout'],
      ['faulty', '418 FI fault_filter_abort'],
      ['routed', '404 NR route_not_found'],
    ];
    for (const [svc, expected] of cases) {
      const lines = await logLines(productpage, `"${svc}:9080"`);
      expect(lines.some((l) => l.includes(` ${expected} `)), `${svc}: ${lines.join('\n')}`).toBe(true);
    }
    // An upstream answer: via_upstream, the endpoint and Envoy's cluster name.
    const ok = await logLines(productpage, `"reviews:9080"`);
    expect(ok[0]).toMatch(/" 200 - via_upstream - "-" 0 \d+ \d+ - "-" "[^"]*" "[0-9a-f-]{36}" "reviews:9080" "127\.0\.0\.1:\d+" outbound\|9080\|\|reviews\.default\.svc\.cluster\.local /);
    // The server side logs inbound.
    const inbound = (await logLines(reviews, 'inbound|')).filter((l) => l.includes('"GET /chain HTTP/1.1" 200'));
    expect(inbound[0]).toMatch(/" 200 - via_upstream - "-" 0 \d+ \d+ - "-" "[^"]*" "[0-9a-f-]{36}" "reviews:9080" "127\.0\.0\.1:\d+" inbound\|\d+\|\| - 127\.0\.0\.1:\d+ 127\.0\.0\.1:\d+ - -/);
  });
});

describe('the exchange headers never leave the mesh', () => {
  it('are not sent to a passthrough host, which still gets the request id and trace context', async () => {
    plainSeen.length = 0;
    const r = await get(`http://127.0.0.1:${plainPort}/outside`);
    expect(r.text).toBe('outside the mesh');
    expect(plainSeen).toHaveLength(1);
    for (const h of EXCHANGE) expect(plainSeen[0]![h]).toBeUndefined();
    expect(plainSeen[0]!['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(plainSeen[0]!.traceparent).toBeDefined();
    expect(await find(productpage, { reporter: 'source', destination_service_name: 'PassthroughCluster' })).toBeDefined();
  });

  it('are not sent to a MESH_EXTERNAL ServiceEntry', async () => {
    plainSeen.length = 0;
    const r = await get('http://external.example.com/outside');
    expect(r.text).toBe('outside the mesh');
    for (const h of EXCHANGE) expect(plainSeen[0]![h]).toBeUndefined();
  });

  it('are answered only to a caller that sent its own', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: reviews.port, path: '/plain', headers: { host: 'reviews:9080' } }, resolve);
      req.on('error', reject);
      req.end();
    });
    res.resume();
    expect(res.statusCode).toBe(200);
    for (const h of EXCHANGE) expect(res.headers[h]).toBeUndefined();
  });
});
