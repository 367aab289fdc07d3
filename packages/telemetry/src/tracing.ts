/**
 * Tracing the way an Istio sidecar traces, through the OpenTelemetry API only: spans attach to
 * whatever tracer provider the application registered (none: nothing is recorded, context still
 * propagates).
 *
 * Propagation. Extract reads W3C Trace Context (`traceparent`, `tracestate`) or B3 (`b3` single,
 * or `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`), whichever is present; when
 * both are and disagree, the preferred family wins (`w3c` by default, `b3` for a Zipkin tracing
 * provider, since in an Envoy mesh each tracer reads and rewrites only its own headers). Inject
 * writes both W3C and B3 multi-header (with `x-b3-parentspanid`), so Zipkin-configured Envoy
 * sidecars (B3; Istio's `zipkin` tracer) and OpenTelemetry-configured ones (W3C; Istio's
 * `opentelemetry` provider) join the same trace. Istio's default installation has no tracer
 * (`global.proxy.tracer: none`); tracing starts with a Telemetry resource naming a provider.
 * Stale copies of trace headers in an outgoing request (Istio asks applications to copy them)
 * are replaced, never duplicated.
 *
 * `x-request-id`: kept when present, else a new UUID v4, carried in the context
 * from the inbound request to the outbound ones. When Meshwork makes the sampling decision it
 * records it in the UUID's version nibble as Envoy does (uuid request-id extension:
 * '9' sampled, 'a' forced, 'b' client-forced), so Envoy sidecars downstream keep it.
 *
 * Sampling (`decideSampling`): an upstream decision (sampled flag of the parent) always wins; else
 * with a Telemetry tracing spec, Envoy's order — a trace reason in `x-request-id`,
 * `x-client-trace-id`, `x-envoy-force-trace`, then `randomSamplingPercentage` over the request id
 * (`useRequestIdForTraceSampling`, Envoy's `uuid[0:8] % 10000`) or at random; without one,
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` semantics, which for new traces the
 * application's SDK applies itself.
 *
 * No duplicate spans: an inbound request already traced by @opentelemetry/instrumentation-http
 * carries its server span in the context (@opentelemetry/core's RPC metadata, set for every
 * incoming request) — Meshwork then uses that span instead of starting one. Outbound,
 * @opentelemetry/instrumentation-undici creates its client span (and injects headers with the
 * global propagator) from the `undici:request:create` diagnostics channel, below Meshwork's
 * dispatcher; when that channel has subscribers Meshwork starts no client span and injects
 * nothing but `x-request-id` (register `new MeshPropagator()` globally to get B3 too). Contexts
 * marked with `suppressTracing` (exporters' own requests) get no span.
 */
import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { randomFillSync } from 'node:crypto';
import {
  context as otelContext, createContextKey, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags,
  type Attributes, type Context, type Span, type SpanContext, type TextMapGetter, type TextMapPropagator, type TextMapSetter, type Tracer,
} from '@opentelemetry/api';
import { createRequire } from 'node:module';
import type * as OtelCore from '@opentelemetry/core';
import type * as OtelB3 from '@opentelemetry/propagator-b3';
import type { CustomTag, TracingSpec } from '@meshwork/policy';
import type { LocalWorkload } from './peer-metadata.js';
import * as sc from './semconv.js';

export const TRACER_NAME = '@meshwork/telemetry';

// @opentelemetry/core and propagator-b3 are loaded when a trace header is first read or a
// propagator's own inject is used, not with this module: they (and the semantic conventions
// core pulls in) cost ~3.4 MB of every client's RSS, and a workload that only sends requests
// writes its headers without them (injectSpanContext). Both are CommonJS packages.
const requireCjs = createRequire(import.meta.url);
let otelPropagators: { w3c: TextMapPropagator; b3Multi: TextMapPropagator; b3Single: TextMapPropagator } | undefined;
function propagators(): NonNullable<typeof otelPropagators> {
  if (!otelPropagators) {
    const core = requireCjs('@opentelemetry/core') as typeof OtelCore;
    const b3 = requireCjs('@opentelemetry/propagator-b3') as typeof OtelB3;
    otelPropagators = {
      w3c: new core.W3CTraceContextPropagator(),
      b3Multi: new b3.B3Propagator({ injectEncoding: b3.B3InjectEncoding.MULTI_HEADER }),
      b3Single: new b3.B3Propagator({ injectEncoding: b3.B3InjectEncoding.SINGLE_HEADER }),
    };
  }
  return otelPropagators;
}

// The context keys of @opentelemetry/core's suppressTracing and RPC metadata (createContextKey
// is Symbol.for, so these are the very keys core and the instrumentations set).
const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const RPC_METADATA_KEY = createContextKey('OpenTelemetry SDK Context Key RPC_METADATA');
function isTracingSuppressed(ctx: Context): boolean {
  return ctx.getValue(SUPPRESS_TRACING_KEY) === true;
}
function getRPCMetadata(ctx: Context): { type?: string; span?: Span } | undefined {
  return ctx.getValue(RPC_METADATA_KEY) as { type?: string; span?: Span } | undefined;
}
export const REQUEST_ID_HEADER = 'x-request-id';
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';
export const B3_HEADER = 'b3';
export const X_B3_TRACE_ID = 'x-b3-traceid';
export const X_B3_SPAN_ID = 'x-b3-spanid';
export const X_B3_PARENT_SPAN_ID = 'x-b3-parentspanid';
export const X_B3_SAMPLED = 'x-b3-sampled';
export const X_B3_FLAGS = 'x-b3-flags';
export const CLIENT_TRACE_ID_HEADER = 'x-client-trace-id';
export const FORCE_TRACE_HEADER = 'x-envoy-force-trace';

/** A header object with lower-case names, as node:http and the dispatchers use. */
export type HeaderBag = Record<string, string | string[] | undefined>;

const getter: TextMapGetter<HeaderBag> = {
  keys: (c) => Object.keys(c),
  get: (c, k) => c[k.toLowerCase()],
};
const setter: TextMapSetter<HeaderBag> = {
  set: (c, k, v) => {
    c[k.toLowerCase()] = v;
  },
};

function first(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v?.[0];
}

// ---------------------------------------------------------------------------------------------
// Propagation

export type TraceHeaderFormat = 'w3c' | 'b3multi' | 'b3single';

export interface MeshPropagatorOptions {
  /** The family that wins when W3C and B3 headers disagree (default `w3c`). */
  prefer?: 'w3c' | 'b3' | undefined;
  /** Formats written on inject (default `['w3c', 'b3multi']`). */
  inject?: readonly TraceHeaderFormat[] | undefined;
}

/** Every trace header Meshwork reads or writes (W3C and B3 single and multi). */
export const ALL_TRACE_FIELDS: readonly string[] = [TRACEPARENT_HEADER, TRACESTATE_HEADER, B3_HEADER, X_B3_TRACE_ID, X_B3_SPAN_ID, X_B3_PARENT_SPAN_ID, X_B3_SAMPLED, X_B3_FLAGS];

/**
 * A TextMapPropagator that reads W3C or B3 and writes W3C and B3. Usable as the application's
 * global propagator (`propagation.setGlobalPropagator(new MeshPropagator())`).
 */
export class MeshPropagator implements TextMapPropagator<HeaderBag> {
  private readonly preferB3: boolean;
  private readonly formats: readonly TraceHeaderFormat[];

  constructor(options: MeshPropagatorOptions = {}) {
    this.preferB3 = options.prefer === 'b3';
    this.formats = options.inject ?? ['w3c', 'b3multi'];
  }

  /** The readers in order of preference (W3C first unless B3 is preferred). */
  private get order(): TextMapPropagator[] {
    const p = propagators();
    return this.preferB3 ? [p.b3Multi, p.w3c] : [p.w3c, p.b3Multi];
  }

  inject(ctx: Context, carrier: HeaderBag, set: TextMapSetter<HeaderBag> = setter): void {
    const p = propagators();
    for (const f of this.formats) (f === 'w3c' ? p.w3c : f === 'b3multi' ? p.b3Multi : p.b3Single).inject(ctx, carrier, set);
  }

  /**
   * The headers `inject` writes for a span context, without building a context (the outbound
   * hot path): W3C `traceparent`/`tracestate`, B3 multi or single. `debug`: the B3 debug flag
   * of the request (`x-b3-flags: 1`), which replaces the sampled flag as in B3.
   */
  injectSpanContext(sc: SpanContext, carrier: HeaderBag, debug = false): void {
    const sampled = (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    for (const f of this.formats) {
      if (f === 'w3c') {
        carrier[TRACEPARENT_HEADER] = `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags === 1 ? '01' : sc.traceFlags === 0 ? '00' : (sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
        if (sc.traceState) carrier[TRACESTATE_HEADER] = sc.traceState.serialize();
      } else if (f === 'b3multi') {
        carrier[X_B3_TRACE_ID] = sc.traceId;
        carrier[X_B3_SPAN_ID] = sc.spanId;
        if (debug) carrier[X_B3_FLAGS] = '1';
        else carrier[X_B3_SAMPLED] = sampled ? '1' : '0';
      } else {
        carrier[B3_HEADER] = `${sc.traceId}-${sc.spanId}-${debug ? 'd' : sampled ? '1' : '0'}`;
      }
    }
  }

  extract(ctx: Context, carrier: HeaderBag, get: TextMapGetter<HeaderBag> = getter): Context {
    for (const p of this.order) {
      const out = p.extract(ctx, carrier, get);
      if (out !== ctx) return out;
    }
    return ctx;
  }

  fields(): string[] {
    return [...ALL_TRACE_FIELDS];
  }
}

/** @opentelemetry/propagator-b3 keeps an extracted debug flag under this key (createContextKey is Symbol.for). */
const B3_DEBUG_FLAG_KEY = createContextKey('OpenTelemetry Context Key B3 Debug Flag');

const defaultPropagator = new MeshPropagator();
const b3Propagator = new MeshPropagator({ prefer: 'b3', inject: ['b3multi'] });
const w3cPropagator = new MeshPropagator({ inject: ['w3c'] });

/**
 * The propagator for a tracing spec. Both formats are read whatever the provider (a caller that
 * speaks only B3 still joins the trace); what is written is the provider's own format, as
 * Envoy's tracer for that provider writes it: B3 multi-header for Zipkin, W3C `traceparent`
 * for OpenTelemetry and Stackdriver. Other providers' native headers (Datadog, Lightstep,
 * SkyWalking) are not made in-process, and with no provider (the application's own OTEL_*
 * setup) the exact format is unknown: both W3C and B3 are written then. Each header costs
 * about 0.3 us of client CPU per request (bench/), hence not writing formats nobody reads.
 */
export function propagatorFor(spec: TracingSpec | null | undefined): MeshPropagator {
  switch (spec?.provider?.kind) {
    case 'zipkin':
      return b3Propagator;
    case 'opentelemetry':
    case 'stackdriver':
      return w3cPropagator;
    default:
      return defaultPropagator;
  }
}

// ---------------------------------------------------------------------------------------------
// x-request-id

const REQUEST_ID_KEY = createContextKey('meshwork.request-id');
// Envoy's uuid request-id extension: the version nibble carries the trace reason.
const TRACE_BYTE_POSITION = 14;
const REASON_NIBBLE = { sampled: '9', forced: 'a', client: 'b' } as const;
export type TraceReason = keyof typeof REASON_NIBBLE;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The request id carried by a context (set by `startServerSpan`). */
export function getRequestId(ctx: Context = otelContext.active()): string | undefined {
  return ctx.getValue(REQUEST_ID_KEY) as string | undefined;
}

export function setRequestId(ctx: Context, id: string): Context {
  return ctx.setValue(REQUEST_ID_KEY, id);
}

// Request ids are cut from a string of ready-made UUIDs (v4: version nibble 4, variant 8-b),
// formatted 112 at a time from one randomFillSync: each id is then one slice of a flat string.
// Joining pieces per id made a concatenated string that the sampler's first character read
// had to flatten again (both showed in profiles of the outbound path).
const UUIDS_PER_FILL = 112;
const UUID_RANDOM = Buffer.allocUnsafe(16 * UUIDS_PER_FILL);
const UUID_TEXT = Buffer.allocUnsafe(36 * UUIDS_PER_FILL);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
let uuids = '';
let uuidOffset = 0;

function refillUuids(): void {
  randomFillSync(UUID_RANDOM);
  let o = 0;
  for (let u = 0; u < UUIDS_PER_FILL; u++) {
    for (let i = 0; i < 16; i++) {
      let b = UUID_RANDOM[u * 16 + i]!;
      if (i === 6) b = (b & 0x0f) | 0x40;
      else if (i === 8) b = (b & 0x3f) | 0x80;
      if (i === 4 || i === 6 || i === 8 || i === 10) UUID_TEXT[o++] = 0x2d; // '-'
      UUID_TEXT[o++] = HEX_DIGITS[b >> 4]!;
      UUID_TEXT[o++] = HEX_DIGITS[b & 15]!;
    }
  }
  uuids = UUID_TEXT.toString('latin1');
  uuidOffset = 0;
}

/** A new request id: a random UUID v4 (lower-case hex), as Envoy's uuid request-id extension makes. */
export function newRequestId(): string {
  if (uuidOffset >= uuids.length) refillUuids();
  return uuids.slice(uuidOffset, (uuidOffset += 36));
}

/** The trace reason Envoy packed into a request id, if any. */
export function traceReasonOf(requestId: string | undefined): TraceReason | undefined {
  if (!requestId || requestId.length !== 36) return undefined;
  switch (requestId[TRACE_BYTE_POSITION]) {
    case '9':
      return 'sampled';
    case 'a':
      return 'forced';
    case 'b':
      return 'client';
    default:
      return undefined;
  }
}

/** Packs a trace reason into a UUID request id (uuid_impl: setTraceReason); other ids are returned as they are. */
export function withTraceReason(requestId: string, reason: TraceReason | 'none'): string {
  if (!UUID.test(requestId)) return requestId;
  const nibble = reason === 'none' ? '4' : REASON_NIBBLE[reason];
  return requestId.slice(0, TRACE_BYTE_POSITION) + nibble + requestId.slice(TRACE_BYTE_POSITION + 1);
}

// ---------------------------------------------------------------------------------------------
// Sampling

export interface SamplingPolicy {
  /** `telemetry`: a Telemetry tracing spec decides (Envoy semantics); `env`: OTEL_TRACES_SAMPLER semantics. */
  source: 'telemetry' | 'env';
  /** Percentage of new traces sampled (0..100). */
  percentage: number;
  /** Sample by the request id's hash (Envoy), else at random. */
  useRequestId: boolean;
  /** Follow the parent's decision when there is one. */
  parentBased: boolean;
  /** Spans are reported (false: `disableSpanReporting`, or no provider — context still propagates). */
  report: boolean;
}

/**
 * The sampling policy: from the Telemetry spec when there is one, else from the OpenTelemetry
 * environment variables (default `parentbased_always_on`).
 */
export function samplingPolicy(spec: TracingSpec | null | undefined, env: Readonly<Record<string, string | undefined>> = process.env): SamplingPolicy {
  if (spec) return { source: 'telemetry', percentage: clamp(spec.samplingPercentage, 0, 100), useRequestId: spec.useRequestIdForTraceSampling, parentBased: true, report: !spec.disabled };
  const sampler = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase() || 'parentbased_always_on';
  const arg = Number.parseFloat(env.OTEL_TRACES_SAMPLER_ARG ?? '');
  const ratio = Number.isFinite(arg) ? clamp(arg, 0, 1) : 1;
  const off = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  switch (sampler) {
    case 'always_on':
      return { source: 'env', percentage: 100, useRequestId: false, parentBased: false, report: !off };
    case 'always_off':
      return { source: 'env', percentage: 0, useRequestId: false, parentBased: false, report: !off };
    case 'traceidratio':
      return { source: 'env', percentage: ratio * 100, useRequestId: false, parentBased: false, report: !off };
    case 'parentbased_always_off':
      return { source: 'env', percentage: 0, useRequestId: false, parentBased: true, report: !off };
    case 'parentbased_traceidratio':
      return { source: 'env', percentage: ratio * 100, useRequestId: false, parentBased: true, report: !off };
    default: // parentbased_always_on, and unknown samplers fall back to the default (OTel spec)
      return { source: 'env', percentage: 100, useRequestId: false, parentBased: true, report: !off };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}

export interface SamplingInput {
  /** The parent's sampled flag; undefined when there is no parent. */
  parentSampled?: boolean | undefined;
  requestId?: string | undefined;
  /** `x-client-trace-id` is present (Envoy traces it: client sampling 100 %). */
  clientTraceId?: boolean | undefined;
  /** `x-envoy-force-trace` is present. */
  forceTrace?: boolean | undefined;
  /** The trace id (32 hex) the OTel ratio sampler hashes; default: a random draw. */
  traceId?: string | undefined;
  random?: (() => number) | undefined;
}

export type SamplingReason = 'parent' | 'request-id' | 'client' | 'forced' | 'random' | 'ratio';

export interface SamplingDecision {
  sampled: boolean;
  reason: SamplingReason;
}

/** Envoy's uuid request-id extension `toInteger`: the first 8 hex digits. */
function requestIdInteger(id: string): number | undefined {
  if (id.length < 8) return undefined;
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return undefined;
    v = v * 16 + d;
  }
  return v;
}

/** OpenTelemetry's TraceIdRatioBasedSampler hash (XOR of the 32-bit words of the trace id). */
function traceIdAccumulate(traceId: string): number {
  let acc = 0;
  for (let i = 0; i < traceId.length / 8; i++) acc = (acc ^ Number.parseInt(traceId.slice(i * 8, i * 8 + 8), 16)) >>> 0;
  return acc;
}

/** Decides whether a request is traced (see the module comment for the order). */
// Decisions are shared constants: one per (reason, outcome), nothing allocated per request.
const DECISIONS = new Map<SamplingReason, readonly [SamplingDecision, SamplingDecision]>(
  (['parent', 'request-id', 'client', 'forced', 'random', 'ratio'] as const).map((r) => [r, [Object.freeze({ sampled: false, reason: r }), Object.freeze({ sampled: true, reason: r })]]),
);
function decided(sampled: boolean, reason: SamplingReason): SamplingDecision {
  return DECISIONS.get(reason)![sampled ? 1 : 0];
}

export function decideSampling(policy: SamplingPolicy, input: SamplingInput = {}): SamplingDecision {
  const random = input.random ?? Math.random;
  if (policy.parentBased && input.parentSampled !== undefined) return decided(input.parentSampled, 'parent');
  if (policy.source === 'telemetry') {
    const prior = traceReasonOf(input.requestId);
    if (prior) return decided(true, 'request-id');
    if (input.clientTraceId) return decided(true, 'client');
    if (input.forceTrace) return decided(true, 'forced');
    // Percent → per ten thousand, rounded (PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT).
    const threshold = Math.round(policy.percentage * 100);
    const v = policy.useRequestId && input.requestId ? requestIdInteger(input.requestId) : undefined;
    const draw = v !== undefined ? v % 10000 : Math.floor(random() * 10000);
    return decided(draw < threshold, 'random');
  }
  if (policy.percentage >= 100) return decided(true, 'ratio');
  if (policy.percentage <= 0) return decided(false, 'ratio');
  const ratio = policy.percentage / 100;
  if (input.traceId && /^[0-9a-f]{32}$/i.test(input.traceId)) return decided(traceIdAccumulate(input.traceId) <= Math.floor(ratio * 0xffffffff), 'ratio');
  return decided(random() < ratio, 'ratio');
}

// ---------------------------------------------------------------------------------------------
// Existing instrumentation

/**
 * The server span of an instrumentation that already traces this inbound request
 * (@opentelemetry/instrumentation-http marks its context with RPC metadata of type HTTP).
 */
export function existingServerSpan(ctx: Context = otelContext.active()): Span | undefined {
  const rpc = getRPCMetadata(ctx);
  if (rpc?.type === 'http' && rpc.span) return rpc.span; // RPCType.HTTP
  const span = trace.getSpan(ctx) as (Span & { instrumentationScope?: { name?: string }; instrumentationLibrary?: { name?: string }; kind?: SpanKind }) | undefined;
  const scope = span?.instrumentationScope?.name ?? span?.instrumentationLibrary?.name;
  return scope === '@opentelemetry/instrumentation-http' && span?.kind === SpanKind.SERVER ? span : undefined;
}

// The channel object itself, held: hasSubscribers(name) looks the name up on every call (once per
// outbound request here); a held channel is the one undici and its instrumentation get by name.
const undiciRequestCreate = diagnosticsChannel('undici:request:create');

/** True when something (normally @opentelemetry/instrumentation-undici) creates a span for every undici request. */
export function undiciInstrumentationActive(): boolean {
  return undiciRequestCreate.hasSubscribers;
}

// ---------------------------------------------------------------------------------------------
// Spans

/** `<host>:<port><path>`: the operation (span) name Istio gives its routes (route.go: GetRouteOperation; telemetry.go: TraceOperation). */
export function istioOperation(host: string, port: number, path = '/*'): string {
  return `${host}:${port}${path}`;
}

/** Istio's service tags (tracing.go: buildServiceTags), computed once per local workload. */
export function istioSpanTags(local: LocalWorkload, meshId?: string): Attributes {
  return Object.freeze({
    [sc.TAG_ISTIO_CANONICAL_REVISION]: local.canonicalRevision || 'latest',
    [sc.TAG_ISTIO_CANONICAL_SERVICE]: local.canonicalService || 'unknown',
    [sc.TAG_ISTIO_MESH_ID]: meshId || 'unknown',
    [sc.TAG_ISTIO_NAMESPACE]: local.namespace || 'default',
    [sc.TAG_ISTIO_CLUSTER_ID]: local.clusterId || 'unknown',
  });
}

const staticTags = new WeakMap<readonly CustomTag[], { fixed: Attributes; headers: { tag: string; name: string; defaultValue: string }[] }>();

/** Custom tags: literals and environment values resolved once per spec, headers per request. */
function customTags(tags: readonly CustomTag[], headers: HeaderBag, env: Readonly<Record<string, string | undefined>>): Attributes | undefined {
  if (tags.length === 0) return undefined;
  let s = staticTags.get(tags);
  if (!s) {
    const fixed: Attributes = {};
    const hs: { tag: string; name: string; defaultValue: string }[] = [];
    for (const t of tags) {
      if (t.kind === 'literal') fixed[t.tag] = t.value;
      else if (t.kind === 'environment') {
        const v = env[t.name] ?? t.defaultValue;
        if (v) fixed[t.tag] = v;
      } else hs.push(t);
    }
    staticTags.set(tags, (s = { fixed, headers: hs }));
  }
  if (s.headers.length === 0) return s.fixed;
  const out: Attributes = { ...s.fixed };
  for (const h of s.headers) {
    const v = first(headers[h.name]) ?? h.defaultValue;
    if (v) out[h.tag] = v;
  }
  return out;
}

function method(m: string): Attributes {
  const up = m.toUpperCase();
  return sc.KNOWN_HTTP_METHODS.has(up) ? { [sc.ATTR_HTTP_REQUEST_METHOD]: up } : { [sc.ATTR_HTTP_REQUEST_METHOD]: '_OTHER', [sc.ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: m };
}

// Random ids for not-sampled spans (unique, not secret, as the OTel SDK's RandomIdGenerator):
// slices of a hex string made from 4 KiB of random bytes at a time.
const ID_BYTES = Buffer.allocUnsafe(4096);
let idHex = '';
let idOffset = 0;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
function randomHex(bytes: number): string {
  const len = bytes * 2;
  for (;;) {
    if (idOffset + len > idHex.length) {
      idHex = randomFillSync(ID_BYTES).toString('hex');
      idOffset = 0;
    }
    const id = idHex.slice(idOffset, (idOffset += len));
    if (id !== ZERO_TRACE_ID && id !== ZERO_SPAN_ID) return id; // all zero is an invalid id: draw again
  }
}

/** A span that is not recorded but carries ids and a not-sampled flag, so the decision propagates. */
function unsampledSpan(parent: SpanContext | undefined): Span {
  return trace.wrapSpanContext({ traceId: parent?.traceId ?? randomHex(16), spanId: randomHex(8), traceFlags: TraceFlags.NONE, traceState: parent?.traceState });
}

function isSampled(sc: SpanContext | undefined): boolean {
  return sc !== undefined && (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

export interface SpanResult {
  /** HTTP status (0: no response). */
  statusCode: number;
  /** Envoy response flags, recorded as the `response_flags` tag. */
  responseFlags?: readonly string[] | string | undefined;
  error?: unknown;
}

export interface SpanHandle {
  /** The span (an existing instrumentation's, a non-recording one when not sampled). */
  readonly span: Span;
  /** The context to continue in: holds the span and the request id (built on first read). */
  readonly context: Context;
  readonly requestId: string;
  /** Meshwork started (and will end) the span. */
  readonly owned: boolean;
  readonly sampled: boolean;
  readonly decision: SamplingDecision | undefined;
  /** Records the outcome and ends the span if Meshwork owns it. Never throws. */
  end(result: SpanResult): void;
}

interface CommonSpanOptions {
  /** Span name; Istio's form is `istioOperation(host, port)`. */
  operation: string;
  method: string;
  /** The Telemetry tracing spec of this direction (`compileTelemetry(...).tracing?.server` / `.client`); none: OTEL_* semantics. */
  tracing?: TracingSpec | null | undefined;
  /** `samplingPolicy(tracing)`, computed once per configuration (default: computed per call, which reads the OTEL_* variables). */
  sampling?: SamplingPolicy | undefined;
  /** `istioSpanTags(local)`, added when the spec's `enableIstioTags` is on (default on). */
  istioTags?: Attributes | undefined;
  tracer?: Tracer | undefined;
  propagator?: MeshPropagator | undefined;
  /** Default: the active context. */
  parentContext?: Context | undefined;
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

export interface ServerSpanOptions extends CommonSpanOptions {
  /** The incoming request headers (lower-case names). */
  headers: HeaderBag;
  /** The request target: path and query. */
  target: string;
  scheme?: 'http' | 'https' | undefined;
  /** `:authority` / Host. */
  authority?: string | undefined;
  port?: number | undefined;
  clientAddress?: string | undefined;
  clientPort?: number | undefined;
}

export interface ClientSpanOptions extends CommonSpanOptions {
  /** The outgoing request headers (lower-case names): trace headers and `x-request-id` are written here. */
  headers: HeaderBag;
  /**
   * The caller's headers, when `headers` is a separate object that collects only what is
   * written (read for `x-request-id`, copied trace headers and custom tags; never changed).
   * The caller then drops its own stale trace headers when the written ones include them.
   */
  requestHeaders?: HeaderBag | undefined;
  /** The request URL; or give `scheme`, `serverAddress`, `serverPort` and `target`, joined only when a span is recorded. */
  url?: string | URL | undefined;
  scheme?: 'http' | 'https' | undefined;
  serverAddress?: string | undefined;
  serverPort?: number | undefined;
  /** Path and query. */
  target?: string | undefined;
  /** The cluster the request goes to (Envoy's `upstream_cluster` tag). */
  upstreamCluster?: string | undefined;
  /** `auto` (default): no Meshwork client span when undici is instrumented; `always`; `never`. */
  spans?: 'auto' | 'always' | 'never' | undefined;
}

/**
 * Whether the application registered a tracer provider: the API's global provider is a proxy
 * whose delegate is the no-op provider until one is registered.
 */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
function tracerRegistered(): boolean {
  const p = trace.getTracerProvider() as unknown as { getDelegate?: () => object };
  if (typeof p.getDelegate !== 'function') return true;
  return p.getDelegate() !== NOOP_TRACER_PROVIDER;
}

function tracerOf(t: Tracer | undefined): Tracer {
  return t ?? trace.getTracer(TRACER_NAME);
}

function finish(span: Span, owned: boolean, kind: 'server' | 'client', r: SpanResult) {
  if (!owned) return;
  try {
    if (r.statusCode > 0) span.setAttribute(sc.ATTR_HTTP_RESPONSE_STATUS_CODE, r.statusCode);
    const flags = r.responseFlags === undefined ? undefined : typeof r.responseFlags === 'string' ? r.responseFlags : r.responseFlags.join(',');
    if (flags) span.setAttribute(sc.TAG_RESPONSE_FLAGS, flags);
    const failed = r.error !== undefined || r.statusCode === 0 || r.statusCode >= (kind === 'server' ? 500 : 400);
    if (failed) {
      const type = r.error instanceof Error ? (((r.error as { code?: unknown }).code as string | undefined) ?? r.error.name) : r.statusCode > 0 ? String(r.statusCode) : '_OTHER';
      span.setAttribute(sc.ATTR_ERROR_TYPE, type);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  } catch {
    // A tracer that throws must never break the request.
  }
}

const INVALID_SPAN = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: TraceFlags.NONE });

/** A span handle: one object per request, its context built only when someone reads it. */
class Handle implements SpanHandle {
  private ctx: Context | undefined;
  constructor(
    readonly span: Span,
    /** The parent context: the handle's context is it plus the span (`withSpan`) and the request id. */
    readonly parentContext: Context,
    private readonly withSpan: boolean,
    readonly requestId: string,
    readonly owned: boolean,
    readonly sampled: boolean,
    readonly decision: SamplingDecision | undefined,
    private readonly kind: 'server' | 'client',
  ) {}
  get context(): Context {
    return (this.ctx ??= setRequestId(this.withSpan ? trace.setSpan(this.parentContext, this.span) : this.parentContext, this.requestId));
  }
  end(r: SpanResult): void {
    finish(this.span, this.owned, this.kind, r);
  }
}

function noopHandle(ctx: Context, requestId: string, span: Span | undefined): SpanHandle {
  return new Handle(span ?? INVALID_SPAN, ctx, false, requestId, false, isSampled(span?.spanContext()), undefined, 'server');
}

/**
 * The caller's `x-request-id` when it is one Meshwork keeps (non-empty, at most 256
 * characters, the first of several), else undefined: the one rule for clients and servers,
 * with or without tracing.
 */
export function requestIdFrom(v: string | string[] | undefined): string | undefined {
  const id = first(v)?.trim();
  return id && id.length <= 256 ? id : undefined;
}

/**
 * Starts the server span of an inbound request (or adopts the span an HTTP instrumentation
 * already made), joined to the caller's trace. Run the handler in `handle.context`.
 *
 * @example
 * const h = startServerSpan({ headers: req.headers, method: req.method, target: req.url, authority: req.headers.host, port: 9080, operation: istioOperation('reviews.default.svc.cluster.local', 9080) });
 * context.with(h.context, () => handler(req, res));
 * res.on('finish', () => h.end({ statusCode: res.statusCode }));
 */
export function startServerSpan(o: ServerSpanOptions): SpanHandle {
  const base = o.parentContext ?? otelContext.active();
  let requestId = requestIdFrom(o.headers[REQUEST_ID_HEADER]) ?? newRequestId();
  try {
    if (isTracingSuppressed(base)) return noopHandle(base, requestId, trace.getSpan(base));
    const existing = existingServerSpan(base);
    if (existing) return noopHandle(base, requestId, existing);

    const spec = o.tracing ?? undefined;
    const propagator = o.propagator ?? propagatorFor(spec);
    const h = o.headers;
    const extracted = h[TRACEPARENT_HEADER] !== undefined || h[B3_HEADER] !== undefined || h[X_B3_TRACE_ID] !== undefined ? propagator.extract(base, h) : base;
    const parent = trace.getSpanContext(extracted);
    const remoteParent = parent && trace.isSpanContextValid(parent) ? parent : undefined;
    const policy = o.sampling ?? samplingPolicy(spec, o.env);
    if (!policy.report) {
      // Envoy without a tracer: no span, the incoming context passes through unchanged.
      return noopHandle(extracted, requestId, remoteParent ? trace.wrapSpanContext(remoteParent) : undefined);
    }
    const decision = decideSampling(policy, {
      parentSampled: remoteParent ? isSampled(remoteParent) : undefined,
      requestId,
      clientTraceId: o.headers[CLIENT_TRACE_ID_HEADER] !== undefined,
      forceTrace: o.headers[FORCE_TRACE_HEADER] !== undefined,
      traceId: remoteParent?.traceId,
    });
    if (policy.source === 'telemetry' && decision.sampled && (decision.reason === 'random' || decision.reason === 'client' || decision.reason === 'forced')) {
      requestId = withTraceReason(requestId, decision.reason === 'random' ? 'sampled' : decision.reason);
    }
    // Without Telemetry, a new trace is the SDK's to sample (it reads the same OTEL_* settings).
    const defer = policy.source === 'env' && remoteParent === undefined;
    // A new trace for an SDK that is not there: no span to make and nothing to propagate.
    if (defer && !o.tracer && !tracerRegistered()) return noopHandle(extracted, requestId, undefined);
    let span: Span;
    let owned = false;
    if (decision.sampled || defer) {
      const host = o.authority?.replace(/:\d+$/, '');
      const q = o.target.indexOf('?');
      const attributes: Attributes = {
        ...method(o.method),
        [sc.ATTR_URL_PATH]: q < 0 ? o.target : o.target.slice(0, q),
        ...(q >= 0 ? { [sc.ATTR_URL_QUERY]: o.target.slice(q + 1) } : {}),
        [sc.ATTR_URL_SCHEME]: o.scheme ?? 'http',
        ...(host ? { [sc.ATTR_SERVER_ADDRESS]: host } : {}),
        ...(o.port ? { [sc.ATTR_SERVER_PORT]: o.port } : {}),
        ...(o.clientAddress ? { [sc.ATTR_CLIENT_ADDRESS]: o.clientAddress } : {}),
        ...(o.clientPort ? { [sc.ATTR_CLIENT_PORT]: o.clientPort } : {}),
        ...(first(o.headers['user-agent']) ? { [sc.ATTR_USER_AGENT_ORIGINAL]: first(o.headers['user-agent'])! } : {}),
        [sc.TAG_REQUEST_ID]: requestId,
        ...(spec?.enableIstioTags !== false ? o.istioTags : undefined),
        ...customTags(spec?.customTags ?? [], o.headers, o.env ?? process.env),
      };
      span = tracerOf(o.tracer).startSpan(o.operation, { kind: SpanKind.SERVER, attributes }, extracted);
      owned = true;
    } else span = unsampledSpan(remoteParent);
    const sampled = isSampled(span.spanContext());
    return new Handle(span, extracted, true, requestId, owned, sampled, defer ? decided(sampled, 'ratio') : decision, 'server');
  } catch {
    return noopHandle(base, requestId, undefined);
  }
}

/**
 * Starts the client span of an outbound request and writes the propagation headers into
 * `o.headers` (or, when an undici instrumentation already traces requests, only
 * `x-request-id`).
 *
 * @example
 * const h = startClientSpan({ headers, method: 'GET', url: 'http://reviews:9080/reviews/1', operation: istioOperation('reviews.default.svc.cluster.local', 9080) });
 * // ... send with `headers`, then
 * h.end({ statusCode: 200 });
 */
export function startClientSpan(o: ClientSpanOptions): SpanHandle {
  let base = o.parentContext ?? otelContext.active();
  const src = o.requestHeaders ?? o.headers;
  const requestId = requestIdFrom(src[REQUEST_ID_HEADER]) ?? getRequestId(base) ?? newRequestId();
  o.headers[REQUEST_ID_HEADER] = requestId;
  try {
    if (isTracingSuppressed(base)) return noopHandle(base, requestId, trace.getSpan(base));
    if (o.spans === 'never' || (o.spans !== 'always' && undiciInstrumentationActive())) return noopHandle(base, requestId, trace.getSpan(base));

    const spec = o.tracing ?? undefined;
    const propagator = o.propagator ?? propagatorFor(spec);
    let parent = trace.getSpanContext(base);
    const h = src;
    // Trace headers copied from an inbound request (as Istio asks applications to do). Checked
    // by the three that start a context; a lone tracestate or x-b3-sampled is not looked for.
    const copied = h[TRACEPARENT_HEADER] !== undefined || h[B3_HEADER] !== undefined || h[X_B3_TRACE_ID] !== undefined;
    if (copied && (!parent || !trace.isSpanContextValid(parent))) {
      // No span in the context (no context manager, or none started): the copied headers are the parent.
      base = propagator.extract(base, h);
      parent = trace.getSpanContext(base);
    }
    const validParent = parent && trace.isSpanContextValid(parent) ? parent : undefined;
    const policy = o.sampling ?? samplingPolicy(spec, o.env);
    if (!policy.report) {
      // No span: the context passes through unchanged, as through an Envoy without a tracer.
      const pass = validParent ? trace.wrapSpanContext(validParent) : undefined;
      if (pass) injectClient(o, spec, propagator, base, validParent, pass, copied);
      return noopHandle(base, requestId, pass);
    }
    const decision = decideSampling(policy, { parentSampled: validParent ? isSampled(validParent) : undefined, requestId, traceId: validParent?.traceId });
    const defer = policy.source === 'env' && validParent === undefined;
    if (defer && !o.tracer && !tracerRegistered()) return noopHandle(base, requestId, undefined);
    let span: Span;
    let owned = false;
    if (decision.sampled || defer) {
      let href: string;
      let address: string;
      let port: number;
      if (o.url !== undefined) {
        const url = typeof o.url === 'string' ? new URL(o.url) : o.url;
        const scheme = url.protocol.replace(/:$/, '');
        href = url.href;
        address = url.hostname;
        port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
      } else {
        const scheme = o.scheme ?? 'http';
        address = o.serverAddress ?? '';
        port = o.serverPort ?? (scheme === 'https' ? 443 : 80);
        const host = address.includes(':') ? `[${address}]` : address;
        href = `${scheme}://${host}${port === (scheme === 'https' ? 443 : 80) ? '' : `:${port}`}${o.target ?? '/'}`;
      }
      const attributes: Attributes = {
        ...method(o.method),
        [sc.ATTR_URL_FULL]: href,
        [sc.ATTR_SERVER_ADDRESS]: address,
        [sc.ATTR_SERVER_PORT]: port,
        [sc.TAG_REQUEST_ID]: requestId,
        ...(o.upstreamCluster ? { [sc.TAG_UPSTREAM_CLUSTER]: o.upstreamCluster } : {}),
        ...(spec?.enableIstioTags !== false ? o.istioTags : undefined),
        ...customTags(spec?.customTags ?? [], src, o.env ?? process.env),
      };
      span = tracerOf(o.tracer).startSpan(o.operation, { kind: SpanKind.CLIENT, attributes }, base);
      owned = true;
    } else span = unsampledSpan(validParent);
    injectClient(o, spec, propagator, base, validParent, span, copied);
    const sampled = isSampled(span.spanContext());
    return new Handle(span, base, true, requestId, owned, sampled, defer ? decided(sampled, 'ratio') : decision, 'client');
  } catch {
    return noopHandle(base, requestId, undefined);
  }
}

/** Writes the client span's trace headers, replacing stale copies from the inbound request. */
function injectClient(o: ClientSpanOptions, spec: TracingSpec | undefined, propagator: MeshPropagator, base: Context, validParent: SpanContext | undefined, span: Span, copied: boolean): void {
  if (spec?.disableContextPropagation) return;
  const sc = span.spanContext();
  const ids = hasIds(sc);
  // Trace headers copied into the very object written here are stale: replaced as the server's are.
  const stale = copied && o.requestHeaders === undefined;
  if (!ids) {
    if (stale) for (const f of ALL_TRACE_FIELDS) delete o.headers[f];
    return;
  }
  const debug = base.getValue(B3_DEBUG_FLAG_KEY) === '1';
  if (stale) replaceTraceHeaders(sc, o.headers, propagator, debug);
  else propagator.injectSpanContext(sc, o.headers, debug);
  if (validParent && o.headers[X_B3_SPAN_ID] !== undefined && validParent.spanId !== sc.spanId) o.headers[X_B3_PARENT_SPAN_ID] = validParent.spanId;
}

/**
 * Whether a span carries ids to propagate. Spans come from a tracer, a remote parent the
 * propagator validated, or the ids made here: well-formed, so only the all-zero ids of a no-op
 * span need telling apart (the API's isSpanContextValid runs two regular expressions).
 */
function hasIds(sc: SpanContext): boolean {
  return sc.traceId !== ZERO_TRACE_ID && sc.spanId !== ZERO_SPAN_ID;
}

/**
 * Writes the trace context of `ctx` into inbound request headers (replacing what the caller
 * sent), as Envoy does before handing a request to the application: an application that
 * copies trace headers into its own requests then propagates the server span.
 */
export function injectTraceHeaders(ctx: Context, headers: HeaderBag, propagator: MeshPropagator = defaultPropagator): void {
  try {
    const sc = trace.getSpanContext(ctx);
    if (!sc || !trace.isSpanContextValid(sc) || isTracingSuppressed(ctx)) return;
    replaceTraceHeaders(sc, headers, propagator, ctx.getValue(B3_DEBUG_FLAG_KEY) === '1');
  } catch {
    /* a propagator never breaks a request */
  }
}

/**
 * injectTraceHeaders for the span of a handle from startServerSpan / startClientSpan, without
 * building the handle's context or checking its ids with the API's regular expressions
 * (hasIds). What the server pipeline calls per request.
 */
export function injectHandleTraceHeaders(h: SpanHandle, headers: HeaderBag, propagator: MeshPropagator = defaultPropagator): void {
  try {
    const sc = h.span.spanContext();
    if (!hasIds(sc)) return;
    const base = h instanceof Handle ? h.parentContext : undefined;
    if (base !== undefined && isTracingSuppressed(base)) return;
    replaceTraceHeaders(sc, headers, propagator, base?.getValue(B3_DEBUG_FLAG_KEY) === '1');
  } catch {
    /* a propagator never breaks a request */
  }
}

/**
 * Writes a span context's trace headers over the caller's: the ones the propagator writes are
 * overwritten in place, the other trace headers present are removed. Deleting every trace header
 * first, then adding, turned a request's header object into a slow (dictionary) one for the
 * rest of its life (node:http's `req.headers` is read many times after).
 */
function replaceTraceHeaders(sc: SpanContext, headers: HeaderBag, propagator: MeshPropagator, debug: boolean): void {
  const written: HeaderBag = {};
  propagator.injectSpanContext(sc, written, debug);
  for (const f of ALL_TRACE_FIELDS) {
    const v = written[f];
    if (v !== undefined) headers[f] = v;
    else if (headers[f] !== undefined) delete headers[f];
  }
}

/** Runs `fn(...args)` with `ctx` active (no closure needed: the arguments are passed through). */
export function runInContext<A extends unknown[], R>(ctx: Context, fn: (...args: A) => R, ...args: A): R {
  return otelContext.with(ctx, fn, undefined, ...args);
}

/** The root context with a request id, for code that starts work outside any request. */
export function contextWithRequestId(id: string = newRequestId()): Context {
  return setRequestId(ROOT_CONTEXT, id);
}
