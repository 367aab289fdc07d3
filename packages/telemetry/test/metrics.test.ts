import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { compileTelemetry, ISTIO_STANDARD_TAGS, loadObjects } from '@meshwork/policy';
import {
  createMeshMetrics, decodePeerMetadata, encodePeerMetadata, grpcStatusFromHttp, ISTIO_BUCKETS, ISTIO_LABELS, ISTIO_METRIC_DEFINITIONS, localWorkload,
  meshMetricsHandler, type RequestMetricEvent,
} from '../src/index.js';

const productpage = localWorkload({ namespace: 'default', labels: { app: 'productpage', version: 'v1' }, name: 'productpage-v1', clusterId: 'Kubernetes' });
const reviewsLocal = localWorkload({ namespace: 'default', labels: { app: 'reviews', version: 'v2' }, name: 'reviews-v2', clusterId: 'Kubernetes' });
const reviewsPeer = decodePeerMetadata(encodePeerMetadata(reviewsLocal))!;
const productpagePeer = decodePeerMetadata(encodePeerMetadata(productpage))!;
const reviewsSvc = { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' };

async function series(registry: Registry, name: string) {
  const m = registry.getSingleMetric(name);
  if (!m) return [];
  return (await m.get()).values as { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

async function counter(registry: Registry, name = 'istio_requests_total'): Promise<Record<string, string | number>[]> {
  return (await series(registry, name)).map((v) => ({ ...v.labels, value: v.value }));
}

const client = (over: Partial<RequestMetricEvent> = {}): RequestMetricEvent => ({
  reporter: 'source', protocol: 'http', responseCode: 200, peer: reviewsPeer, service: reviewsSvc, authority: 'reviews:9080',
  peerPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', localPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
  durationMs: 12.7, requestBytes: 300, responseBytes: 1200, ...over,
});

describe('definitions', () => {
  it('has Istio\'s names, types, help and Envoy\'s buckets', async () => {
    const { registry } = createMeshMetrics();
    const text = await registry.metrics();
    for (const d of ISTIO_METRIC_DEFINITIONS) {
      expect(text).toContain(`# HELP ${d.name} ${d.help}`);
      expect(text).toContain(`# TYPE ${d.name} ${d.type}`);
    }
    expect(ISTIO_BUCKETS).toEqual([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]);
    expect(ISTIO_METRIC_DEFINITIONS.map((d) => d.name)).toEqual([
      'istio_requests_total', 'istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes', 'istio_request_messages_total', 'istio_response_messages_total',
    ]);
  });

  it('uses exactly the stats filter\'s 25 labels', () => {
    expect([...ISTIO_LABELS]).toEqual([...ISTIO_STANDARD_TAGS]);
  });
});

describe('label values (istio_stats.cc: populatePeerInfo)', () => {
  it('reporter=source: own values as they are, the peer from the exchange, mTLS principals', async () => {
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest(client());
    expect(await counter(m.registry)).toEqual([{
      reporter: 'source',
      source_workload: 'productpage-v1', source_canonical_service: 'productpage', source_canonical_revision: 'v1', source_workload_namespace: 'default',
      source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', source_app: 'productpage', source_version: 'v1', source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v2', destination_workload_namespace: 'default', destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
      destination_app: 'reviews', destination_version: 'v2', destination_service: 'reviews.default.svc.cluster.local', destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2', destination_service_name: 'reviews', destination_service_namespace: 'default', destination_cluster: 'Kubernetes',
      request_protocol: 'http', response_code: '200', grpc_response_status: '', response_flags: '-', connection_security_policy: 'unknown',
      value: 1,
    }]);
  });

  it('reporter=source without exchange or mTLS: unknown, latest, and the Host header as the service', async () => {
    const m = createMeshMetrics({ local: localWorkload({ namespace: 'default', labels: {} }) });
    m.recordRequest({ reporter: 'source', protocol: 'http', responseCode: 503, responseFlags: ['UF', 'URX'], authority: 'httpbin.org' });
    const [s] = await counter(m.registry);
    expect(s).toMatchObject({
      source_workload: '', source_app: '', source_version: '', source_cluster: '', source_principal: 'unknown', source_canonical_revision: 'latest',
      destination_workload: 'unknown', destination_workload_namespace: 'unknown', destination_principal: 'unknown', destination_app: 'unknown',
      destination_canonical_service: 'unknown', destination_canonical_revision: 'latest', destination_cluster: 'unknown',
      destination_service: 'httpbin.org', destination_service_name: 'httpbin.org', destination_service_namespace: 'unknown',
      response_code: '503', response_flags: 'UF,URX',
    });
  });

  it('the peer namespace comes from the certificate before the metadata; the peer identity stands in for the certificate', async () => {
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest(client({ peerPrincipal: 'cluster.local/ns/prod/sa/reviews', service: undefined }));
    m.recordRequest(client({ peerPrincipal: undefined, peer: { ...reviewsPeer, identity: 'spiffe://cluster.local/ns/x/sa/y' }, service: undefined }));
    const [a, b] = await counter(m.registry);
    expect(a).toMatchObject({ destination_principal: 'spiffe://cluster.local/ns/prod/sa/reviews', destination_workload_namespace: 'prod', destination_service_namespace: 'prod' });
    expect(b).toMatchObject({ destination_principal: 'spiffe://cluster.local/ns/x/sa/y', destination_workload_namespace: 'x' });
  });

  it('reporter=destination: mutual_tls or none, own canonical name when the service is unknown, no Host fallback', async () => {
    const m = createMeshMetrics({ local: reviewsLocal });
    const base: RequestMetricEvent = { reporter: 'destination', protocol: 'http', responseCode: 200, peer: productpagePeer, authority: 'reviews:9080' };
    m.recordRequest({ ...base, peerPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', localPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' });
    m.recordRequest({ ...base, peer: undefined });
    const [mtls, plain] = await counter(m.registry);
    expect(mtls).toMatchObject({
      reporter: 'destination', source_workload: 'productpage-v1', source_canonical_service: 'productpage', source_app: 'productpage', source_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage',
      destination_workload: 'reviews-v2', destination_app: 'reviews', destination_principal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews',
      destination_service: 'reviews', destination_service_name: 'reviews', destination_canonical_service: 'reviews', destination_service_namespace: 'default',
      connection_security_policy: 'mutual_tls',
    });
    expect(plain).toMatchObject({ source_workload: 'unknown', source_canonical_revision: 'latest', source_principal: 'unknown', destination_principal: 'unknown', connection_security_policy: 'none' });
  });

  it('names passthrough and blackhole traffic', async () => {
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest({ reporter: 'source', protocol: 'http', responseCode: 502, authority: 'example.com', passthrough: 'BlackHoleCluster' });
    m.recordRequest({ reporter: 'source', protocol: 'http', responseCode: 200, authority: 'example.com', passthrough: 'PassthroughCluster' });
    expect((await counter(m.registry)).map((s) => [s.destination_service, s.destination_service_name])).toEqual([
      ['example.com', 'BlackHoleCluster'],
      ['example.com', 'PassthroughCluster'],
    ]);
  });

  it('gRPC: grpc-status, else inferred from the HTTP status; message counters', async () => {
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest(client({ protocol: 'grpc', responseCode: 200, grpcStatus: 0, requestMessages: 3, responseMessages: 5 }));
    m.recordRequest(client({ protocol: 'grpc', responseCode: 503 }));
    m.recordRequest(client({ protocol: 'grpc', responseCode: 0 }));
    expect((await counter(m.registry)).map((s) => [s.request_protocol, s.response_code, s.grpc_response_status])).toEqual([
      ['grpc', '200', '0'],
      ['grpc', '503', '14'],
      ['grpc', '0', ''],
    ]);
    expect((await counter(m.registry, 'istio_request_messages_total')).map((s) => s.value)).toEqual([3]);
    expect((await counter(m.registry, 'istio_response_messages_total')).map((s) => s.value)).toEqual([5]);
    expect([400, 401, 403, 404, 429, 502, 503, 504, 500, 200].map(grpcStatusFromHttp)).toEqual([13, 16, 7, 12, 14, 14, 14, 14, 2, 2]);
  });
});

describe('recording', () => {
  it('counts repeated requests on one series and fills histograms as Envoy does (whole ms, le inclusive)', async () => {
    const m = createMeshMetrics({ local: productpage });
    for (const d of [0.4, 0.9, 1, 5, 12.7]) m.recordRequest(client({ durationMs: d }));
    expect((await counter(m.registry)).map((s) => s.value)).toEqual([5]);
    const h = await series(m.registry, 'istio_request_duration_milliseconds');
    const bucket = (le: number | string) => h.find((v) => v.metricName === 'istio_request_duration_milliseconds_bucket' && v.labels.le === le)!.value;
    expect([bucket(0.5), bucket(1), bucket(5), bucket(10), bucket(25), bucket('+Inf')]).toEqual([2, 3, 4, 4, 5, 5]);
    expect(h.find((v) => v.metricName === 'istio_request_duration_milliseconds_sum')!.value).toBe(0 + 0 + 1 + 5 + 12);
    const text = await m.registry.metrics();
    expect(text).toMatch(/istio_request_bytes_bucket\{le="500",reporter="source",[^}]*\} 5/);
    expect(text).toMatch(/istio_response_bytes_sum\{reporter="source",[^}]*\} 6000/);
  });

  it('keeps one series per label set across new objects and cache resets', async () => {
    const m = createMeshMetrics({ local: productpage, maxCachedSeries: 2 });
    for (let i = 0; i < 50; i++) {
      m.recordRequest(client({ peer: decodePeerMetadata(encodePeerMetadata(reviewsLocal)), service: { ...reviewsSvc }, responseCode: i % 3 === 0 ? 503 : 200 }));
    }
    expect((await counter(m.registry)).map((s) => [s.response_code, s.value]).sort()).toEqual([['200', 33], ['503', 17]]);
  });

  it('records nothing for a reporter Telemetry disabled, or without a Prometheus provider', async () => {
    const t = (spec: unknown) => compileTelemetry(loadObjects([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'm', namespace: 'istio-system' }, spec }]).resources, { namespace: 'default', labels: {} }).metrics;
    const m = createMeshMetrics({ local: productpage, telemetry: t({ metrics: [{ overrides: [{ match: { mode: 'CLIENT' }, disabled: true }] }] }) });
    m.recordRequest(client());
    m.recordRequest({ reporter: 'destination', protocol: 'http', responseCode: 200 });
    expect((await counter(m.registry)).map((s) => s.reporter)).toEqual(['destination']);
    m.setTelemetry(t({ metrics: [{ providers: [{ name: 'stackdriver' }] }] }));
    m.recordRequest({ reporter: 'destination', protocol: 'http', responseCode: 200 });
    expect((await counter(m.registry)).map((s) => s.value)).toEqual([1]);
  });

  it('applies tag overrides: remove, literal, attribute, new labels, dropped metrics', async () => {
    const telemetry = compileTelemetry(loadObjects([{
      apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'm', namespace: 'default' },
      spec: { metrics: [{ overrides: [
        { match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, tagOverrides: { source_principal: { operation: 'REMOVE' }, destination_port: { value: 'string(destination.port)' }, team: { value: "'payments'" }, user: { value: "request.headers['x-user']" } } },
        { match: { metric: 'REQUEST_SIZE', mode: 'CLIENT' }, disabled: true },
      ] }] },
    }]).resources, { namespace: 'default', labels: {} }).metrics;
    const m = createMeshMetrics({ local: productpage, telemetry });
    m.recordRequest(client({ attributes: { destination: { port: 9080 }, request: { headers: { 'x-user': 'jason' } } } }));
    m.recordRequest(client({ attributes: { destination: { port: 9080 }, request: { headers: {} } } }));
    m.recordRequest({ reporter: 'destination', protocol: 'http', responseCode: 200, requestBytes: 10 });
    const rows = await counter(m.registry);
    expect(rows.map((r) => [r.reporter, r.source_principal, r.destination_port, r.team, r.user, r.value])).toEqual([
      ['source', '', '9080', 'payments', 'jason', 1],
      ['source', '', '9080', 'payments', 'unknown', 1],
      ['destination', 'unknown', '', '', '', 1],
    ]);
    const text = await m.registry.metrics();
    expect(text).not.toMatch(/istio_request_bytes_count\{[^}]*reporter="source"/);
    expect(text).toMatch(/istio_request_bytes_count\{[^}]*reporter="destination"/);
    // Removing the overrides re-creates the family with the standard labels only.
    m.setTelemetry(undefined);
    m.recordRequest(client());
    expect(Object.keys((await counter(m.registry))[0]!)).not.toContain('team');
  });
});

describe("Meshwork's own series", () => {
  it('reports breakers, ejections, retries, overflows, snapshot, sync state and certificate expiry', async () => {
    const m = createMeshMetrics({ prefix: 'mw_' });
    m.setBreakerState('ratings', 'open');
    m.recordOutlierEjection('outbound|9080|v1|reviews.default.svc.cluster.local');
    m.recordRetry('outbound|9080|v1|reviews.default.svc.cluster.local');
    m.recordRetry('outbound|9080|v1|reviews.default.svc.cluster.local');
    m.recordPoolOverflow('outbound|9080||ratings.default.svc.cluster.local');
    m.setSnapshot('a1');
    m.setSnapshot('b2');
    m.setSyncState('STALE');
    m.setCertificateExpiry('default', Date.now() + 12 * 3600_000);
    const text = await m.registry.metrics();
    expect(text).toContain('mw_breaker_state{breaker="ratings"} 2');
    expect(text).toContain('mw_outlier_ejections_total{cluster="outbound|9080|v1|reviews.default.svc.cluster.local"} 1');
    expect(text).toContain('mw_retries_total{cluster="outbound|9080|v1|reviews.default.svc.cluster.local"} 2');
    expect(text).toContain('mw_pool_overflow_total{cluster="outbound|9080||ratings.default.svc.cluster.local"} 1');
    expect(text).toContain('mw_snapshot_info{version="b2"} 1');
    expect(text).not.toContain('version="a1"');
    expect(text).toContain('mw_snapshot_sync_state{state="STALE"} 1');
    expect(text).toContain('mw_snapshot_sync_state{state="SYNCED"} 0');
    const expiry = Number(/mw_certificate_expiry_seconds\{resource_name="default"\} ([\d.]+)/.exec(text)![1]);
    expect(expiry).toBeGreaterThan(12 * 3600 - 60);
    expect(expiry).toBeLessThanOrEqual(12 * 3600);
    expect(text).toContain('istio_requests_total'); // Istio's names never take the prefix
  });
});

describe('exposition', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('serves the Prometheus text format over node:http', async () => {
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest(client());
    server = createServer(meshMetricsHandler(m.registry));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/stats/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toMatch(/^istio_requests_total\{reporter="source",.*\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${port}/`, { method: 'POST' })).status).toBe(405);
    expect(await (await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' })).text()).toBe('');
  });

  it("merges with the application's registry, or registers into it", async () => {
    const app = new Registry();
    new Counter({ name: 'app_orders_total', help: 'orders', registers: [app] }).inc();
    const m = createMeshMetrics({ local: productpage });
    m.recordRequest(client());
    const merged = await Registry.merge([app, m.registry]).metrics();
    expect(merged).toContain('app_orders_total 1');
    expect(merged).toMatch(/istio_requests_total\{[^}]*\} 1/);

    const shared = new Registry();
    shared.setDefaultLabels({ pod: 'productpage-v1-abc' });
    const m2 = createMeshMetrics({ registry: shared, local: productpage });
    m2.recordRequest(client());
    expect(await shared.metrics()).toMatch(/istio_requests_total\{reporter="source",[^}]*pod="productpage-v1-abc"\} 1/);
    expect(JSON.stringify(await shared.getMetricsAsJSON())).toContain('"pod":"productpage-v1-abc"');
  });
});
