import { describe, expect, it } from 'vitest';
import { compileTelemetry, loadObjects, type AccessLogSpec, type TelemetryProvider } from '@meshwork/policy';
import { accessLogAttributes, createAccessLogger, memoryDestination, redactPath, type AccessLogEvent } from '../src/index.js';

const START = Date.parse('2026-05-01T12:00:00.123Z');
const event = (over: Partial<AccessLogEvent> = {}): AccessLogEvent => ({
  startTime: START, method: 'GET', path: '/reviews/0', protocol: 'HTTP/1.1', responseCode: 200, responseCodeDetails: 'via_upstream',
  bytesReceived: 0, bytesSent: 295, durationMs: 4.8, upstreamServiceTimeMs: 3,
  requestHeaders: { host: 'reviews:9080', 'user-agent': 'curl/8.5.0', 'x-request-id': '3c7e7a6e-7a3b-4d2c-9f1e-2b8c8a1d0e4f' },
  upstreamHost: '10.0.0.7:9080', upstreamCluster: 'outbound|9080|v2|reviews.default.svc.cluster.local', upstreamLocalAddress: '10.0.0.5:40312',
  downstreamLocalAddress: '10.96.0.12:9080', downstreamRemoteAddress: '10.0.0.5:39000', routeName: 'default', ...over,
});

async function flushed(lines: string[]) {
  await new Promise((r) => setImmediate(r));
  return lines;
}

const telemetry = (accessLogging: unknown[], providers: TelemetryProvider[] = [{ name: 'envoy', kind: 'envoyFileAccessLog', logFormat: 'json' }]) =>
  compileTelemetry(loadObjects([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'logs', namespace: 'istio-system' }, spec: { accessLogging } }]).resources,
    { namespace: 'default', labels: {} }, { extensionProviders: providers }).accessLogging!;

describe('format', () => {
  it("writes Istio's default JSON: 24 keys in alphabetical order, null when absent, numbers typed", async () => {
    const dest = memoryDestination();
    const log = createAccessLogger({ destination: dest, enabled: true });
    expect(log.log(event())).toBe(true);
    const [line] = await flushed(dest.lines);
    expect(line).toBe(JSON.stringify({
      authority: 'reviews:9080', bytes_received: 0, bytes_sent: 295, connection_termination_details: null, downstream_local_address: '10.96.0.12:9080',
      downstream_remote_address: '10.0.0.5:39000', duration: 4, method: 'GET', path: '/reviews/0', protocol: 'HTTP/1.1',
      request_id: '3c7e7a6e-7a3b-4d2c-9f1e-2b8c8a1d0e4f', requested_server_name: null, response_code: 200, response_code_details: 'via_upstream',
      response_flags: '-', route_name: 'default', start_time: '2026-05-01T12:00:00.123Z', upstream_cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local',
      upstream_host: '10.0.0.7:9080', upstream_local_address: '10.0.0.5:40312', upstream_service_time: '3', upstream_transport_failure_reason: null,
      user_agent: 'curl/8.5.0', x_forwarded_for: null,
    }));
    expect(Object.keys(JSON.parse(line!))).toEqual([...Object.keys(JSON.parse(line!))].sort());
  });

  it("writes Istio's text format for a text provider", async () => {
    const dest = memoryDestination();
    const spec = telemetry([{ providers: [{ name: 'envoy' }] }], [{ name: 'envoy', kind: 'envoyFileAccessLog', logFormat: 'text' }]).server;
    createAccessLogger({ destination: dest, spec }).log(event({ responseCode: 503, responseFlags: ['UF', 'URX'], upstreamTransportFailureReason: 'delayed connect error: 111' }));
    expect(await flushed(dest.lines)).toEqual([
      '[2026-05-01T12:00:00.123Z] "GET /reviews/0 HTTP/1.1" 503 UF,URX via_upstream - "delayed connect error: 111" 0 295 4 3 "-" "curl/8.5.0" ' +
        '"3c7e7a6e-7a3b-4d2c-9f1e-2b8c8a1d0e4f" "reviews:9080" "10.0.0.7:9080" outbound|9080|v2|reviews.default.svc.cluster.local 10.0.0.5:40312 ' +
        '10.96.0.12:9080 10.0.0.5:39000 - default',
    ]);
  });

  it('never logs tokens or cookies', async () => {
    const dest = memoryDestination();
    const log = createAccessLogger({ destination: dest, enabled: true });
    log.log(event({
      path: '/callback?code=abc123&state=ok&access_token=eyJhbGciOiJSUzI1NiJ9.secret.sig&X-Amz-Signature=deadbeef',
      requestHeaders: { host: 'reviews', authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.secret.sig', cookie: 'session=s3cr3t', 'x-api-key': 'k-123' },
    }));
    const [line] = await flushed(dest.lines);
    for (const secret of ['eyJhbGci', 'Bearer', 's3cr3t', 'session=', 'k-123', 'abc123', 'deadbeef']) expect(line).not.toContain(secret);
    expect(JSON.parse(line!).path).toBe('/callback?code=REDACTED&state=ok&access_token=REDACTED&X-Amz-Signature=REDACTED');
    expect(redactPath('/a?token=1', false)).toBe('/a?token=1');
    expect(redactPath('/plain')).toBe('/plain');
  });
});

describe('switched by the Telemetry API', () => {
  it('is off by default (Istio: empty accessLogFile) and on when asked', async () => {
    const dest = memoryDestination();
    expect(createAccessLogger({ destination: dest }).log(event())).toBe(false);
    expect(createAccessLogger({ destination: dest, enabled: true }).log(event())).toBe(true);
    expect(await flushed(dest.lines)).toHaveLength(1);
  });

  it('filters with the compiled CEL expression over Envoy attributes', async () => {
    const dest = memoryDestination();
    const t = telemetry([{ providers: [{ name: 'envoy' }], filter: { expression: "response.code >= 400 || request.headers['x-debug'] == 'on'" } }]);
    const log = createAccessLogger({ destination: dest, spec: t.server });
    expect(log.enabled).toBe(true);
    expect(log.log(event())).toBe(false);
    expect(log.log(event({ responseCode: 503 }))).toBe(true);
    expect(log.log(event({ requestHeaders: { 'x-debug': 'on' } }))).toBe(true);
    expect((await flushed(dest.lines)).map((l) => JSON.parse(l).response_code)).toEqual([503, 200]);
  });

  it('reads connection.mtls, durations and upstream attributes', () => {
    const attrs = accessLogAttributes(event({ mtls: true, downstreamRemoteAddress: '[::1]:5000' }));
    expect(attrs).toMatchObject({ connection: { mtls: true }, source: { address: '::1', port: 5000 }, upstream: { address: '10.0.0.7', port: 9080 }, request: { host: 'reviews:9080', duration: 4.8 } });
    const t = telemetry([{ providers: [{ name: 'envoy' }], filter: { expression: 'connection.mtls && request.duration > duration("4ms") && xds.cluster_name.startsWith("outbound|9080")' } }]);
    const log = createAccessLogger({ destination: memoryDestination(), spec: t.client });
    expect(log.log(event({ mtls: true }))).toBe(true);
    expect(log.log(event({ mtls: false }))).toBe(false);
  });

  it('disabled or mode-mismatched settings log nothing; setSpec switches at run time', () => {
    const dest = memoryDestination();
    const t = telemetry([{ providers: [{ name: 'envoy' }], match: { mode: 'SERVER' } }]);
    const client = createAccessLogger({ destination: dest, spec: t.client });
    expect(client.enabled).toBe(false);
    expect(client.log(event())).toBe(false);
    client.setSpec(t.server);
    expect(client.log(event())).toBe(true);
    const off: AccessLogSpec = { enabled: false, sinks: [] };
    client.setSpec(off);
    expect(client.log(event())).toBe(false);
  });
});
