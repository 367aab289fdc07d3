/** The Mesh's telemetry: where the series go, what follows the snapshot, Meshwork's own series. */
import { describe, expect, it } from 'vitest';
import { globalRegistry, memoryDestination, Registry } from '@meshwork/telemetry';
import { Mesh, meshBreaker } from '../src/index.js';

const registry = (port = 9080) => [{ name: 'reviews', ports: [{ name: 'http', port }], endpoints: [{ address: '127.0.0.1', port: 1, labels: { app: 'reviews', version: 'v1' } }] }];

async function text(r: Registry): Promise<string> {
  return r.metrics();
}

describe('MeshTelemetry', () => {
  it("is on by default, into prom-client's global registry, which several Meshes of a process share", async () => {
    const a = new Mesh({ workload: { namespace: 'shop', labels: { app: 'web' } }, configYaml: '' });
    const b = new Mesh({ workload: { namespace: 'shop', labels: { app: 'cart' } }, configYaml: '' });
    try {
      expect(a.telemetry?.registry).toBe(globalRegistry);
      expect(b.telemetry?.metrics).toBe(a.telemetry?.metrics);
      for (const [m, app] of [[a, 'web'], [b, 'cart']] as const) {
        m.telemetry!.recordInbound({
          method: 'GET', target: '/', httpVersion: '1.1', durationMs: 3, status: 200, flags: [], details: 'via_upstream', requestBytes: 0, responseBytes: 2,
          grpc: false, mtls: false, requestHeaders: {}, localPort: 9080,
        });
        expect(await text(globalRegistry)).toMatch(new RegExp(`istio_requests_total\\{reporter="destination",[^}]*destination_workload="${app}",[^}]*\\} 1`));
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('telemetry: false makes none', async () => {
    const m = new Mesh({ workload: { namespace: 'shop', labels: { app: 'web' } }, configYaml: '', telemetry: false });
    expect(m.telemetry).toBeUndefined();
    await m.close();
  });

  it("follows the snapshot: Telemetry settings, the version in use, STATIC sync state; Istio's mesh-config form of providers", async () => {
    const prom = new Registry();
    const m = new Mesh({
      workload: { namespace: 'shop', labels: { app: 'web' } }, registry: registry(), telemetry: { registry: prom },
      meshConfig: {
        extensionProviders: [{ name: 'prometheus', prometheus: {} }, { name: 'otel', opentelemetry: { service: 'otel.observability', port: 4317 } }],
        defaultProviders: { metrics: ['prometheus'], tracing: ['otel'] },
        defaultTracingSampling: 2.5,
      },
    });
    try {
      const t = m.telemetry!;
      expect(t.clientTracing?.provider).toEqual({ name: 'otel', kind: 'opentelemetry' });
      expect(t.clientSampling).toMatchObject({ source: 'telemetry', percentage: 2.5 });
      expect(await text(prom)).toContain(`meshwork_snapshot_info{version="${m.snapshot.version}"} 1`);
      expect(await text(prom)).toContain('meshwork_snapshot_sync_state{state="STATIC"} 1');
      const v1 = m.snapshot.version;
      m.configure({ configYaml: `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing: [{randomSamplingPercentage: 50}]
  metrics: [{overrides: [{match: {metric: ALL_METRICS, mode: CLIENT}, disabled: true}]}]
` });
      expect(t.clientSampling.percentage).toBe(50);
      const now = await text(prom);
      expect(now).toContain(`meshwork_snapshot_info{version="${m.snapshot.version}"} 1`);
      expect(now).not.toContain(`version="${v1}"`);
      // Client-side metrics are off now: an outbound request records nothing.
      t.recordOutbound({ method: 'GET', target: '/', authority: 'reviews:9080', durationMs: 1, status: 200, flags: [], fromUpstream: true, requestBytes: 0, responseBytes: 0, grpc: false, mtls: false, requestHeaders: {} });
      expect(await text(prom)).not.toContain('reporter="source"');
    } finally {
      await m.close();
    }
  });

  it('the local workload and its exchange header follow the workload; the inbound service is the one selecting it', () => {
    const m = new Mesh({
      workload: { namespace: 'shop', labels: { app: 'reviews', version: 'v2' }, name: 'reviews-v2' }, telemetry: { registry: new Registry(), clusterId: 'east' },
      configYaml: `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
`,
    });
    const t = m.telemetry!;
    expect(t.local).toMatchObject({ workloadName: 'reviews-v2', canonicalService: 'reviews', canonicalRevision: 'v2', clusterId: 'east', namespace: 'shop' });
    expect(t.peerMetadataId).toMatch(/^sidecar~[\d.]+~.+\.shop~shop\.svc\.cluster\.local$/);
    expect(Buffer.from(t.peerMetadata, 'base64').toString('latin1')).toContain('reviews-v2');
    expect(t.inboundService).toEqual({ host: 'reviews.shop.svc.cluster.local', name: 'reviews', namespace: 'shop' });
    expect(t.inboundOperation(9080)).toBe('reviews.shop.svc.cluster.local:9080/*');
    void m.close();
  });

  it('counts outlier ejections per cluster and reports call-site breaker states', async () => {
    const prom = new Registry();
    const m = new Mesh({
      workload: { namespace: 'default', labels: { app: 'web' } }, registry: registry(), telemetry: { registry: prom },
      configYaml: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, trafficPolicy: {outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}}}
`,
    });
    try {
      const d = m.decide({ method: 'GET', scheme: 'http', authority: 'reviews:9080', port: 9080, target: '/', headers: {} });
      const c = m.cluster(d.destinations[0]!);
      const ep = c.endpoints[0]!;
      for (let i = 0; i < 2; i++) c.outlier!.recordOutcome(ep, { kind: 'response', status: 503 }, m.now());
      expect(await text(prom)).toContain('meshwork_outlier_ejections_total{cluster="outbound|9080||reviews.default.svc.cluster.local"} 1');

      const b = meshBreaker(async () => {
        throw new Error('down');
      }, { name: 'ratings', volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 });
      const sub = m.telemetry!.observeBreaker(b);
      expect(await text(prom)).toContain('meshwork_breaker_state{breaker="ratings"} 0');
      await b().catch(() => undefined);
      expect(b.state).toBe('open');
      expect(await text(prom)).toContain('meshwork_breaker_state{breaker="ratings"} 2');
      sub.dispose();
      b.shutdown();
    } finally {
      await m.close();
    }
  });

  it('access logs: as Telemetry resources say, or always with enabled: true, never with accessLog: false', async () => {
    const logs = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec: {accessLogging: [{providers: [{name: envoy}]}]}
`;
    const on = memoryDestination();
    const a = new Mesh({ workload: { namespace: 'default', labels: { app: 'web' } }, configYaml: logs, telemetry: { registry: new Registry(), accessLog: { destination: on } } });
    const off = new Mesh({ workload: { namespace: 'default', labels: { app: 'web' } }, configYaml: logs, telemetry: { registry: new Registry(), accessLog: false } });
    const always = memoryDestination();
    const b = new Mesh({ workload: { namespace: 'default', labels: { app: 'web' } }, configYaml: '', telemetry: { registry: new Registry(), accessLog: { destination: always, enabled: true } } });
    const none = new Mesh({ workload: { namespace: 'default', labels: { app: 'web' } }, configYaml: '', telemetry: { registry: new Registry() } });
    try {
      expect(off.telemetry!.clientLog).toBeUndefined();
      expect(none.telemetry!.clientLog).toBeUndefined();
      for (const m of [a, b]) {
        m.telemetry!.recordOutbound({ method: 'GET', target: '/x', authority: 'reviews:9080', durationMs: 2, status: 503, flags: ['UH'], fromUpstream: false, requestBytes: 0, responseBytes: 19, grpc: false, mtls: false, requestHeaders: {} });
      }
      await new Promise((r) => setImmediate(r));
      // Istio's `envoy` provider writes text; without a provider the default format is JSON.
      expect(on.lines).toEqual([expect.stringMatching(/^\[.+\] "GET \/x HTTP\/1\.1" 503 UH no_healthy_upstream /)]);
      expect(JSON.parse(always.lines[0]!)).toMatchObject({ response_code: 503, response_flags: 'UH', response_code_details: 'no_healthy_upstream', bytes_sent: 19 });
    } finally {
      for (const m of [a, off, b, none]) await m.close();
    }
  });
});
