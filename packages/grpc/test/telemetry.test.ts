/**
 * gRPC calls in Istio's metrics from both ends (reporter=source from the client interceptor,
 * reporter=destination from the server interceptor), the metadata exchange between them, and
 * one trace across the call. Real grpc-js on 127.0.0.1; the registries are read as Prometheus
 * would scrape them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Mesh } from '@meshwork/core';
import { MeshGrpcServer, createMeshClient, meshworkOf } from '../src/index.js';
import { EchoClient, codeOf, say, type EchoService, type Msg } from './servers.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const TRACING = { extensionProviders: [{ name: 'prometheus', kind: 'prometheus' }, { name: 'otel', kind: 'opentelemetry', service: 'collector', port: 4317 }], defaultProviders: { metrics: ['prometheus'], tracing: ['otel'] }, defaultTracingSampling: 100 };

let serverMesh: Mesh;
let clientMesh: Mesh;
let server: MeshGrpcServer;
let client: EchoService;
const serverProm = new Registry();
const clientProm = new Registry();
const seenByHandler: Record<string, string>[] = [];

beforeAll(async () => {
  provider.register();
  serverMesh = new Mesh({ workload: { namespace: 'default', name: 'echo-v1', labels: { app: 'echo', version: 'v1' }, serviceAccount: 'echo' }, configYaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-chat, namespace: default}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/meshwork.test.Echo/Chat]}}]}]
`, telemetry: { registry: serverProm }, meshConfig: TRACING });
  server = new MeshGrpcServer({ mesh: serverMesh });
  const md = (call: { metadata: grpc.Metadata }) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') out[k] = v;
    seenByHandler.push(out);
    return out;
  };
  server.addService(EchoClient.service, {
    Say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const m = md(call);
      if (call.request.text === 'fail') return cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'no more' } as grpc.ServiceError);
      const sleep = /^sleep:(\d+)$/.exec(call.request.text);
      setTimeout(() => cb(null, { text: call.request.text, server: meshworkOf(call.metadata)?.decision ?? '', metadata: m }), sleep ? Number(sleep[1]) : 0);
    },
    Watch: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      md(call);
      for (let i = 0; i < 3; i++) call.write({ text: `w${i}` });
      call.end();
    },
    Collect: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      call.on('data', () => {});
      call.on('end', () => cb(null, { text: 'c' }));
    },
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => call.end(),
  });
  const port = await server.bindMesh('127.0.0.1:0');
  clientMesh = new Mesh({
    workload: { namespace: 'default', name: 'caller-1', labels: { app: 'caller', version: 'v7' } }, telemetry: { registry: clientProm }, meshConfig: TRACING,
    configYaml: `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${port}}, labels: {app: echo, version: v1}}
`,
  });
  client = createMeshClient(EchoClient, 'echo.default:9090', { mesh: clientMesh }) as EchoService;
});

afterAll(async () => {
  client.close();
  server.forceShutdown();
  await clientMesh.close();
  await serverMesh.close();
  await provider.shutdown();
  trace.disable();
});

/** Value of a series in a registry's exposition, matched on the given labels. */
async function value(reg: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const text = await reg.metrics();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('gRPC telemetry', () => {
  it('both ends count unary calls with request_protocol grpc, grpc_response_status, and the workloads they learned from each other', async () => {
    exporter.reset();
    for (let i = 0; i < 5; i++) await say(client, `ok${i}`);
    expect(await codeOf(say(client, 'fail'))).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const src = { reporter: 'source', request_protocol: 'grpc', response_code: '200', source_workload: 'caller-1', source_app: 'caller', destination_workload: 'echo-v1', destination_app: 'echo', destination_version: 'v1', destination_service: 'echo.default.svc.cluster.local' };
    expect(await value(clientProm, 'istio_requests_total', { ...src, grpc_response_status: '0' })).toBe(5);
    expect(await value(clientProm, 'istio_requests_total', { ...src, grpc_response_status: '8' })).toBe(1);
    const dst = { reporter: 'destination', request_protocol: 'grpc', response_code: '200', source_workload: 'caller-1', source_version: 'v7', destination_workload: 'echo-v1', destination_app: 'echo' };
    expect(await value(serverProm, 'istio_requests_total', { ...dst, grpc_response_status: '0' })).toBe(5);
    expect(await value(serverProm, 'istio_requests_total', { ...dst, grpc_response_status: '8' })).toBe(1);
    // One message each way per unary call; sizes as the wire carries them (5-byte frame header + message).
    expect(await value(clientProm, 'istio_request_messages_total', { reporter: 'source', grpc_response_status: '0' })).toBe(5);
    expect(await value(clientProm, 'istio_response_messages_total', { reporter: 'source', grpc_response_status: '0' })).toBe(5);
    expect(await value(serverProm, 'istio_request_messages_total', { reporter: 'destination', grpc_response_status: '0' })).toBe(5);
    expect(await value(clientProm, 'istio_request_bytes_sum', { reporter: 'source', grpc_response_status: '0' })).toBeGreaterThan(5 * 5);
    expect(await value(serverProm, 'istio_request_bytes_sum', { reporter: 'destination', grpc_response_status: '0' })).toBe(await value(clientProm, 'istio_request_bytes_sum', { reporter: 'source', grpc_response_status: '0' }));
    // Responses as the client decoded them and as the server encoded them: the same bytes.
    const responseBytes = await value(clientProm, 'istio_response_bytes_sum', { reporter: 'source', grpc_response_status: '0' });
    expect(responseBytes).toBeGreaterThan(5 * 5);
    expect(await value(serverProm, 'istio_response_bytes_sum', { reporter: 'destination', grpc_response_status: '0' })).toBe(responseBytes);
    // The exchange metadata never reaches the handler.
    expect(seenByHandler.every((m) => m['x-envoy-peer-metadata'] === undefined && m['x-envoy-peer-metadata-id'] === undefined)).toBe(true);
    expect(seenByHandler.at(-1)!['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts streamed messages, and records a call the server denied as PERMISSION_DENIED on both ends', async () => {
    const api = client as unknown as { Watch(m: Msg): grpc.ClientReadableStream<Msg>; Chat(): grpc.ClientDuplexStream<Msg, Msg> };
    await new Promise<void>((resolve, reject) => {
      const s = api.Watch({ text: 'w' });
      s.on('data', () => {});
      s.on('error', reject);
      s.on('end', resolve);
    });
    expect(await value(clientProm, 'istio_response_messages_total', { reporter: 'source', grpc_response_status: '0' })).toBe(5 + 3);
    expect(await value(serverProm, 'istio_response_messages_total', { reporter: 'destination', grpc_response_status: '0' })).toBe(5 + 3);
    const denied = await new Promise<number>((resolve) => {
      const d = api.Chat();
      d.on('data', () => {});
      d.on('error', (e: grpc.ServiceError) => resolve(e.code));
      d.on('end', () => resolve(0));
      d.end();
    });
    expect(denied).toBe(grpc.status.PERMISSION_DENIED);
    expect(await value(serverProm, 'istio_requests_total', { reporter: 'destination', grpc_response_status: '7', response_code: '200', source_workload: 'caller-1' })).toBe(1);
    expect(await value(clientProm, 'istio_requests_total', { reporter: 'source', grpc_response_status: '7', destination_workload: 'echo-v1' })).toBe(1);
  });

  it('one trace across the call: the server span is a child of the client span', async () => {
    exporter.reset();
    await say(client, 'traced');
    const spans = exporter.getFinishedSpans();
    const clientSpan = spans.find((s) => s.kind === 2 /* CLIENT */);
    const serverSpan = spans.find((s) => s.kind === 1 /* SERVER */);
    expect(clientSpan?.name).toBe('echo.default.svc.cluster.local:9090/*');
    expect(serverSpan).toBeDefined();
    expect(serverSpan!.spanContext().traceId).toBe(clientSpan!.spanContext().traceId);
    expect(serverSpan!.parentSpanContext?.spanId).toBe(clientSpan!.spanContext().spanId);
  });
});

describe('across two hops', () => {
  it("the handler's own calls join the caller's trace, keep its x-request-id and are capped by its deadline", async () => {
    // A front server whose handler calls echo through the mesh (the second hop).
    const frontMesh = new Mesh({
      workload: { namespace: 'default', name: 'front-v1', labels: { app: 'front', version: 'v1' } }, telemetry: { registry: new Registry() }, meshConfig: TRACING,
      configYaml: `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${(server as unknown as { ports: { address(): { port: number } }[] }).ports[0]!.address().port}}, labels: {app: echo, version: v1}}
`,
    });
    const toEcho = createMeshClient(EchoClient, 'echo.default:9090', { mesh: frontMesh }) as EchoService;
    const front = new MeshGrpcServer({ mesh: frontMesh });
    const slowEcho = (text: string) => new Promise<{ code: number; id?: string }>((resolve) => {
      (toEcho as unknown as { Say(m: Msg, cb: (e: grpc.ServiceError | null, r: Msg) => void): void }).Say({ text }, (e, r) => resolve({ code: e?.code ?? 0, id: r?.metadata?.['x-request-id'] }));
    });
    front.addService(EchoClient.service, {
      Say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const t = performance.now();
        slowEcho(call.request.text).then((r) => (secondHop.push({ code: r.code, ms: performance.now() - t }), r)).then((r) => cb(null, { text: `${r.code}`, server: r.id ?? '', metadata: { 'x-request-id': String(call.metadata.get('x-request-id')[0] ?? '') } }));
      },
      Watch: (call: grpc.ServerWritableStream<Msg, Msg>) => call.end(),
      Collect: (_c: unknown, cb: grpc.sendUnaryData<Msg>) => cb(null, { text: '' }),
      Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => call.end(),
    });
    const secondHop: { code: number; ms: number }[] = [];
    const frontPort = await front.bindMesh('127.0.0.1:0');
    const entryMesh = new Mesh({
      workload: { namespace: 'default', name: 'entry', labels: { app: 'entry' } }, telemetry: { registry: new Registry() }, meshConfig: TRACING,
      configYaml: `apiVersion: v1
kind: Service
metadata: {name: front, namespace: default}
spec: {selector: {app: front}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: front-v1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${frontPort}}, labels: {app: front, version: v1}}
`,
    });
    const entry = createMeshClient(EchoClient, 'front.default:9090', { mesh: entryMesh }) as EchoService;
    try {
      exporter.reset();
      const r = await say(entry, 'two hops', { metadata: { 'x-request-id': 'req-2hop' } });
      expect(r.text).toBe('0');
      // The same request id at the front handler and at echo.
      expect(r.metadata!['x-request-id']).toBe('req-2hop');
      expect(r.server).toBe('req-2hop');
      const spans = exporter.getFinishedSpans();
      expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
      expect(spans).toHaveLength(4); // entry client, front server, front client, echo server
      const byName = (kind: number, name: string) => spans.find((s) => s.kind === kind && s.name.startsWith(name))!;
      const frontServer = spans.find((s) => s.kind === 1 && s.parentSpanContext?.spanId === byName(2, 'front.').spanContext().spanId)!;
      expect(frontServer).toBeDefined();
      expect(byName(2, 'echo.').parentSpanContext?.spanId).toBe(frontServer.spanContext().spanId);
      // The caller's deadline reaches the second hop: echo sleeps 2 s, the entry call allows 300 ms.
      const t0 = performance.now();
      const slow = await say(entry, 'sleep:2000', { deadlineMs: 300 }).then(() => 0, (e: grpc.ServiceError) => e.code);
      expect(slow).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(performance.now() - t0).toBeLessThan(1500);
      // The front's own call to echo (no deadline of its own) ended at the caller's deadline too, not after echo's 2 s.
      for (let i = 0; i < 100 && secondHop.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      expect(secondHop[1]!.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(secondHop[1]!.ms).toBeLessThan(1000);
    } finally {
      entry.close();
      toEcho.close();
      front.forceShutdown();
      await entryMesh.close();
      await frontMesh.close();
    }
  });
});
