/**
 * Issue #7 with gRPC (issue #8): a meshed grpc-js client calls a MeshGrpcServer (unary and
 * server-streaming calls, mTLS STRICT), a real Prometheus scrapes both, and Istio's mesh
 * dashboard shows the gRPC workload in its "HTTP/gRPC Workloads" table with the rate sent;
 * the message counters and grpc_response_status answer PromQL with the traffic sent.
 * Istio's three dashboards hold no query of their own on the message counters or on
 * grpc_response_status (they read gRPC through the HTTP metrics), so those are asked directly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { Mesh } from '@meshwork/core';
import { CertificateAuthority, createCaIdentitySource, type CaIdentitySource } from '@meshwork/identity';
import { MeshGrpcServer, createMeshClient } from '@meshwork/grpc';
import { meshMetricsHandler } from '@meshwork/telemetry';
import { dashboardViews, interpolate, loadDashboard, rateInterval, type Dashboard, type View } from './grafana-dashboards.js';
import { startPrometheus, type Prometheus, type Sample } from './prometheus-server.js';

const RATE = 20; // calls a second: half unary, half streaming 3 messages
// Long enough that the dashboard's widest window (6 s) ends 1 s before the last call and starts
// 3 s after the first: series that appear with the first calls do not bias the rates.
const DURATION_MS = 10_000;
const SCRAPE_S = 1;
const STREAMED = 3;

// One unary and one server-streaming method with JSON messages.
const json = { serialize: (v: unknown) => Buffer.from(JSON.stringify(v)), deserialize: (b: Buffer) => JSON.parse(b.toString()) };
const method = (path: string, responseStream: boolean) => ({ path, requestStream: false, responseStream, requestSerialize: json.serialize, requestDeserialize: json.deserialize, responseSerialize: json.serialize, responseDeserialize: json.deserialize });
const service = { say: method('/demo.Echo/Say', false), watch: method('/demo.Echo/Watch', true) };
const Echo = grpc.makeGenericClientConstructor(service, 'Echo');

let ca: CertificateAuthority;
const identities: CaIdentitySource[] = [];
let serverMesh: Mesh;
let clientMesh: Mesh;
let server: MeshGrpcServer;
let client: grpc.Client & { say: Function; watch: Function };
const metricsServers: http.Server[] = [];
let prom: Prometheus;
let T = 0;
let sent = { unary: 0, streams: 0, failed: 0 };

async function metricsEndpoint(registry: Registry): Promise<number> {
  const s = http.createServer(meshMetricsHandler(registry));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  metricsServers.push(s);
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned({ trustDomain: 'cluster.local' });
  for (const sa of ['echo', 'caller']) identities.push(await createCaIdentitySource({ signer: ca, spiffeId: `spiffe://cluster.local/ns/default/sa/${sa}` }));
  const serverProm = new Registry();
  const clientProm = new Registry();
  serverMesh = new Mesh({
    workload: { namespace: 'default', name: 'echo-v1', labels: { app: 'echo', version: 'v1' }, serviceAccount: 'echo' }, identity: identities[0], telemetry: { registry: serverProm },
    configYaml: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec: {mtls: {mode: STRICT}}\n',
  });
  server = new MeshGrpcServer({ mesh: serverMesh });
  server.addService(service, {
    say: (call: grpc.ServerUnaryCall<{ n: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => (call.request.n % 5 === 4 ? cb({ code: grpc.status.UNAVAILABLE, details: 'busy' } as grpc.ServiceError) : cb(null, { n: call.request.n })),
    watch: (call: grpc.ServerWritableStream<{ n: number }, unknown>) => {
      for (let i = 0; i < STREAMED; i++) call.write({ n: call.request.n, i });
      call.end();
    },
  });
  const port = await server.bindMesh('127.0.0.1:0');
  clientMesh = new Mesh({
    workload: { namespace: 'default', name: 'caller-v1', labels: { app: 'caller', version: 'v1' }, serviceAccount: 'caller' }, identity: identities[1], telemetry: { registry: clientProm },
    configYaml: `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${port}}, labels: {app: echo, version: v1}, serviceAccount: echo}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo}}]
    retries: {attempts: 0}
`,
  });
  client = createMeshClient(Echo, 'echo.default:9090', { mesh: clientMesh }) as unknown as typeof client;
  prom = await startPrometheus({
    intervalSeconds: SCRAPE_S,
    targets: [
      { port: await metricsEndpoint(serverProm), labels: { namespace: 'default', pod: 'echo-v1-0', app: 'echo', version: 'v1' } },
      { port: await metricsEndpoint(clientProm), labels: { namespace: 'default', pod: 'caller-v1-0', app: 'caller', version: 'v1' } },
    ],
  });
  await prom.waitForScrapes(Date.now() / 1000);
  // A fixed schedule: one call every 1000/RATE ms, alternating unary and streaming.
  const t0 = Date.now();
  const calls: Promise<void>[] = [];
  for (let i = 0; Date.now() - t0 < DURATION_MS; i++) {
    const n = i >> 1;
    if (i % 2 === 0) {
      sent.unary++;
      calls.push(new Promise((resolve) => client.say({ n }, (e: grpc.ServiceError | null) => {
        if (e && e.code !== grpc.status.UNAVAILABLE) sent.failed++;
        resolve();
      })));
    } else {
      sent.streams++;
      calls.push(new Promise((resolve) => {
        const s = client.watch({ n }) as grpc.ClientReadableStream<unknown>;
        s.on('data', () => {});
        s.on('error', () => { sent.failed++; resolve(); });
        s.on('end', () => resolve());
      }));
    }
    const next = t0 + ((i + 1) * 1000) / RATE;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  await Promise.all(calls);
  T = (t0 + DURATION_MS) / 1000 - 1;
  await prom.waitForScrapes(Date.now() / 1000 + SCRAPE_S);
}, 60_000);

afterAll(async () => {
  await prom?.stop();
  client?.close();
  server?.forceShutdown();
  for (const s of metricsServers) s.close();
  await clientMesh?.close();
  await serverMesh?.close();
  for (const i of identities) i.close();
});

const sum = (r: Sample[]) => r.reduce((s, x) => s + Number(x.value[1]), 0);
const within = (actual: number, expected: number, tol = 0.2) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(expected * tol);

describe('gRPC traffic on a real Prometheus (issues #7, #8)', () => {
  it('every call was sent as scheduled', () => {
    expect(sent.failed).toBe(0);
    expect(sent.unary + sent.streams).toBeGreaterThanOrEqual((RATE * DURATION_MS) / 1000 - 2);
  });

  it("Istio's mesh dashboard lists the gRPC workload in HTTP/gRPC Workloads with the rate sent and its success rate", async () => {
    const d: Dashboard = loadDashboard('istio-mesh-dashboard.gen.json');
    const views: View[] = await dashboardViews(d, (q) => prom.query(q, T));
    const target = (refId: string) => d.exprs.find((e) => e.panelTitle === 'HTTP/gRPC Workloads' && e.refId === refId)!;
    const q = async (refId: string) => prom.query(interpolate(target(refId).expr, { ...views[0]!.values, __rate_interval: rateInterval(target(refId), SCRAPE_S) }), T);
    const requests = (await q('requests')).find((s) => s.metric.destination_workload === 'echo-v1');
    const success = (await q('success')).find((s) => s.metric.destination_workload === 'echo-v1');
    console.log(`mesh dashboard HTTP/gRPC Workloads echo-v1: ${requests?.value[1]} calls/s (sent ${RATE}), success ${success?.value[1]} (sent 0.9: one unary call in five is UNAVAILABLE)`);
    within(Number(requests?.value[1]), RATE);
    // gRPC failures ride on HTTP 200: Istio's success-rate queries count response codes, so the
    // UNAVAILABLE calls still count as non-5xx there, as they do behind Envoy.
    expect(Number(success?.value[1])).toBe(1);
  });

  it('request and response messages per second, and calls by grpc_response_status, from both reporters', async () => {
    const at = (e: string) => prom.query(e, T);
    for (const reporter of ['source', 'destination']) {
      const sel = `reporter="${reporter}",destination_workload="echo-v1",request_protocol="grpc"`;
      const reqMsgs = sum(await at(`sum(rate(istio_request_messages_total{${sel}}[5s]))`));
      const resMsgs = sum(await at(`sum(rate(istio_response_messages_total{${sel}}[5s]))`));
      const byStatus = Object.fromEntries((await at(`sum by (grpc_response_status) (rate(istio_requests_total{${sel}}[5s]))`)).map((s) => [s.metric.grpc_response_status, Number(s.value[1])]));
      console.log(`${reporter}: ${reqMsgs.toFixed(2)} request messages/s, ${resMsgs.toFixed(2)} response messages/s, calls/s by grpc_response_status ${JSON.stringify(byStatus)}`);
      within(reqMsgs, RATE); // one request message per call
      // Responses: a unary OK answers 1, a stream 3, a failed unary call none.
      within(resMsgs, (RATE / 2) * (4 / 5) + (RATE / 2) * STREAMED);
      within(byStatus['0'] ?? 0, RATE / 2 + (RATE / 2) * (4 / 5));
      within(byStatus['14'] ?? 0, (RATE / 2) / 5, 0.5);
    }
  });
});
