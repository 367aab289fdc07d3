import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Tracer } from '@opentelemetry/api';
import { RPCType, setRPCMetadata, suppressTracing } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingSpec } from '@meshwork/policy';
import {
  decideSampling, existingServerSpan, getRequestId, injectHandleTraceHeaders, istioOperation, newRequestId, istioSpanTags, localWorkload, MeshPropagator, samplingPolicy, startClientSpan,
  startServerSpan, traceReasonOf, withTraceReason, type HeaderBag,
} from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => provider.register());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const spec = (over: Partial<TracingSpec> = {}): TracingSpec => ({
  provider: { name: 'otel', kind: 'opentelemetry' }, disabled: false, samplingPercentage: 100, customTags: [], useRequestIdForTraceSampling: true,
  enableIstioTags: true, disableContextPropagation: false, ...over,
});
const op = istioOperation('reviews.default.svc.cluster.local', 9080);
const finished = () => exporter.getFinishedSpans();

describe('propagation (W3C and B3)', () => {
  const p = new MeshPropagator();
  const extract = (h: HeaderBag, prop = p) => trace.getSpanContext(prop.extract(ROOT_CONTEXT, h));

  it('extracts W3C, B3 single and B3 multi (16-hex trace ids padded)', () => {
    expect(extract({ traceparent: `00-${TRACE}-${PARENT}-01` })).toMatchObject({ traceId: TRACE, spanId: PARENT, traceFlags: 1, isRemote: true });
    expect(extract({ b3: `${TRACE}-${PARENT}-0` })).toMatchObject({ traceId: TRACE, spanId: PARENT, traceFlags: 0 });
    expect(extract({ 'x-b3-traceid': '8448eb211c80319c', 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' })).toMatchObject({ traceId: `0000000000000000${'8448eb211c80319c'}`, spanId: PARENT, traceFlags: 1 });
    expect(extract({ 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-flags': '1' })?.traceFlags).toBe(1); // debug implies sampled
    expect(extract({})).toBeUndefined();
  });

  it('prefers W3C by default and B3 for a Zipkin mesh when both are present', () => {
    const h = { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': '1111111111111111', 'x-b3-sampled': '1' };
    expect(extract(h)?.spanId).toBe(PARENT);
    expect(extract(h, new MeshPropagator({ prefer: 'b3' }))?.spanId).toBe('1111111111111111');
  });

  it('injects both W3C and B3 multi-header', () => {
    const headers: HeaderBag = {};
    const ctx = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: PARENT, traceFlags: TraceFlags.SAMPLED });
    p.inject(ctx, headers);
    expect(headers).toEqual({ traceparent: `00-${TRACE}-${PARENT}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' });
    const single: HeaderBag = {};
    new MeshPropagator({ inject: ['b3single'] }).inject(ctx, single);
    expect(single).toEqual({ b3: `${TRACE}-${PARENT}-1` });
  });
});

describe('server spans', () => {
  it("injectHandleTraceHeaders writes the server span's context over the caller's: its own format in place, other formats' headers removed, nothing for a span without ids", () => {
    const headers: HeaderBag = { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1', 'x-other': 'kept' };
    const h = startServerSpan({ headers, method: 'GET', target: '/', operation: op, tracing: spec() });
    injectHandleTraceHeaders(h, headers, new MeshPropagator({ inject: ['w3c'] }));
    const sc = h.span.spanContext();
    expect(sc.traceId).toBe(TRACE);
    expect(sc.spanId).not.toBe(PARENT);
    expect(headers).toEqual({ traceparent: `00-${TRACE}-${sc.spanId}-01`, 'x-other': 'kept' });
    // B3 only: traceparent goes, the B3 headers carry the same span.
    injectHandleTraceHeaders(h, headers, new MeshPropagator({ prefer: 'b3', inject: ['b3multi'] }));
    expect(headers).toEqual({ 'x-b3-traceid': TRACE, 'x-b3-spanid': sc.spanId, 'x-b3-sampled': '1', 'x-other': 'kept' });
    h.end({ statusCode: 200 });
    // Tracing suppressed: the handle has no span of its own, and the headers stay as they are.
    const quiet = startServerSpan({ headers: { traceparent: `00-${TRACE}-${PARENT}-01` }, method: 'GET', target: '/', operation: op, tracing: spec(), parentContext: suppressTracing(ROOT_CONTEXT) });
    const untouched: HeaderBag = { traceparent: 'as sent' };
    injectHandleTraceHeaders(quiet, untouched);
    expect(untouched).toEqual({ traceparent: 'as sent' });
  });

  it('joins the caller, names the span as Istio does, and records HTTP semantic conventions', () => {
    const headers: HeaderBag = { traceparent: `00-${TRACE}-${PARENT}-01`, 'user-agent': 'curl/8', 'x-request-id': 'req-1', 'x-team': 'payments' };
    const local = localWorkload({ namespace: 'default', labels: { app: 'reviews', version: 'v2' }, clusterId: 'Kubernetes' });
    const h = startServerSpan({
      headers, method: 'GET', target: '/reviews/1?x=1', authority: 'reviews:9080', port: 9080, clientAddress: '10.0.0.9', operation: op,
      tracing: spec({ customTags: [{ tag: 'team', kind: 'header', name: 'x-team', defaultValue: 'none' }, { tag: 'env', kind: 'literal', value: 'prod' }] }),
      istioTags: istioSpanTags(local, 'mesh1'),
    });
    expect(h).toMatchObject({ owned: true, sampled: true, requestId: 'req-1', decision: { sampled: true, reason: 'parent' } });
    expect(getRequestId(h.context)).toBe('req-1');
    h.end({ statusCode: 200 });
    const [s] = finished();
    expect(s).toMatchObject({ name: 'reviews.default.svc.cluster.local:9080/*', kind: SpanKind.SERVER });
    expect(s!.spanContext().traceId).toBe(TRACE);
    expect(s!.parentSpanContext?.spanId).toBe(PARENT);
    expect(s!.attributes).toEqual({
      'http.request.method': 'GET', 'url.path': '/reviews/1', 'url.query': 'x=1', 'url.scheme': 'http', 'server.address': 'reviews', 'server.port': 9080,
      'client.address': '10.0.0.9', 'user_agent.original': 'curl/8', 'guid:x-request-id': 'req-1',
      'istio.canonical_revision': 'v2', 'istio.canonical_service': 'reviews', 'istio.mesh_id': 'mesh1', 'istio.namespace': 'default', 'istio.cluster_id': 'Kubernetes',
      team: 'payments', env: 'prod', 'http.response.status_code': 200,
    });
    expect(s!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('marks 5xx as errors with the response flags, and generates a UUID request id', () => {
    const h = startServerSpan({ headers: {}, method: 'PURGE', target: '/', operation: op, tracing: spec() });
    expect(h.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(traceReasonOf(h.requestId)).toBe('sampled'); // Meshwork sampled it: Envoy's nibble says so
    h.end({ statusCode: 503, responseFlags: ['UO'] });
    const [s] = finished();
    expect(s!.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE', 'error.type': '503', response_flags: 'UO' });
    expect(s!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('adopts the span of @opentelemetry/instrumentation-http instead of making a second one', () => {
    const tracer = trace.getTracer('@opentelemetry/instrumentation-http');
    const httpSpan = tracer.startSpan('GET', { kind: SpanKind.SERVER });
    const ctx = setRPCMetadata(trace.setSpan(ROOT_CONTEXT, httpSpan), { type: RPCType.HTTP, span: httpSpan });
    expect(existingServerSpan(ctx)).toBe(httpSpan);
    const h = startServerSpan({ headers: {}, method: 'GET', target: '/', operation: op, tracing: spec(), parentContext: ctx });
    expect(h.owned).toBe(false);
    expect(h.span).toBe(httpSpan);
    h.end({ statusCode: 200 });
    httpSpan.end();
    expect(finished().map((s) => s.name)).toEqual(['GET']);
    // Also recognised by the instrumentation scope when the RPC metadata is missing.
    const bare = tracer.startSpan('GET', { kind: SpanKind.SERVER });
    expect(existingServerSpan(trace.setSpan(ROOT_CONTEXT, bare))).toBe(bare);
    expect(existingServerSpan(trace.setSpan(ROOT_CONTEXT, trace.getTracer('app').startSpan('x')))).toBeUndefined();
  });

  it('makes no span in a suppressed context', () => {
    const h = startServerSpan({ headers: {}, method: 'GET', target: '/', operation: op, tracing: spec(), parentContext: suppressTracing(ROOT_CONTEXT) });
    h.end({ statusCode: 200 });
    expect(h.owned).toBe(false);
    expect(finished()).toHaveLength(0);
  });

  it('a tracer that throws never breaks the request', () => {
    const bad = { startSpan: () => { throw new Error('boom'); }, startActiveSpan: () => { throw new Error('boom'); } } as unknown as Tracer;
    const h = startServerSpan({ headers: { 'x-request-id': 'r' }, method: 'GET', target: '/', operation: op, tracing: spec(), tracer: bad });
    expect(h.owned).toBe(false);
    expect(() => h.end({ statusCode: 200 })).not.toThrow();
    expect(h.requestId).toBe('r');
  });
});

describe('client spans', () => {
  it("is a child of the server span, injects the provider's format (W3C for OpenTelemetry), drops stale copies of both, and carries x-request-id", () => {
    const server = startServerSpan({ headers: { traceparent: `00-${TRACE}-${PARENT}-01`, 'x-request-id': 'req-9' }, method: 'GET', target: '/', operation: op, tracing: spec() });
    // Headers an application copied from the inbound request (Istio's advice) are replaced, not duplicated.
    const headers: HeaderBag = { 'x-b3-traceid': 'stale', 'x-b3-spanid': 'stale', b3: 'stale', traceparent: 'stale' };
    const client = context.with(server.context, () =>
      startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/ratings/1', operation: istioOperation('ratings.default.svc.cluster.local', 9080), tracing: spec(), upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local' }),
    );
    const sc = client.span.spanContext();
    expect(headers).toEqual({ 'x-request-id': 'req-9', traceparent: `00-${TRACE}-${sc.spanId}-01` });
    client.end({ statusCode: 404 });
    server.end({ statusCode: 200 });
    const [c, s] = finished();
    expect(c).toMatchObject({ kind: SpanKind.CLIENT, name: 'ratings.default.svc.cluster.local:9080/*' });
    expect(c!.parentSpanContext?.spanId).toBe(s!.spanContext().spanId);
    expect(c!.attributes).toMatchObject({ 'url.full': 'http://ratings:9080/ratings/1', 'server.address': 'ratings', 'server.port': 9080, upstream_cluster: 'outbound|9080||ratings.default.svc.cluster.local', 'http.response.status_code': 404, 'error.type': '404' });
    expect(c!.status.code).toBe(SpanStatusCode.ERROR); // 4xx is an error on the client side
  });

  it('writes B3 multi-header with the parent span id for a Zipkin provider, W3C and B3 with no provider', () => {
    const zipkin = spec({ provider: { name: 'zipkin', kind: 'zipkin' } });
    const server = startServerSpan({ headers: { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' }, method: 'GET', target: '/', operation: op, tracing: zipkin });
    const headers: HeaderBag = { traceparent: 'stale' };
    const client = context.with(server.context, () => startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: zipkin }));
    const sc = client.span.spanContext();
    expect(headers).toEqual({ 'x-request-id': client.requestId, 'x-b3-traceid': TRACE, 'x-b3-spanid': sc.spanId, 'x-b3-sampled': '1', 'x-b3-parentspanid': server.span.spanContext().spanId });
    client.end({ statusCode: 200 });
    server.end({ statusCode: 200 });
    // No Telemetry provider (the application's OTEL_* set-up decides): both formats go out.
    const both: HeaderBag = {};
    const own = startClientSpan({ headers: both, requestHeaders: { traceparent: `00-${TRACE}-${PARENT}-01` }, method: 'GET', url: 'http://ratings:9080/', operation: op });
    const id = own.span.spanContext().spanId;
    expect(both).toMatchObject({ traceparent: `00-${TRACE}-${id}-01`, 'x-b3-traceid': TRACE, 'x-b3-spanid': id, 'x-b3-sampled': '1' });
    own.end({ statusCode: 200 });
  });

  it('leaves spans to @opentelemetry/instrumentation-undici when it listens, and still sets x-request-id', () => {
    const listener = () => {};
    subscribe('undici:request:create', listener);
    try {
      const headers: HeaderBag = {};
      const h = startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: spec() });
      expect(h.owned).toBe(false);
      expect(Object.keys(headers)).toEqual(['x-request-id']);
      const forced = startClientSpan({ headers: {}, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: spec(), spans: 'always' });
      expect(forced.owned).toBe(true);
      forced.end({ statusCode: 200 });
    } finally {
      unsubscribe('undici:request:create', listener);
    }
    expect(finished()).toHaveLength(1);
  });

  it('disableContextPropagation: a span, but no trace headers', () => {
    const headers: HeaderBag = { traceparent: 'copied' };
    const h = startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: spec({ disableContextPropagation: true }) });
    h.end({ statusCode: 200 });
    expect(finished()).toHaveLength(1);
    expect(headers.traceparent).toBe('copied');
  });
});

describe('request ids', () => {
  it('are UUID v4 in lower-case hex, distinct, with uniformly random digits (chi-square bound)', () => {
    const n = 20_000; // several refills of the pool (112 ids each)
    const ids = Array.from({ length: n }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(n);
    expect(traceReasonOf(ids[0])).toBeUndefined(); // a fresh id carries no trace reason
    // The first character (what Envoy's request-id sampler reads first) over 16 digits: the
    // chi-square statistic with 15 degrees of freedom stays under 37.7 (p = 0.001) for uniform digits.
    const counts = new Array<number>(16).fill(0);
    for (const id of ids) counts[Number.parseInt(id[0]!, 16)]!++;
    const expected = n / 16;
    const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(37.7);
  });
});

describe('sampling', () => {
  it('0 %: nothing recorded, the not-sampled decision propagates', () => {
    const server = startServerSpan({ headers: {}, method: 'GET', target: '/', operation: op, tracing: spec({ samplingPercentage: 0 }) });
    const headers: HeaderBag = {};
    const client = context.with(server.context, () => startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: spec({ samplingPercentage: 0 }) }));
    client.end({ statusCode: 200 });
    server.end({ statusCode: 200 });
    expect(finished()).toHaveLength(0);
    expect(server.sampled).toBe(false);
    expect(headers.traceparent).toMatch(new RegExp(`^00-${server.span.spanContext().traceId}-[0-9a-f]{16}-00$`));
    expect(headers['x-b3-sampled']).toBeUndefined(); // OpenTelemetry provider: W3C only
    expect(traceReasonOf(server.requestId)).toBeUndefined();
  });

  it('an upstream decision wins over the percentage; x-client-trace-id and x-envoy-force-trace force a trace', () => {
    const t = spec({ samplingPercentage: 0 });
    expect(startServerSpan({ headers: { traceparent: `00-${TRACE}-${PARENT}-01` }, method: 'GET', target: '/', operation: op, tracing: t }).sampled).toBe(true);
    expect(startServerSpan({ headers: { traceparent: `00-${TRACE}-${PARENT}-00` }, method: 'GET', target: '/', operation: op, tracing: spec() }).sampled).toBe(false);
    const c = startServerSpan({ headers: { 'x-client-trace-id': 'abc' }, method: 'GET', target: '/', operation: op, tracing: t });
    expect(c.decision).toEqual({ sampled: true, reason: 'client' });
    expect(traceReasonOf(c.requestId)).toBe('client');
    expect(startServerSpan({ headers: { 'x-envoy-force-trace': '1' }, method: 'GET', target: '/', operation: op, tracing: t }).decision?.reason).toBe('forced');
    // A request id an Envoy sidecar marked as sampled keeps its trace.
    expect(startServerSpan({ headers: { 'x-request-id': withTraceReason('3c7e7a6e-7a3b-4d2c-9f1e-2b8c8a1d0e4f', 'sampled') }, method: 'GET', target: '/', operation: op, tracing: t }).decision?.reason).toBe('request-id');
  });

  it('samples by the request id as Envoy does (uuid[0:8] % 10000 < percent × 100), stable per id', () => {
    const p = samplingPolicy(spec({ samplingPercentage: 1 }));
    expect(decideSampling(p, { requestId: '00000063-0000-4000-8000-000000000000' })).toEqual({ sampled: true, reason: 'random' }); // 99 < 100
    expect(decideSampling(p, { requestId: '00000064-0000-4000-8000-000000000000' }).sampled).toBe(false); // 100
    expect(decideSampling(p, { requestId: '00002710-0000-4000-8000-000000000000' }).sampled).toBe(true); // 0x2710 = 10000 → 0
    expect(decideSampling(p, { requestId: '00002710-0000-4000-8000-000000000000' })).toEqual(decideSampling(p, { requestId: '00002710-0000-4000-8000-000000000000' }));
  });

  it('random 10 % sampling stays within a statistical bound', () => {
    const p = samplingPolicy(spec({ samplingPercentage: 10 }));
    let n = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) if (decideSampling(p, { requestId: crypto.randomUUID() }).sampled) n++;
    // Binomial(20000, 0.1): sd ≈ 42; allow 5 sd.
    expect(Math.abs(n - N * 0.1)).toBeLessThan(5 * Math.sqrt(N * 0.1 * 0.9));
  });

  it('without Telemetry: OTEL_TRACES_SAMPLER semantics', () => {
    expect(samplingPolicy(undefined, {})).toMatchObject({ source: 'env', percentage: 100, parentBased: true });
    expect(decideSampling(samplingPolicy(undefined, { OTEL_TRACES_SAMPLER: 'always_off' }), { parentSampled: true }).sampled).toBe(false);
    expect(decideSampling(samplingPolicy(undefined, { OTEL_TRACES_SAMPLER: 'parentbased_always_off' }), { parentSampled: true }).sampled).toBe(true);
    expect(decideSampling(samplingPolicy(undefined, { OTEL_TRACES_SAMPLER: 'parentbased_always_off' }), {}).sampled).toBe(false);
    const ratio = samplingPolicy(undefined, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    expect(ratio.percentage).toBe(50);
    // OpenTelemetry's TraceIdRatioBased hash: XOR of the 32-bit words.
    expect(decideSampling(ratio, { traceId: '00000000000000000000000000000001' }).sampled).toBe(true);
    expect(decideSampling(ratio, { traceId: 'ffffffff000000000000000000000000' }).sampled).toBe(false);
    expect(samplingPolicy(undefined, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: 'x' }).percentage).toBe(100);
    // The SDK decides new traces itself; Meshwork's span follows it.
    const h = startServerSpan({ headers: {}, method: 'GET', target: '/', operation: op, env: {} });
    expect(h).toMatchObject({ owned: true, sampled: true });
  });

  it('disableSpanReporting: no span, the incoming context passes through unchanged', () => {
    const server = startServerSpan({ headers: { traceparent: `00-${TRACE}-${PARENT}-01` }, method: 'GET', target: '/', operation: op, tracing: spec({ disabled: true }) });
    const headers: HeaderBag = {};
    context.with(server.context, () => startClientSpan({ headers, method: 'GET', url: 'http://ratings:9080/', operation: op, tracing: spec({ disabled: true }) })).end({ statusCode: 200 });
    server.end({ statusCode: 200 });
    expect(finished()).toHaveLength(0);
    expect(headers.traceparent).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(headers['x-b3-parentspanid']).toBeUndefined();
  });

  it('packs and reads Envoy trace reasons in UUID request ids only', () => {
    const id = '3c7e7a6e-7a3b-4d2c-9f1e-2b8c8a1d0e4f';
    expect(withTraceReason(id, 'forced')).toBe('3c7e7a6e-7a3b-ad2c-9f1e-2b8c8a1d0e4f');
    expect(traceReasonOf(withTraceReason(id, 'forced'))).toBe('forced');
    expect(withTraceReason(withTraceReason(id, 'sampled'), 'none')).toBe(id);
    expect(withTraceReason('not-a-uuid', 'sampled')).toBe('not-a-uuid');
  });
});
