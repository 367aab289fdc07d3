/**
 * What the dispatcher hands to the Mesh's telemetry (the end-to-end checks across services are
 * in the repository's test/telemetry): request id, trace and exchange headers on the wire,
 * retries and pool overflow counted, sizes and durations in `onRequestEnd`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Registry } from '@meshwork/telemetry';
import { createMeshDispatcher, type MeshDispatcher, type RequestInfo } from '../src/index.js';
import { startServer, workloadEntries, type TestServer } from './servers.js';

const open: (TestServer | MeshDispatcher)[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

const service = (port: number, extra = '') => `apiVersion: v1
kind: Service
metadata: {name: echo}
spec: {selector: {app: echo}, ports: [{name: http, port: 80}]}
---
${workloadEntries('echo', 'default', [{ port, labels: { version: 'v1' } }])}${extra}`;

/** A server that answers with the headers it got; the first `fail` requests get 503. */
async function echo(fail = 0): Promise<TestServer> {
  const s = await startServer((req, res, hit) => {
    if (hit <= fail) {
      res.writeHead(503).end('busy');
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.headers));
  });
  open.push(s);
  return s;
}

function dispatcher(yaml: string, infos: RequestInfo[], prom = new Registry()): MeshDispatcher {
  const d = createMeshDispatcher({ workload: { namespace: 'default', labels: { app: 'caller' } }, configYaml: yaml, telemetry: { registry: prom }, onRequestEnd: (i) => infos.push(i) });
  open.push(d);
  return d;
}

describe('outbound telemetry', () => {
  it("keeps the caller's x-request-id, sends the exchange headers to a mesh service, and reports sizes and duration", async () => {
    const s = await echo();
    const infos: RequestInfo[] = [];
    const d = dispatcher(service(s.port), infos);
    const r = await request('http://echo/', { dispatcher: d, method: 'POST', body: 'hello', headers: { 'x-request-id': 'caller-id-1', 'x-envoy-peer-metadata': 'forged' } });
    const seen = (await r.body.json()) as Record<string, string>;
    expect(seen['x-request-id']).toBe('caller-id-1');
    expect(seen['x-envoy-peer-metadata-id']).toMatch(/^sidecar~/);
    expect(seen['x-envoy-peer-metadata']).not.toBe('forged'); // the mesh writes its own
    expect(infos[0]).toMatchObject({ status: 200, requestId: 'caller-id-1', requestBytes: 5, service: 'echo.default.svc.cluster.local', attempts: 1 });
    expect(infos[0]!.responseBytes).toBe(Buffer.byteLength(JSON.stringify(seen)));
    expect(infos[0]!.durationMs).toBeGreaterThan(0);
  });

  it("makes a request id when the caller has none, and writes the provider's trace headers (Zipkin: B3) with the copied decision (not sampled at 0 %)", async () => {
    const s = await echo();
    const d = dispatcher(service(s.port, `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec: {tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 0}]}
`), [], new Registry());
    d.mesh.configure({ meshConfig: { extensionProviders: [{ name: 'prometheus', kind: 'prometheus' }, { name: 'zipkin', kind: 'zipkin' }] } });
    const r = await request('http://echo/', { dispatcher: d, headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' } });
    const seen = (await r.body.json()) as Record<string, string>;
    expect(seen['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // The copied traceparent is the parent; its not-sampled decision goes on in Zipkin's format,
    // and the stale W3C copy is not forwarded.
    expect(seen['x-b3-traceid']).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(seen['x-b3-sampled']).toBe('0');
    expect(seen['x-b3-spanid']).toMatch(/^[0-9a-f]{16}$/);
    expect(seen['x-b3-parentspanid']).toBe('b7ad6b7169203331');
    expect(seen.traceparent).toBeUndefined();
  });

  it('counts retries per cluster, with the attempts in onRequestEnd', async () => {
    const s = await echo(1);
    const infos: RequestInfo[] = [];
    const prom = new Registry();
    const d = dispatcher(service(s.port, `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec: {hosts: [echo], http: [{route: [{destination: {host: echo}}], retries: {attempts: 2, retryOn: 5xx}}]}
`), infos, prom);
    const r = await request('http://echo/', { dispatcher: d });
    await r.body.text();
    expect(r.statusCode).toBe(200);
    expect(infos[0]).toMatchObject({ attempts: 2, status: 200, flags: [] });
    const text = await prom.metrics();
    expect(text).toContain('meshwork_retries_total{cluster="outbound|80||echo.default.svc.cluster.local"} 1');
    expect(text).toMatch(/istio_requests_total\{reporter="source",[^}]*destination_service="echo\.default\.svc\.cluster\.local",[^}]*response_code="200",[^}]*response_flags="-"[^}]*\} 1/);
  });

  it('with telemetry: false, sends only what the caller gave (no request id, no exchange headers)', async () => {
    const s = await echo();
    const d = createMeshDispatcher({ workload: { namespace: 'default', labels: { app: 'caller' } }, configYaml: service(s.port), telemetry: false });
    open.push(d);
    const seen = (await (await request('http://echo/', { dispatcher: d })).body.json()) as Record<string, string>;
    expect(seen['x-request-id']).toBeUndefined();
    expect(seen['x-envoy-peer-metadata']).toBeUndefined();
  });
});
