/**
 * The client interceptor: what Envoy's router does for a gRPC call, from the same decisions
 * as the fetch dispatcher (policy's route plan, core's clusters, retry and failure rules).
 *
 * Per call: route on `:path` (`/package.Service/Method`) and metadata (VirtualService
 * matches), fault injection (`abort.grpcStatus`, delay), weighted destination, the route
 * timeout as a deadline (capped by the caller's deadline, as Istio's max_grpc_timeout does),
 * header operations on metadata, mirroring of unary calls. Per attempt: an endpoint from
 * the cluster's load balancer (outlier-ejected hosts left out, previous hosts avoided on a
 * retry), the circuit breaker's admission, the per-try timeout, the outcome recorded for
 * outlier detection. Retries apply to unary calls only (a streaming call passes through
 * untouched): retried on a trailers-only status the route's retryOn names, never after the
 * server sent response headers (Envoy commits then).
 */
import { InterceptingCall, Metadata, status as Status, type Interceptor, type InterceptorOptions, type StatusObject } from '@grpc/grpc-js';

/** The call interface each interceptor layer implements (grpc-js exports it only as the class). */
type InterceptingCallInterface = ReturnType<Parameters<Interceptor>[1]>;
type Listener = NonNullable<Parameters<InterceptingCallInterface['start']>[1]>;
type MessageContext = Parameters<InterceptingCallInterface['sendMessageWithContext']>[0];
import {
  LOCAL_REPLY, avoidPreviousHosts, destinationLocalReply, effectiveTimeoutMs, localReply, pickWeighted, routeLocalReply, sampleFault, sampleMirrors, upstreamAuthority, upstreamRequestHeaders,
  type HeaderMap, type OutboundDecision, type RouteDestination, type UpstreamTls,
} from '@meshwork/policy';
import { NO_HEALTHY_UPSTREAM, TriedHosts, backoffMs, compileRetry, failureReply, hashKeyFor, remainingBudget, type AttemptOutcome, type Cluster, type CompiledRetry, type FailureReply, type EndpointState, type Mesh, type MeshTelemetry, type ResponseFlag, reusableOutboundFacts } from '@meshwork/core';
import {
  ALL_TRACE_FIELDS, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, TRACEPARENT_HEADER, X_B3_TRACE_ID, decodePeerMetadata,
  type HeaderBag, type SpanHandle, type WorkloadMetadata,
} from '@meshwork/telemetry';
import { CONNECT_FAILURE_METADATA_KEY, ENDPOINT_METADATA_KEY, endpointChoice } from './balancer.js';
import { tlsDecisionId } from './credentials.js';

/** The call a method definition's messages are counted for, and its own (de)serializers (see measureSizes). */
const kSizedCall = Symbol('meshwork.sizedCall');
const kEncode = Symbol('meshwork.encode');
const kDecode = Symbol('meshwork.decode');
interface SizedDefinition {
  [kSizedCall]: MeshCall;
  [kEncode]: (m: unknown) => Buffer;
  [kDecode]: (b: Buffer) => unknown;
}

/**
 * One shared serializer wrapper for every call (no closures per call): grpc-js calls it as
 * `methodDefinition.requestSerialize(message)`, so `this` is the call's own definition, which
 * carries the call and the original serializer.
 */
function sizedSerialize(this: SizedDefinition, message: unknown): Buffer {
  const b = this[kEncode](message);
  this[kSizedCall].countRequestBytes(b.length);
  return b;
}

function sizedDeserialize(this: SizedDefinition, b: Buffer): unknown {
  this[kSizedCall].countResponseBytes(b.length);
  return this[kDecode](b);
}

/**
 * Sets a metadata entry whose value the mesh made itself (exchange headers, request id, trace
 * context, endpoint choice, attempt count). grpc-js's Metadata.set runs two regular expressions
 * over key and value on every call, ~500 characters for x-envoy-peer-metadata alone; these
 * keys are lower-case constants and the values are checked once below. grpc-js keeps the
 * entries in `internalRepr`, a Map of key to values; without it (another grpc-js), Metadata.set.
 */
function setOwn(md: Metadata, key: string, value: string): void {
  const repr = (md as unknown as { internalRepr?: unknown }).internalRepr;
  if (repr instanceof Map && legalValue(value)) repr.set(key, [value]);
  else md.set(key, value);
}

/** Values already found legal (printable ASCII, as grpc-js requires of text entries): the mesh's own few constants. */
const legalValues = new Set<string>();
const LEGAL_VALUE = /^[ -~]*$/;
function legalValue(v: string): boolean {
  // Short values (ids, counts, trace context) are cheap to check each time; long ones are checked once.
  if (v.length < 64) return LEGAL_VALUE.test(v);
  if (legalValues.has(v)) return true;
  if (!LEGAL_VALUE.test(v)) return false;
  if (legalValues.size >= 64) legalValues.clear();
  legalValues.add(v);
  return true;
}

/** What a finished call did, for `onCallEnd` (tests, logs). */
export interface GrpcCallInfo {
  /** `/package.Service/Method`. */
  method: string;
  /** The gRPC status code the caller got. */
  code: number;
  details: string;
  /** Envoy's response flags (UH, UF, UO, UT, URX, FI, DI, NR, ...). */
  flags: ResponseFlag[];
  attempts: number;
  /** Envoy's cluster name of the destination, when one was chosen. */
  cluster?: string | undefined;
  /** `address:port` of the endpoint of the last attempt. */
  upstream?: string | undefined;
  durationMs: number;
}

export interface MeshInterceptorOptions {
  /** With a control service: how long a call waits for the first snapshot (default 10 s), then fails UNAVAILABLE. */
  readyTimeoutMs?: number | undefined;
  /** Observes each finished call. */
  onCallEnd?: ((info: GrpcCallInfo) => void) | undefined;
}

/** `host:port` (a mesh name as the caller addressed it) → its parts; the port defaults to 80 as for a plaintext authority. */
export function splitAuthority(authority: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority.trim());
  if (!m) throw new TypeError(`not a host[:port] authority: ${JSON.stringify(authority)}`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 80 };
}

/**
 * The Meshwork interceptor for a channel to `authority` (`reviews.default:9080`, any name the
 * mesh knows). Channels made with `meshChannelOptions` / `createMeshClient` carry it.
 */
export function meshInterceptor(mesh: Mesh, authority: string, options: MeshInterceptorOptions = {}): Interceptor {
  const { host, port } = splitAuthority(authority);
  return (callOptions, nextCall) => new InterceptingCall(new MeshCall(mesh, host, port, authority, options, callOptions, nextCall));
}

/**
 * Metadata → the header map the policy engine reads (text entries; binary ones are not
 * matchable in Istio either): a fresh object, which callers may change. Client and server both.
 */
export function headersOf(md: Metadata): Record<string, string> {
  const map = md.getMap();
  for (const k in map) {
    if (typeof map[k] !== 'string') {
      // A -bin entry (rare): leave binary values out.
      const out: Record<string, string> = {};
      for (const j in map) if (typeof map[j] === 'string') out[j] = map[j] as string;
      return out;
    }
  }
  return map as Record<string, string>;
}

/** Applies what header operations changed to a copy of the metadata (binary entries kept as they are). */
function metadataWith(md: Metadata, before: HeaderMap, after: HeaderMap): Metadata {
  if (after === before) return md;
  const out = md.clone();
  for (const k in before) if (!(k in after)) out.remove(k);
  for (const k in after) {
    const v = after[k];
    if (v === before[k]) continue;
    out.remove(k);
    if (typeof v === 'string') out.set(k, v);
    else if (Array.isArray(v)) for (const x of v) out.add(k, x);
  }
  return out;
}

/** One value per name (the first), as consistent hashing on a header reads it. */
function firstValues(h: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && v.length > 0) out[k] = v[0]!;
  }
  return out;
}

function deadlineMs(d: InterceptorOptions['deadline']): number {
  if (d === undefined || d === null) return Infinity;
  return d instanceof Date ? d.getTime() : Number(d);
}

/** A status the caller gets from the mesh itself (Envoy's local reply, translated as Envoy does for gRPC). */
function localStatus(httpStatus: number, body: string, grpcStatus?: number | string, headers?: Readonly<Record<string, string>>): StatusObject {
  const r = localReply(httpStatus, body, { grpc: true, grpcStatus });
  const metadata = new Metadata();
  // Headers Envoy adds to the reply (x-envoy-overloaded) reach the caller as trailers-only metadata.
  if (headers) for (const k in headers) metadata.set(k, headers[k]!);
  return { code: Number(r.headers['grpc-status']), details: body, metadata };
}

function deliverLater(call: MeshCall, status: StatusObject): void {
  call.deliver(status, undefined);
}

/**
 * The endpoint choice the picker reads (endpointChoice), made once per endpoint, TLS decision
 * and host rather than per attempt: the decision object is the cluster's own (memoised per
 * endpoint and snapshot), so a new one means a new string.
 */
const choices = new WeakMap<EndpointState, { tls: UpstreamTls; host: string; choice: string }>();
function choiceFor(cluster: Cluster, ep: EndpointState): string {
  const tls = cluster.tlsFor(ep);
  const hit = choices.get(ep);
  if (hit !== undefined && hit.tls === tls && hit.host === cluster.host) return hit.choice;
  const choice = endpointChoice(tlsDecisionId(tls), cluster.host, ep.key);
  choices.set(ep, { tls, host: cluster.host, choice });
  return choice;
}

/** One upstream try, and the listener of its call (one object per attempt, no closures). */
class Attempt {
  call!: InterceptingCallInterface;
  done = false;
  constructor(
    private readonly owner: MeshCall,
    readonly ep: EndpointState,
    readonly release: () => void,
    /** The attempt's deadline (ms since the epoch) when the per-try timeout set it below the route's. */
    readonly perTryDeadline: number | undefined,
  ) {}
  onReceiveMetadata(m: Metadata): void {
    this.owner.attemptMetadata(this, m);
  }
  onReceiveMessage(message: unknown): void {
    this.owner.attemptMessage(this, message);
  }
  onReceiveStatus(s: StatusObject): void {
    this.owner.onAttemptStatus(this, s);
  }
}

export class MeshCall implements InterceptingCallInterface {
  private listener: Partial<Listener> = {};
  private metadata: Metadata = new Metadata();
  /** Request messages kept for a replay (unary), or queued until the first attempt starts (streaming). */
  private readonly messages: { context: MessageContext; message: unknown }[] = [];
  private halfClosed = false;
  private reading = false;
  private readonly unary: boolean;
  private readonly unaryResponse: boolean;
  private readonly path: string;
  private readonly startMs = performance.now();
  private decision: OutboundDecision | undefined;
  private dest: RouteDestination | undefined;
  private cluster: Cluster | undefined;
  private retry: CompiledRetry | null = null;
  private upstreamMetadata: Metadata | undefined;
  private callHost: string | undefined;
  private hashKey: string | undefined;
  private avoidPrevious = true;
  /** Hosts already tried, for retries that avoid them (made at the first attempt that may be retried). */
  private tried: TriedHosts | undefined;
  private deadline = Infinity;
  private routeTimer: NodeJS.Timeout | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private current: Attempt | undefined;
  private attempts = 0;
  private maxAttempts = 1;
  private committed = false;
  private cancelled = false;
  private finished = false;
  private heldMessage: { value: unknown } | undefined;
  private readonly flags: ResponseFlag[] = [];
  /** The caller's metadata as the header map routing read (access logs read it too). */
  private requestHeaders: Record<string, string> = {};
  // ---- telemetry (untouched when the mesh's telemetry is off) ----
  private readonly tel: MeshTelemetry | undefined;
  private span: SpanHandle | undefined;
  private requestId: string | undefined;
  /** Headers telemetry writes: x-request-id, the trace context. */
  private ownHeaders: HeaderBag | undefined;
  /** The exchange headers went out: the destination is in the mesh. */
  private exchange = false;
  private peer: WorkloadMetadata | undefined;
  private requestMessages = 0;
  private responseMessages = 0;
  private requestBytes = 0;
  private responseBytes = 0;
  private fromUpstream = false;
  private transportFailure: string | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly host: string,
    private readonly port: number,
    private readonly authority: string,
    private readonly opts: MeshInterceptorOptions,
    private readonly callOptions: InterceptorOptions,
    private readonly nextCall: (options: InterceptorOptions) => InterceptingCallInterface,
  ) {
    const def = callOptions.method_definition;
    this.tel = mesh.telemetry;
    if ((def as { meshworkEncoded?: boolean }).meshworkEncoded) this.encodedMessages = this.tel?.metrics !== undefined;
    else if (this.tel?.metrics) this.measureSizes(def);
    this.unary = !def.requestStream && !def.responseStream;
    this.unaryResponse = !def.responseStream;
    this.path = def.path;
  }

  // ---- the call as the layer above sees it ----

  start(metadata: Metadata, listener?: Partial<Listener>): void {
    this.listener = listener ?? {};
    this.metadata = metadata;
    if (this.mesh.isReady) return this.route();
    this.mesh.ready(this.opts.readyTimeoutMs ?? 10_000).then(
      () => this.route(),
      (e: unknown) => this.finish({ code: Status.UNAVAILABLE, details: `meshwork: ${e instanceof Error ? e.message : String(e)}`, metadata: new Metadata() }),
    );
  }

  sendMessageWithContext(context: MessageContext, message: unknown): void {
    if (this.finished) return;
    if (this.tel) this.countRequest(message);
    // Streaming calls forward as they go once an attempt runs; unary ones keep the message for a replay.
    if (!this.unary && this.current) return this.current.call.sendMessageWithContext(context, message);
    this.messages.push({ context, message });
    if (this.current && this.unary) this.current.call.sendMessageWithContext(context, message);
  }

  sendMessage(message: unknown): void {
    this.sendMessageWithContext({}, message);
  }

  startRead(): void {
    this.reading = true;
    this.current?.call.startRead();
  }

  halfClose(): void {
    this.halfClosed = true;
    this.current?.call.halfClose();
    this.flushMirrors();
  }

  cancelWithStatus(code: Status, details: string): void {
    if (this.finished) return;
    const attempt = this.current;
    this.cancelled = true;
    if (attempt && !attempt.done) {
      // The attempt's own status (CANCELLED) ends the call through onAttemptStatus.
      attempt.call.cancelWithStatus(code, details);
      return;
    }
    this.finish({ code, details, metadata: new Metadata() });
  }

  getPeer(): string {
    return this.current?.call.getPeer() ?? '';
  }

  getAuthContext(): ReturnType<InterceptingCallInterface['getAuthContext']> {
    return this.current?.call.getAuthContext() ?? null;
  }

  // ---- routing ----

  private route(): void {
    if (this.finished) return;
    const mesh = this.mesh;
    const headers = headersOf(this.metadata);
    this.requestHeaders = headers;
    headers['content-type'] ??= 'application/grpc';
    let decision: OutboundDecision;
    try {
      decision = mesh.decide({ method: 'POST', scheme: 'http', authority: this.authority, port: this.port, target: this.path, headers });
    } catch (e) {
      return this.finish({ code: Status.INTERNAL, details: `meshwork: ${e instanceof Error ? e.message : String(e)}`, metadata: new Metadata() });
    }
    this.decision = decision;
    if (this.tel) this.startTelemetry(this.tel, decision, headers);
    if (decision.action === 'passthrough') {
      // Not a mesh name: grpc-js's own resolution is the right tool; this channel has none.
      return this.local(503, `no mesh service for ${this.authority} (a meshwork: channel only reaches mesh services; use a plain target for other hosts)`, ['NR'], Status.UNAVAILABLE);
    }
    const reply = routeLocalReply(decision);
    if (reply) return this.local(reply.status, reply.body, reply.flags);
    // Faults come before the router: an aborted call is never retried, a delay does not count
    // against the route timeout.
    const fault = sampleFault(decision.fault, mesh.random);
    if (fault.delayMs !== null) {
      this.flags.push('DI');
      setTimeout(() => {
        if (!this.finished) this.afterDelay(headers, fault.abort);
      }, fault.delayMs);
      return;
    }
    this.afterDelay(headers, fault.abort);
  }

  private afterDelay(headers: Record<string, string>, abort: ReturnType<typeof sampleFault>['abort']): void {
    const decision = this.decision!;
    if (abort) return this.local(abort.httpStatus ?? 503, LOCAL_REPLY.faultAbort, ['FI'], abort.grpcStatus ?? undefined);
    const dests = decision.destinations;
    const dest = dests.length === 1 ? dests[0]! : dests[pickWeighted(dests, this.mesh.random())]!;
    this.dest = dest;
    const missing = destinationLocalReply(dest);
    if (missing) return this.local(missing.status, missing.body, missing.flags);
    const cluster = this.mesh.cluster(dest);
    this.cluster = cluster;
    if (cluster.passthrough) return this.local(503, `${cluster.key} forwards to the original destination, which a meshwork: channel cannot reach`, ['NR'], Status.UNAVAILABLE);
    this.retry = this.unary && decision.retries ? compileRetry(decision.retries) : null;
    this.maxAttempts = 1 + (this.retry ? this.retry.attempts : 0);
    const upstream = upstreamRequestHeaders(headers, decision, dest);
    this.upstreamMetadata = metadataWith(this.metadata, headers, upstream);
    if (this.upstreamMetadata === this.metadata) this.upstreamMetadata = this.metadata.clone();
    const t = this.tel;
    if (t) {
      const md = this.upstreamMetadata;
      const own = this.ownHeaders!;
      // Copied trace headers make way for the client span's (Envoy rewrites them).
      if (own[TRACEPARENT_HEADER] !== undefined || own[X_B3_TRACE_ID] !== undefined) for (const f of ALL_TRACE_FIELDS) md.remove(f);
      for (const k in own) setOwn(md, k, own[k] as string);
      // Who we are, to mesh destinations only (never to MESH_EXTERNAL services).
      this.exchange = cluster.inMesh;
      if (this.exchange) {
        setOwn(md, PEER_METADATA_ID_HEADER, t.peerMetadataId);
        setOwn(md, PEER_METADATA_HEADER, t.peerMetadata);
      } else {
        md.remove(PEER_METADATA_ID_HEADER);
        md.remove(PEER_METADATA_HEADER);
      }
    }
    const authority = upstreamAuthority(decision, dest, this.authority);
    if (authority !== this.authority) this.callHost = authority;
    this.avoidPrevious = avoidPreviousHosts(decision.retries?.retryIgnorePreviousHosts, dests.length === 1, cluster.policy.loadBalancer.kind === 'consistentHash');
    this.hashKey = hashKeyFor(cluster.policy.loadBalancer, firstValues(upstream), this.path).key;
    // The route timeout covers every attempt; the caller's deadline (grpc-timeout) caps it, as
    // Istio's max_grpc_timeout does; a deadline propagated from an inbound request caps both.
    const timeout = effectiveTimeoutMs(decision.timeoutMs, remainingBudget());
    this.deadline = Math.min(deadlineMs(this.callOptions.deadline), timeout === null ? Infinity : Date.now() + timeout);
    if (this.deadline !== Infinity) {
      this.routeTimer = setTimeout(() => this.routeTimeout(), Math.max(0, this.deadline - Date.now()));
      this.routeTimer.unref?.();
    }
    this.mirror(decision);
    this.nextAttempt();
  }

  /** The route deadline passed (between attempts, or before grpc-js's own timer on the attempt). */
  private routeTimeout(): void {
    if (this.finished) return;
    if (!this.flags.includes('UT')) this.flags.push('UT');
    const attempt = this.current;
    if (attempt && !attempt.done && this.committed) {
      // The response already started: it ends with the attempt's own status.
      attempt.call.cancelWithStatus(Status.DEADLINE_EXCEEDED, 'upstream request timeout');
      return;
    }
    this.finish({ code: Status.DEADLINE_EXCEEDED, details: 'upstream request timeout', metadata: new Metadata() });
  }

  private mirror(decision: OutboundDecision): void {
    if (!this.unary || decision.mirrors.length === 0) return;
    for (const m of sampleMirrors(decision.mirrors, this.mesh.random)) {
      // Fire and forget: a mirror never delays or fails the call. Envoy adds -shadow to the authority.
      try {
        if (m.destination.missing) continue;
        const c = this.mesh.cluster(m.destination);
        const ep = c.pick({ random: this.mesh.random, now: this.mesh.now() });
        if (!ep) continue;
        const md = this.upstreamMetadata!.clone();
        setOwn(md, ENDPOINT_METADATA_KEY, choiceFor(c, ep));
        const authority = this.callHost ?? this.authority;
        const { host, port } = splitAuthority(authority);
        const call = this.nextCall({ ...this.callOptions, host: authority.includes(':') ? `${host}-shadow:${port}` : `${host}-shadow`, deadline: this.deadline === Infinity ? undefined : this.deadline });
        call.start(md, { onReceiveMetadata() {}, onReceiveMessage() {}, onReceiveStatus() {} });
        // The message arrives after start for unary calls: send it when it does.
        (this.pendingMirrors ??= []).push(call);
      } catch {
        /* a mirror failure is never the caller's problem */
      }
    }
  }
  private pendingMirrors: InterceptingCallInterface[] | undefined;

  private flushMirrors(): void {
    if (this.pendingMirrors === undefined || this.pendingMirrors.length === 0 || !this.halfClosed) return;
    this.mirroring = true;
    for (const call of this.pendingMirrors.splice(0)) {
      try {
        for (const m of this.messages) call.sendMessageWithContext({}, m.message);
        call.halfClose();
      } catch {
        /* ignored, as above */
      }
    }
    this.mirroring = false;
  }

  // ---- attempts ----

  private nextAttempt(): void {
    if (this.finished) return;
    const cluster = this.cluster!;
    this.attempts++;
    const exclude = this.avoidPrevious ? this.tried : undefined;
    const ep = cluster.pick({ hashKey: this.hashKey, random: this.mesh.random, now: cluster.policy.warmup ? this.mesh.now() : 0, exclude });
    if (!ep) return this.localFrom(NO_HEALTHY_UPSTREAM);
    const admission = this.mesh.admit(cluster, 'http2');
    if ('status' in admission) return this.localFrom(admission);
    if (this.maxAttempts > 1) (this.tried ??= new TriedHosts()).add(ep);
    if (admission.ready) {
      admission.ready.then(() => {
        if (this.finished) admission.release();
        else this.send(ep, admission.release);
      });
    } else this.send(ep, admission.release);
  }

  private send(ep: EndpointState, release: () => void): void {
    const cluster = this.cluster!;
    // One copy of the caller's metadata per call (made in afterDelay), rewritten per attempt:
    // grpc-js copies it again for each pick, and the picker strips the endpoint from that copy.
    const md = this.upstreamMetadata!;
    setOwn(md, ENDPOINT_METADATA_KEY, choiceFor(cluster, ep));
    setOwn(md, 'x-envoy-attempt-count', String(this.attempts));
    const perTry = this.retry?.perTryTimeoutMs ?? null;
    const perTryDeadline = perTry !== null && Date.now() + perTry < this.deadline ? Date.now() + perTry : undefined;
    const deadline = perTryDeadline ?? this.deadline;
    // The caller's options as they are unless the mesh changes the deadline or the authority.
    let options = this.callOptions;
    if (deadline !== deadlineMs(options.deadline) || this.callHost !== undefined) {
      options = { ...options, deadline: deadline === Infinity ? undefined : deadline };
      if (this.callHost !== undefined) options.host = this.callHost;
    }
    ep.active++;
    let call: InterceptingCallInterface;
    try {
      call = this.nextCall(options);
    } catch (e) {
      ep.active--;
      release();
      return this.finish({ code: Status.INTERNAL, details: `meshwork: ${e instanceof Error ? e.message : String(e)}`, metadata: new Metadata() });
    }
    const attempt = new Attempt(this, ep, release, perTryDeadline);
    attempt.call = call;
    this.current = attempt;
    call.start(md, attempt);
    for (const m of this.messages) call.sendMessageWithContext(this.attempts === 1 ? m.context : {}, m.message);
    if (this.halfClosed) call.halfClose();
    if (this.reading) call.startRead();
    this.flushMirrors();
  }

  attemptMetadata(attempt: Attempt, m: Metadata): void {
    if (attempt.done || this.current !== attempt) return;
    // Response headers: Envoy commits to this attempt (no retry after).
    this.committed = true;
    if (this.tel) this.takePeerMetadata(m);
    this.listener.onReceiveMetadata?.(m);
  }

  /** The server's side of the exchange, read and taken out before the caller sees the metadata. */
  private takePeerMetadata(m: Metadata): void {
    if (!this.exchange) return;
    const raw = m.get(PEER_METADATA_HEADER);
    const id = m.get(PEER_METADATA_ID_HEADER);
    if (raw.length === 0 && id.length === 0) return;
    this.peer = decodePeerMetadata(raw.length > 0 ? String(raw[0]) : undefined, undefined, id.length > 0 ? String(id[0]) : undefined);
    m.remove(PEER_METADATA_HEADER);
    m.remove(PEER_METADATA_ID_HEADER);
  }

  private countRequest(message: unknown): void {
    this.requestMessages++;
    if (this.encodedMessages && message instanceof Uint8Array) this.requestBytes += 5 + message.byteLength;
  }

  private countResponse(message: unknown): void {
    this.responseMessages++;
    if (this.encodedMessages && message instanceof Uint8Array) this.responseBytes += 5 + message.byteLength;
  }

  /** Messages arrive encoded (installMesh's bridge, below the client's own encoding): sizes are their lengths. */
  private encodedMessages = false;

  /**
   * Message sizes as the wire carries them (5-byte frame header and the encoded message), taken
   * where the messages are encoded and decoded: the method definition in the call options is
   * this call's own (grpc-js builds one per call, and the bottom of the interceptor chain
   * encodes and decodes with that very object), so its serializer and deserializer are swapped
   * for the shared wrappers above, and the definition carries this call and the originals.
   */
  private measureSizes(def: InterceptorOptions['method_definition']): void {
    const d = def as unknown as { requestSerialize: (m: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown } & Partial<SizedDefinition>;
    if (d.requestSerialize === sizedSerialize) return; // a definition shared between calls: no sizes rather than wrong ones
    d[kEncode] = d.requestSerialize;
    d[kDecode] = d.responseDeserialize;
    d[kSizedCall] = this;
    d.requestSerialize = sizedSerialize;
    d.responseDeserialize = sizedDeserialize;
  }

  /** Requests count on the first attempt only (a retry or a mirror encodes them again; Envoy counts the downstream request once). */
  countRequestBytes(n: number): void {
    if (this.attempts <= 1 && !this.mirroring) this.requestBytes += 5 + n;
  }

  countResponseBytes(n: number): void {
    this.responseBytes += 5 + n;
  }

  private mirroring = false;

  /**
   * At route time: the request id (kept or made) and, with tracing, the client span and its trace
   * headers, written into a small object of their own (the caller's metadata is read, never changed).
   */
  private startTelemetry(t: MeshTelemetry, decision: OutboundDecision, headers: Record<string, string>): void {
    const begun = t.beginOutbound({ service: decision.service, host: decision.host, port: this.port, method: 'POST', scheme: 'http', target: this.path, requestHeaders: headers });
    this.span = begun.span;
    this.requestId = begun.requestId;
    this.ownHeaders = begun.headers;
  }

  attemptMessage(attempt: Attempt, message: unknown): void {
    if (attempt.done || this.current !== attempt) return;
    if (this.unaryResponse) {
      // grpc-js hands unary calls a null message before a failed status: held until the status says whether it goes up.
      this.heldMessage = { value: message };
      return;
    }
    this.committed = true;
    if (this.tel) this.countResponse(message);
    this.listener.onReceiveMessage?.(message);
  }

  private releaseAttempt(a: Attempt): void {
    a.ep.active--;
    a.release();
  }

  onAttemptStatus(attempt: Attempt, s: StatusObject): void {
    if (attempt.done) return;
    attempt.done = true;
    this.releaseAttempt(attempt);
    if (this.finished) return;
    const cluster = this.cluster!;
    const outcome = this.outcomeOf(attempt, s);
    // A call the caller cancelled says nothing about the endpoint.
    if (!this.cancelled) cluster.outlier?.recordOutcome(attempt.ep, outcome, this.mesh.now());
    const held = this.heldMessage;
    this.heldMessage = undefined;
    if (s.code === Status.DEADLINE_EXCEEDED && attempt.perTryDeadline === undefined && Date.now() >= this.deadline - 5 && !this.flags.includes('UT')) this.flags.push('UT');
    if (!this.committed && !this.cancelled && this.attempts < this.maxAttempts && this.retry?.retriable(outcome) && Date.now() < this.deadline && cluster.tryStartRetry()) {
      this.backoffTimer = setTimeout(() => {
        this.backoffTimer = undefined;
        cluster.endRetry();
        this.nextAttempt();
      }, backoffMs(this.retry, this.attempts, this.mesh.random));
      // meshwork_retries_total, and the attempt as an event of the call's span (as fetch records them).
      if (this.tel) {
        this.tel.recordRetry(cluster.key);
        if (this.span) this.tel.attemptEvent(this.span, this.attempts, attempt.ep.key, outcome);
      }
      return;
    }
    if (this.attempts > 1 && !this.committed && this.retry?.retriable(outcome)) this.flags.push('URX');
    let status = s;
    if (outcome.kind === 'failure') {
      // What Envoy answers when the last attempt failed without a response.
      const r = failureReply(outcome, this.attempts > 1);
      this.flags.push(...r.flags.filter((f) => !this.flags.includes(f)));
      // A per-try timeout on the last attempt is the caller's deadline as far as gRPC goes.
      status = r.status === 504 ? { code: Status.DEADLINE_EXCEEDED, details: r.body, metadata: s.metadata } : localStatus(r.status, r.body);
    }
    if (outcome.kind === 'response') {
      this.fromUpstream = true;
      if (this.tel && !this.committed) this.takePeerMetadata(s.metadata);
    } else this.transportFailure = outcome.transportFailure;
    if (held && status.code === Status.OK) {
      if (this.tel) this.countResponse(held.value);
      this.listener.onReceiveMessage?.(held.value);
    }
    this.finish(status);
  }

  private outcomeOf(attempt: Attempt, s: StatusObject): AttemptOutcome {
    if (s.metadata.get(CONNECT_FAILURE_METADATA_KEY).length > 0) {
      s.metadata.remove(CONNECT_FAILURE_METADATA_KEY);
      return { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true, transportFailure: s.details };
    }
    if (s.code === Status.DEADLINE_EXCEEDED && attempt.perTryDeadline !== undefined && Date.now() >= attempt.perTryDeadline - 5) return { kind: 'failure', reason: 'timeout', beforeRequestSent: false };
    // A status from the server (or grpc-js's reading of a broken stream) is Envoy's response with grpc-status.
    return { kind: 'response', status: 200, grpcStatus: s.code };
  }

  // ---- ending ----

  private local(httpStatus: number, body: string, flags: readonly ResponseFlag[], grpcStatus?: number | string, headers?: Readonly<Record<string, string>>): void {
    this.flags.push(...flags);
    this.finish(localStatus(httpStatus, body, grpcStatus, headers));
  }

  /** A local reply core decided (no host, overflow). */
  private localFrom(r: FailureReply): void {
    this.local(r.status, r.body, r.flags, undefined, r.headers);
  }

  private finish(status: StatusObject): void {
    if (this.finished) return;
    this.finished = true;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer);
      this.cluster?.endRetry();
    }
    const attempt = this.current;
    if (attempt && !attempt.done) {
      attempt.done = true;
      this.releaseAttempt(attempt);
      attempt.call.cancelWithStatus(Status.CANCELLED, 'meshwork: call ended');
    }
    if (this.tel) this.report(this.tel, status, attempt);
    // The listener runs on a later tick when the call never reached the network (as grpc-js does for local failures).
    if (attempt) this.deliver(status, attempt);
    else process.nextTick(deliverLater, this, status);
  }

  /** The status to the layer above, then the onCallEnd observer. */
  deliver(status: StatusObject, attempt: Attempt | undefined): void {
    this.listener.onReceiveStatus?.(status);
    const onEnd = this.opts.onCallEnd;
    if (onEnd) {
      try {
        onEnd({ method: this.path, code: status.code, details: status.details, flags: this.flags, attempts: this.attempts, cluster: this.cluster?.key, upstream: attempt?.ep.key, durationMs: performance.now() - this.startMs });
      } catch {
        /* an observer never breaks the call */
      }
    }
  }

  /** The call into Istio's metrics (reporter=source), its span ended, an access-log line. */
  private report(t: MeshTelemetry, status: StatusObject, attempt: Attempt | undefined): void {
    const cancelled = this.cancelled && !this.fromUpstream;
    if (cancelled && !this.flags.includes('DC')) this.flags.push('DC');
    const cluster = this.cluster;
    const ep = attempt?.ep;
    const f = facts;
    f.target = this.path;
    f.authority = this.authority;
    f.durationMs = performance.now() - this.startMs;
    // gRPC answers go out as HTTP 200 with grpc-status, local replies included (Envoy's gRPC local reply).
    f.status = cancelled ? 0 : 200;
    f.flags = this.flags;
    f.fromUpstream = this.fromUpstream;
    f.requestBytes = this.requestBytes;
    f.responseBytes = this.responseBytes;
    f.grpcStatus = status.code;
    f.requestMessages = this.requestMessages;
    f.responseMessages = this.responseMessages;
    f.service = cluster?.service ?? this.decision?.service;
    f.cluster = cluster;
    f.endpoint = ep;
    f.mtls = cluster !== undefined && ep !== undefined && cluster.tlsFor(ep).mode === 'istio';
    f.peer = this.peer;
    f.span = this.span;
    f.requestId = this.requestId;
    f.requestHeaders = this.requestHeaders;
    f.routeName = this.decision?.rule?.name;
    f.transportFailure = this.transportFailure;
    t.recordOutboundReused(f);
  }
}

/** One facts object for every finished call (as the fetch dispatcher has). */
const facts = reusableOutboundFacts(true);
