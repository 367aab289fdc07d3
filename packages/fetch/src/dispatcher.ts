/**
 * `MeshDispatcher`: an undici Dispatcher that gives every request what an Istio sidecar
 * would — routing, weighted subsets, load balancing, retries, timeouts, faults, mirroring,
 * circuit breaking, outlier detection — in the calling process. Every decision comes from
 * @meshwork/policy (through the Mesh of @meshwork/core); this file only moves bytes.
 */
import type { Dispatcher as UndiciDispatcher } from 'undici';
import { Agent, Dispatcher, Pool } from './undici-parts.js';

type DispatchOptions = UndiciDispatcher.DispatchOptions;
type DispatchHandler = UndiciDispatcher.DispatchHandler;
import {
  LOCAL_REPLY, applyHeaderOps, avoidPreviousHosts, destinationLocalReply, effectiveTimeoutMs, isGrpcRequest, localReply, pickWeighted, responseHeaderOps, routeLocalReply,
  sampleFault, sampleMirrors, upstreamAuthority, upstreamRequestHeaders, type HeaderMap, type HeaderOps, type OutboundDecision, type UpstreamTls,
} from '@meshwork/policy';
import {
  NO_HEALTHY_UPSTREAM, TriedHosts, backoffMs, Code, compileRetry, connectOptions, failureReply, hashKeyFor, localReplyError, outcomeOfError, Mesh, MeshError, remainingBudget, reusableOutboundFacts,
  type AttemptOutcome, type Cluster, type CompiledRetry, type EndpointState, type FailureReply, type MeshOptions, type MeshTelemetry, type OutboundFacts, type ResponseFlag,
} from '@meshwork/core';
import {
  ALL_TRACE_FIELDS, takePeerMetadata, withoutPeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, REQUEST_ID_HEADER, TRACEPARENT_HEADER, X_B3_TRACE_ID,
  type HeaderBag, type SpanHandle, type WorkloadMetadata,
} from '@meshwork/telemetry';
import { toV2, type Controller, type Handler } from './handler.js';

export interface MeshDispatcherOptions extends MeshOptions {
  /** An existing Mesh to share (else one is made from the other options). */
  mesh?: Mesh | undefined;
  /** Throw a `MeshError` instead of answering with Envoy's local reply (503 UH, 504 UT, ...). */
  throwOnLocalReply?: boolean | undefined;
  /** Largest request body kept in memory so that a retry can replay it (default 1 MiB). */
  maxReplayBodyBytes?: number | undefined;
  /** Observes each finished request: status, response flags, the upstream chosen, duration and sizes. */
  onRequestEnd?: ((info: RequestInfo) => void) | undefined;
  /** With a control service: how long a request waits for the first snapshot and certificate (default 10 s), then fails with 503. */
  readyTimeoutMs?: number | undefined;
}

export interface RequestInfo {
  host: string;
  /** The status the caller got (0: none, the request failed). */
  status: number;
  flags: ResponseFlag[];
  /** `address:port` of the endpoint that answered. */
  upstream?: string | undefined;
  /** Envoy's cluster name, `outbound|9080|v1|reviews.default.svc.cluster.local`. */
  cluster?: string | undefined;
  attempts: number;
  /** Set when the request body was too large to keep for a replay, so no retry was possible. */
  retriesDisabled?: 'body-over-replay-limit' | undefined;
  /** Milliseconds from dispatch to the last response byte (or the failure). */
  durationMs: number;
  /** Request body bytes when known (a string or byte body; 0 for streams). */
  requestBytes: number;
  /** Response body bytes handed to the caller. */
  responseBytes: number;
  /** The `x-request-id` sent (telemetry on). */
  requestId?: string | undefined;
  /** FQDN of the mesh service routed to. */
  service?: string | undefined;
  /** `grpc-status` of a gRPC response. */
  grpcStatus?: number | undefined;
  /** What the server said about itself through the peer-metadata exchange. */
  peer?: WorkloadMetadata | undefined;
}

/** The caller's headers that telemetry writes itself (Envoy overwrites them): the request id and the exchange pair. */
const OWN_HEADERS: ReadonlySet<string> = new Set([REQUEST_ID_HEADER, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER]);
/** The same, plus every trace header, once a trace context was injected. */
const OWN_HEADERS_TRACED: ReadonlySet<string> = new Set([...OWN_HEADERS, ...ALL_TRACE_FIELDS]);

/** Appends the headers telemetry wrote to a flat header list. */
function pushOwn(arr: string[], bag: HeaderBag): void {
  for (const k in bag) {
    const v = bag[k];
    if (typeof v === 'string') arr.push(k, v);
  }
}


/**
 * Normalises undici's header forms (object, flat array, iterable of pairs) to lower-case
 * names; repeated headers are joined with ',' as HTTP allows (and as Envoy matches them).
 */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function normalizeHeaders(h: DispatchOptions['headers']): Record<string, string> {
  if (!h) return NO_HEADERS;
  const out: Record<string, string> = {};
  const add = (k: string, v: unknown) => {
    if (v === undefined || v === null) return;
    const key = k.toLowerCase();
    const val = Array.isArray(v) ? v.join(',') : String(v);
    const prev = out[key];
    out[key] = prev === undefined ? val : `${prev},${val}`;
  };
  if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) add(String(h[i]), h[i + 1]);
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function' && Object.getPrototypeOf(h) !== Object.prototype && Object.getPrototypeOf(h) !== null) {
    for (const [k, v] of h as Iterable<[string, string]>) add(k, v);
  } else {
    const o = h as Record<string, unknown>;
    for (const k in o) add(k, o[k]);
  }
  return out;
}

/** Body of a request that a retry (or a mirror) can send again, or a one-shot stream. */
type Replayable = { replay: true; body: string | Buffer | Uint8Array | null } | { replay: false; body: unknown };

async function bufferBody(body: unknown, limit: number): Promise<Replayable> {
  if (body === null || body === undefined) return { replay: true, body: null };
  if (typeof body === 'string' || body instanceof Uint8Array) return { replay: true, body: body as string | Uint8Array };
  const iterable = body as AsyncIterable<unknown>;
  if (typeof iterable[Symbol.asyncIterator] !== 'function') return { replay: false, body };
  const chunks: Buffer[] = [];
  let size = 0;
  const it = iterable[Symbol.asyncIterator]();
  for (;;) {
    const r = await it.next();
    if (r.done) return { replay: true, body: Buffer.concat(chunks, size) };
    const chunk = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.from(r.value as Uint8Array);
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) {
      // Over the replay limit: send what was read plus the rest, and do not retry.
      const rest = (async function* () {
        yield* chunks;
        for (;;) {
          const n = await it.next();
          if (n.done) return;
          yield typeof n.value === 'string' ? Buffer.from(n.value) : (n.value as Uint8Array);
        }
      })();
      return { replay: false, body: rest };
    }
  }
}

export interface PoolEntry {
  pool: Pool;
  /** The policy engine's TLS decision the pool was made for (memoised per snapshot). */
  tls: UpstreamTls;
  /** Its content, so an unchanged decision in a new snapshot keeps the pool. */
  tlsKey: string;
  /** Identity generation of a TLS pool: a new workload certificate means new connections. */
  generation: number;
  /**
   * SNI of a TLS pool. Sent with every request: undici otherwise derives the SNI from each
   * request's Host header, which would override the configured one and, when Host headers
   * differ, close the connection on every change ("servername changed").
   */
  servername: string | undefined;
}

export class MeshDispatcher extends Dispatcher {
  readonly mesh: Mesh;
  private readonly ownsMesh: boolean;
  private readonly pools = new Set<Pool>();
  private readonly poolByEndpoint = new WeakMap<EndpointState, PoolEntry>();
  private readonly subscriptions: { dispose(): void }[] = [];
  private identityGeneration = 0;
  private get readyTimeoutMs(): number {
    return this.options.readyTimeoutMs ?? 10_000;
  }

  /** Upstream connection pools open now (one per endpoint in use). */
  get poolCount(): number {
    return this.pools.size;
  }
  private readonly passthrough = new Agent();
  private closedFlag = false;
  /** One facts object for every finished request: telemetry reads it synchronously and keeps nothing. */
  readonly facts: OutboundFacts = reusableOutboundFacts(false);

  constructor(readonly options: MeshDispatcherOptions = {}) {
    super();
    this.ownsMesh = !options.mesh;
    this.mesh = options.mesh ?? new Mesh(options);
    // Endpoints that leave after a config change take their connections with them.
    this.subscriptions.push(this.mesh.onEndpointsRemoved((eps) => {
      for (const ep of eps) {
        const entry = this.poolByEndpoint.get(ep);
        if (!entry) continue;
        this.poolByEndpoint.delete(ep);
        this.retire(entry.pool);
      }
    }));
    // A rotated workload certificate: new mTLS connections use it (pools are rebuilt on next
    // use); requests in flight finish on the connections they have.
    const identity = this.mesh.identity;
    if (identity) this.subscriptions.push(identity.on('change', () => this.identityGeneration++));
  }

  override dispatch(opts: DispatchOptions, handler: DispatchHandler): boolean {
    const h = toV2(handler);
    if (this.closedFlag) {
      queueMicrotask(() => h.onResponseError?.(noopController, new MeshError('dispatcher is closed', { code: Code.FailedPrecondition, reason: 'closed' })));
      return false;
    }
    const r = new MeshRequest(this, opts, h);
    if (this.mesh.isReady) {
      r.start();
    } else {
      // With a control service, the first requests wait for the first snapshot and
      // certificate (bounded): routing them on an empty configuration would bypass the mesh.
      this.mesh.ready(this.readyTimeoutMs).then(
        () => r.start(),
        (e: unknown) => queueMicrotask(() => h.onResponseError?.(noopController, new MeshError(`the mesh is not ready: ${(e as Error).message}`, { code: Code.Unavailable, reason: 'not_ready', status: 503 }))),
      );
    }
    return true;
  }

  /**
   * The undici pool of one endpoint, configured from its cluster's connection-pool policy and
   * the TLS the policy engine decided for it. Throws a MeshError (flag UF) when TLS cannot be
   * set up as configured (no workload certificate, unreadable DestinationRule files).
   */
  poolFor(cluster: Cluster, ep: EndpointState): PoolEntry {
    // Endpoint objects belong to one cluster and live across snapshots: the pool hangs off them.
    const tls = cluster.tlsFor(ep);
    const cached = this.poolByEndpoint.get(ep);
    if (cached && cached.tls === tls && (tls.mode === 'plaintext' || cached.generation === this.identityGeneration)) return cached;
    const tlsKey = JSON.stringify(tls);
    if (cached && cached.tlsKey === tlsKey && (tls.mode === 'plaintext' || cached.generation === this.identityGeneration)) {
      cached.tls = tls;
      return cached;
    }
    const cp = cluster.policy.connectionPool;
    const tlsOptions = connectOptions(tls, this.mesh.identity, cluster.host);
    const pool = new Pool(`${tlsOptions ? 'https' : 'http'}://${ep.key}`, {
      connections: cp.maxConnections >= 4294967295 ? null : cp.maxConnections,
      connect: { timeout: cp.connectTimeoutMs, ...tlsOptions },
      keepAliveTimeout: Math.min(cp.idleTimeoutMs, 60_000),
      ...(cp.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: cp.maxRequestsPerConnection } : {}),
    });
    this.pools.add(pool);
    const entry: PoolEntry = { pool, tls, tlsKey, generation: this.identityGeneration, servername: typeof tlsOptions?.servername === 'string' ? tlsOptions.servername : undefined };
    this.poolByEndpoint.set(ep, entry);
    if (cached) this.retire(cached.pool);
    return entry;
  }

  /** Closes a pool once its requests in flight are done. */
  private retire(pool: Pool): void {
    this.pools.delete(pool);
    pool.close().catch(() => undefined);
  }

  passthroughDispatcher(): Dispatcher {
    return this.passthrough;
  }

  override async close(): Promise<void> {
    this.closedFlag = true;
    for (const sub of this.subscriptions) sub.dispose();
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    await this.passthrough.close();
    if (this.ownsMesh) this.mesh.close();
  }

  override async destroy(): Promise<void> {
    this.closedFlag = true;
    for (const sub of this.subscriptions) sub.dispose();
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    await this.passthrough.destroy();
    if (this.ownsMesh) this.mesh.close();
  }
}

const originCache = new Map<string, { scheme: 'http' | 'https'; port: number; host: string }>();

/** Scheme, port and host of a dispatch origin; parsed once per origin (URL parsing costs microseconds). */
function parseOrigin(origin: DispatchOptions['origin']): { scheme: 'http' | 'https'; port: number; host: string } {
  if (origin instanceof URL) {
    // Already parsed: read the fields (serialising the URL to look it up costs more).
    const scheme = origin.protocol === 'https:' ? 'https' : 'http';
    return { scheme, port: origin.port ? Number(origin.port) : scheme === 'https' ? 443 : 80, host: origin.host };
  }
  const key = typeof origin === 'string' ? origin : String(origin ?? '');
  let hit = originCache.get(key);
  if (!hit) {
    const u = new URL(key);
    const scheme = u.protocol === 'https:' ? 'https' : 'http';
    hit = { scheme, port: u.port ? Number(u.port) : scheme === 'https' ? 443 : 80, host: u.host };
    // Bounded: a process talking to endless distinct origins must not grow without limit.
    if (originCache.size > 4096) originCache.clear();
    originCache.set(key, hit);
  }
  return hit;
}

const noopController: Controller = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };

/**
 * One request's life: decide, fault, pick, attempt, retry, answer. Callback-driven on
 * purpose: no promise or closure per request on the common path (they showed up as GC
 * time in profiles), one Attempt object per upstream try.
 */
class MeshRequest implements Controller {
  private abortedReason: Error | null = null;
  private isPaused = false;
  finished = false;
  committed = false;
  attempts = 0;
  private maxAttempts = 1;
  flags: ResponseFlag[] = [];
  private status = 0;
  private routeTimer: NodeJS.Timeout | undefined;
  routeTimedOut = false;
  private upstream: string | undefined;
  cluster: Cluster | undefined;
  private readonly headers: Record<string, string>;
  private readonly grpc: boolean;
  private host = '';
  /** The Host the caller addressed (Host header, else the origin's). */
  private authority = '';
  current: Attempt | null = null;
  retry: CompiledRetry | null = null;
  private decision: OutboundDecision | undefined;
  private body: Replayable = { replay: true, body: null };
  private upstreamHeaders: string[] = [];
  private path = '/';
  /** Hosts already tried, for retries that avoid them (made at the first attempt that may be retried). */
  private tried: TriedHosts | undefined;
  private avoidPrevious = true;
  private hashKey: string | undefined;
  responseOps: HeaderOps['response'][] | null = null;
  private retriesDisabled: RequestInfo['retriesDisabled'];
  // ---- telemetry (untouched when the mesh's telemetry is off) ----
  readonly tel: MeshTelemetry | undefined;
  private startMs = 0;
  span: SpanHandle | undefined;
  private requestId: string | undefined;
  /** Headers telemetry writes (x-request-id, trace context). */
  private ownHeaders: HeaderBag | undefined;
  /** The exchange headers went out: the destination is in the mesh. */
  private exchange = false;
  private peer: WorkloadMetadata | undefined;
  responseBytes = 0;
  private grpcStatus: number | undefined;
  private fromUpstream = false;
  private passthroughName: string | undefined;
  private lastEp: EndpointState | undefined;
  private mtls = false;
  private error: unknown;
  transportFailure: string | undefined;

  constructor(readonly d: MeshDispatcher, readonly opts: DispatchOptions, readonly user: Handler) {
    this.headers = normalizeHeaders(opts.headers);
    this.grpc = isGrpcRequest(this.headers['content-type']);
    this.tel = d.mesh.telemetry;
    if (this.tel || d.options.onRequestEnd) this.startMs = performance.now();
  }

  // ---- Controller given to the caller ----
  /**
   * The upstream's raw header list, when it goes back unchanged. undici's wrapper for legacy
   * (v1) handlers, which Node's built-in fetch gets, reads it instead of serialising the
   * parsed headers again (a measured ~10 us per fetch() request).
   */
  rawHeaders: Controller['rawHeaders'] = null;
  rawTrailers: Controller['rawTrailers'] = null;

  get aborted(): boolean {
    return this.abortedReason !== null;
  }
  get paused(): boolean {
    return this.isPaused;
  }
  get reason(): Error | null {
    return this.abortedReason;
  }
  abort(reason: Error): void {
    if (this.abortedReason || this.finished) return;
    this.abortedReason = reason ?? new Error('aborted');
    this.current?.abort(this.abortedReason);
    if (!this.committed) this.fail(this.abortedReason, ['DC']);
  }
  pause(): void {
    this.isPaused = true;
    this.current?.ctrl?.pause();
  }
  resume(): void {
    this.isPaused = false;
    this.current?.ctrl?.resume();
  }

  start(): void {
    try {
      this.user.onRequestStart?.(this, {});
      if (!this.aborted) this.route();
    } catch (e) {
      this.fail(MeshError.from(e), []);
    }
  }

  private route(): void {
    const { scheme, port, host: originHost } = parseOrigin(this.opts.origin);
    const authority = this.headers.host ?? originHost;
    this.authority = authority;
    const target = this.opts.path || '/';
    const decision = this.d.mesh.decide({ method: this.opts.method, scheme, authority, port, target, headers: this.headers });
    this.decision = decision;
    this.host = decision.host;
    if (this.tel) this.startTelemetry(this.tel, decision, scheme, port, target);
    if (decision.action === 'passthrough') return this.passthrough();
    const reply = routeLocalReply(decision);
    if (reply) return this.local(reply.status, reply.body, reply.flags, reply.headers);
    // Fault injection happens before the router: aborted requests are never retried, and a
    // delay does not count against the route timeout.
    const fault = sampleFault(decision.fault, this.d.mesh.random);
    if (fault.delayMs !== null) {
      this.flags.push('DI');
      setTimeout(() => {
        if (!this.aborted && !this.finished) this.afterDelay(authority, target, fault.abort);
      }, fault.delayMs);
      return;
    }
    this.afterDelay(authority, target, fault.abort);
  }

  /**
   * At route time: the request id (kept or made) and, with tracing, the client span and its
   * trace headers, written into a small object of their own (the caller's headers are read,
   * never copied).
   */
  private startTelemetry(t: MeshTelemetry, decision: OutboundDecision, scheme: 'http' | 'https', port: number, target: string): void {
    if (decision.action === 'passthrough') this.passthroughName = 'PassthroughCluster';
    else if (decision.action === 'blocked') this.passthroughName = 'BlackHoleCluster';
    const begun = t.beginOutbound({ service: decision.service, host: decision.host, port, method: this.opts.method, scheme, target, requestHeaders: this.headers });
    this.span = begun.span;
    this.requestId = begun.requestId;
    this.ownHeaders = begun.headers;
  }

  /** The caller's headers telemetry replaces (null: telemetry off). */
  private replacedHeaders(): ReadonlySet<string> | null {
    const bag = this.ownHeaders;
    if (!bag) return null;
    return bag[TRACEPARENT_HEADER] !== undefined || bag[X_B3_TRACE_ID] !== undefined ? OWN_HEADERS_TRACED : OWN_HEADERS;
  }

  private afterDelay(authority: string, target: string, abort: ReturnType<typeof sampleFault>['abort']): void {
    const decision = this.decision!;
    if (abort) return this.local(abort.httpStatus ?? 503, LOCAL_REPLY.faultAbort, ['FI'], undefined, abort.grpcStatus);
    const dests = decision.destinations;
    const dest = dests.length === 1 ? dests[0]! : dests[pickWeighted(dests, this.d.mesh.random())]!;
    const missing = destinationLocalReply(dest);
    if (missing) return this.local(missing.status, missing.body, missing.flags);
    const cluster = this.d.mesh.cluster(dest);
    this.cluster = cluster;
    this.retry = decision.retries ? compileRetry(decision.retries) : null;

    const headers = upstreamRequestHeaders(this.headers, decision, dest);
    this.path = decision.rewrite?.path ?? target;
    const arr: string[] = ['host', upstreamAuthority(decision, dest, authority)];
    const replaced = this.replacedHeaders();
    for (const k in headers) {
      // The mesh writes these itself (Envoy overwrites what the caller sent).
      if (k === 'host' || k === 'x-envoy-attempt-count' || k === 'x-envoy-expected-rq-timeout-ms') continue;
      if (replaced !== null && replaced.has(k)) continue;
      const v = headers[k]!;
      if (typeof v === 'string') arr.push(k, v);
      else for (const x of v) arr.push(k, x);
    }
    const t = this.tel;
    if (t) {
      pushOwn(arr, this.ownHeaders!);
      // Who we are, to mesh destinations only: never to passthrough or MESH_EXTERNAL hosts.
      this.exchange = cluster.inMesh;
      if (this.exchange) arr.push(PEER_METADATA_ID_HEADER, t.peerMetadataId, PEER_METADATA_HEADER, t.peerMetadata);
    }
    // The last pair is the attempt count: the first attempt sends this array as it is.
    arr.push('x-envoy-attempt-count', '1');
    this.upstreamHeaders = arr;
    this.responseOps = responseHeaderOps(decision, dest);
    this.avoidPrevious = avoidPreviousHosts(decision.retries?.retryIgnorePreviousHosts, dests.length === 1, cluster.policy.loadBalancer.kind === 'consistentHash');
    const hash = hashKeyFor(cluster.policy.loadBalancer, headers, this.path);
    this.hashKey = hash.key;
    if (hash.setCookie) (this.responseOps ??= []).push({ set: [], add: [['set-cookie', hash.setCookie]], remove: [] });

    // The route timeout covers every attempt and backoff; a propagated deadline caps it.
    const effective = effectiveTimeoutMs(decision.timeoutMs, remainingBudget());
    if (effective !== null) {
      this.routeTimer = setTimeout(routeTimeout, effective, this);
      // As Envoy does when a route timeout applies, tell the upstream its budget.
      this.upstreamHeaders.splice(this.upstreamHeaders.length - 2, 0, 'x-envoy-expected-rq-timeout-ms', String(Math.max(0, Math.floor(effective))));
    }

    const raw = this.opts.body;
    if (raw === null || raw === undefined || typeof raw === 'string' || raw instanceof Uint8Array) {
      // Bodies already in memory replay as they are.
      this.body = { replay: true, body: (raw ?? null) as string | Uint8Array | null };
      this.beginAttempts();
    } else if (this.retry || decision.mirrors.length > 0) {
      // Streams are read (up to the replay limit) only when a retry or a mirror may resend them.
      bufferBody(raw, this.d.options.maxReplayBodyBytes ?? 1024 * 1024).then((b) => {
        this.body = b;
        if (!b.replay && this.retry) this.retriesDisabled = 'body-over-replay-limit';
        if (!this.finished && !this.aborted) this.beginAttempts();
      }, (e: unknown) => this.fail(MeshError.from(e), []));
    } else {
      this.body = { replay: false, body: raw };
      this.beginAttempts();
    }
  }

  private beginAttempts(): void {
    this.maxAttempts = 1 + (this.retry && this.body.replay ? this.retry.attempts : 0);
    this.mirror(this.decision!);
    this.nextAttempt();
  }

  nextAttempt(): void {
    if (this.finished || this.aborted) return;
    const cluster = this.cluster!;
    this.attempts++;
    let ep: EndpointState | undefined;
    if (!cluster.passthrough) {
      const exclude = this.avoidPrevious ? this.tried : undefined;
      ep = cluster.pick({ hashKey: this.hashKey, random: this.d.mesh.random, now: cluster.policy.warmup ? this.d.mesh.now() : 0, exclude });
      if (!ep) return this.localFrom(NO_HEALTHY_UPSTREAM);
    }
    const admission = this.d.mesh.admit(cluster);
    if ('status' in admission) return this.localFrom(admission);
    if (ep && this.maxAttempts > 1) (this.tried ??= new TriedHosts()).add(ep);
    if (admission.ready) {
      admission.ready.then(() => {
        if (this.finished || this.aborted) admission.release();
        else this.send(cluster, ep, admission.release);
      });
    } else {
      this.send(cluster, ep, admission.release);
    }
  }

  private send(cluster: Cluster, ep: EndpointState | undefined, release: () => void): void {
    let headers = this.upstreamHeaders;
    if (this.attempts > 1) {
      headers = headers.slice();
      headers[headers.length - 1] = String(this.attempts);
    }
    const attempt = new Attempt(this, cluster, ep, release, this.attempts >= this.maxAttempts);
    this.current = attempt;
    const perTry = this.retry?.perTryTimeoutMs ?? null;
    if (perTry !== null) attempt.armPerTry(perTry);
    const upstreamOpts: DispatchOptions = {
      origin: ep ? originOf(ep) : this.opts.origin,
      path: this.path,
      method: this.opts.method,
      headers,
      body: this.body.body as DispatchOptions['body'],
      ...(this.opts.upgrade ? { upgrade: this.opts.upgrade } : {}),
    };
    try {
      if (ep) {
        const entry = this.d.poolFor(cluster, ep);
        if (entry.servername !== undefined) (upstreamOpts as DispatchOptions & { servername?: string }).servername = entry.servername;
        this.lastEp = ep;
        this.mtls = entry.tls.mode === 'istio';
        entry.pool.dispatch(upstreamOpts, attempt);
      } else {
        this.d.passthroughDispatcher().dispatch(upstreamOpts, attempt);
      }
    } catch (e) {
      attempt.onResponseError(noopController, e as Error);
    }
  }

  /** Called by an attempt whose outcome is retriable; returns false when no retry happens. */
  retryAfter(outcome: AttemptOutcome): boolean {
    if (this.finished || this.aborted || this.routeTimedOut) return false;
    if (this.attempts >= this.maxAttempts || !this.retry?.retriable(outcome)) return false;
    const cluster = this.cluster!;
    // maxRetries (circuit breaker): beyond it the retry is simply not attempted.
    if (!cluster.tryStartRetry()) return false;
    setTimeout(afterBackoff, backoffMs(this.retry, this.attempts, this.d.mesh.random), this);
    if (this.tel) {
      this.tel.recordRetry(cluster.key);
      if (this.span) this.tel.attemptEvent(this.span, this.attempts, this.current?.ep?.key, outcome);
    }
    return true;
  }

  onUpstreamResponse(attempt: Attempt, status: number, resHeaders: Record<string, string | string[] | undefined>, statusText: string | undefined, outcome: AttemptOutcome | null): void {
    // Retries exhausted on a retriable answer: the last upstream response goes back (URX).
    if (this.attempts > 1 && outcome && this.retry?.retriable(outcome)) this.flags.push('URX');
    this.status = status;
    this.committed = true;
    this.upstream = attempt.ep?.key;
    let stripRaw = false;
    if (this.tel) {
      this.fromUpstream = true;
      const gs = resHeaders['grpc-status'];
      if (gs !== undefined) this.grpcStatus = Number(gs);
      if (this.span && this.attempts > 1 && outcome) this.tel.attemptEvent(this.span, this.attempts, attempt.ep?.key, outcome);
      // The server's metadata, read and taken out before the caller sees the response.
      if (this.exchange) {
        const taken = takePeerMetadata(resHeaders);
        this.peer = taken.peer;
        stripRaw = taken.present;
      }
    }
    let out = resHeaders as Record<string, string | string[]>;
    if (!this.responseOps) {
      const raw = attempt.ctrl?.rawHeaders ?? null;
      // Keep undici's raw-header fast path: the same list, without the exchange pair.
      this.rawHeaders = stripRaw && Array.isArray(raw) ? withoutPeerMetadata(raw as (Buffer | string)[]) as Buffer[] : raw;
    }
    if (this.responseOps) {
      out = { ...out };
      for (const ops of this.responseOps) applyHeaderOps(out, ops);
    }
    this.user.onResponseStart?.(this, status, out, statusText);
  }

  finishFailure(outcome: AttemptOutcome, cause?: unknown): void {
    if (this.finished) return;
    if (this.tel) {
      if (outcome.kind === 'failure') this.transportFailure = outcome.transportFailure;
      if (this.span && this.attempts > 1) this.tel.attemptEvent(this.span, this.attempts, this.current?.ep?.key, outcome);
    }
    const r = failureReply(outcome, this.attempts > 1);
    this.localFrom(r, cause);
  }

  private mirror(decision: OutboundDecision): void {
    if (decision.mirrors.length === 0 || !this.body.replay) return;
    for (const m of sampleMirrors(decision.mirrors, this.d.mesh.random)) {
      // Fire and forget: the mirror never delays or fails the primary request.
      try {
        if (m.destination.missing) continue;
        const c = this.d.mesh.cluster(m.destination);
        const ep = c.pick({ random: this.d.mesh.random, now: this.d.mesh.now() });
        if (!ep) continue;
        const entry = this.d.poolFor(c, ep);
        // The exchange headers never leave the mesh, mirrors included.
        const headers = this.exchange && !c.inMesh ? withoutPeerMetadata(this.upstreamHeaders) : this.upstreamHeaders;
        entry.pool.dispatch({ origin: `http://${ep.key}`, method: this.opts.method, path: this.path, headers, body: this.body.body as DispatchOptions['body'], ...(entry.servername !== undefined ? { servername: entry.servername } : {}) }, discardHandler);
      } catch {
        /* a mirror failure is never the caller's problem */
      }
    }
  }

  private passthrough(): void {
    // Unknown host under ALLOW_ANY: forwarded as-is, no retries, no timeout (PassthroughCluster);
    // with telemetry, plus the request id and trace context (never the exchange headers).
    const self = this;
    let opts = this.opts;
    const replaced = this.replacedHeaders();
    if (replaced !== null) {
      const arr: string[] = [];
      for (const k in this.headers) if (!replaced.has(k)) arr.push(k, this.headers[k]!);
      pushOwn(arr, this.ownHeaders!);
      opts = { ...opts, headers: arr };
    }
    this.d.passthroughDispatcher().dispatch(opts, {
      onRequestStart(ctrl) {
        self.current = { ctrl, abort: (r: Error) => ctrl.abort(r) } as unknown as Attempt;
        if (self.aborted) ctrl.abort(self.abortedReason!);
      },
      onResponseStart(c, status, headers, text) {
        self.rawHeaders = c.rawHeaders ?? null;
        self.committed = true;
        self.status = status;
        self.fromUpstream = true;
        self.user.onResponseStart?.(self, status, headers, text);
      },
      onResponseData(_c, chunk) {
        self.responseBytes += chunk.length;
        self.user.onResponseData?.(self, chunk);
      },
      onResponseEnd(c, trailers) {
        self.rawTrailers = c.rawTrailers ?? null;
        self.end(trailers);
      },
      onResponseError(_c, err) {
        self.fail(err, []);
      },
    });
  }

  /** A local reply core decided (no host, overflow, a failed last attempt). */
  private localFrom(r: FailureReply, cause?: unknown): void {
    this.local(r.status, r.body, r.flags, r.headers, undefined, cause);
  }

  /** Answers locally as Envoy would (or throws a MeshError when configured to). */
  local(status: number, body: string, flags: readonly ResponseFlag[], extraHeaders?: Readonly<HeaderMap>, grpcStatus?: string, cause?: unknown): void {
    if (this.finished || this.committed) return;
    this.flags.push(...flags);
    if (this.d.options.throwOnLocalReply && status >= 400) return this.fail(localReplyError(status, body, flags, cause), []);
    const reply = localReply(status, body, { grpc: this.grpc, grpcStatus, extraHeaders });
    this.committed = true;
    this.status = reply.status;
    if (this.grpc) this.grpcStatus = Number(reply.headers['grpc-status']);
    this.user.onResponseStart?.(this, reply.status, reply.headers, '');
    if (reply.body) {
      const chunk = Buffer.from(reply.body);
      this.responseBytes += chunk.length;
      this.user.onResponseData?.(this, chunk);
    }
    this.end({});
  }

  end(trailers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    if (this.tel && trailers) {
      const gs = trailers['grpc-status'];
      if (gs !== undefined) this.grpcStatus = Number(gs);
    }
    this.user.onResponseEnd?.(this, trailers as Record<string, string | string[]>);
    this.report();
  }

  fail(err: Error, flags: ResponseFlag[]): void {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    this.flags.push(...flags);
    this.clearTimers();
    try {
      this.user.onResponseError?.(this, err);
    } catch {
      /* the caller's handler threw: nothing more to tell it */
    }
    this.report();
  }

  private clearTimers(): void {
    if (this.routeTimer) clearTimeout(this.routeTimer);
  }

  /** Request body bytes when the body is in memory (streams are not counted), else Content-Length. */
  private requestBytes(): number {
    const b = this.body.replay ? this.body.body : null;
    if (typeof b === 'string') return Buffer.byteLength(b);
    if (b instanceof Uint8Array) return b.byteLength;
    const cl = this.headers['content-length'];
    const n = cl === undefined ? 0 : Number(cl);
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  private report(): void {
    const t = this.tel;
    const cb = this.d.options.onRequestEnd;
    if (!t && !cb) return;
    const durationMs = performance.now() - this.startMs;
    const requestBytes = this.requestBytes();
    const service = this.cluster?.service ?? this.decision?.service;
    if (t) {
      const f = this.d.facts;
      f.method = this.opts.method;
      f.target = this.opts.path || '/';
      f.authority = this.authority;
      f.durationMs = durationMs;
      f.status = this.status;
      f.flags = this.flags;
      f.fromUpstream = this.fromUpstream;
      f.requestBytes = requestBytes;
      f.responseBytes = this.responseBytes;
      f.grpc = this.grpc;
      f.grpcStatus = this.grpcStatus;
      f.service = this.passthroughName ? undefined : service;
      f.passthrough = this.passthroughName;
      f.cluster = this.cluster;
      f.endpoint = this.lastEp;
      f.mtls = this.mtls;
      f.peer = this.peer;
      f.span = this.span;
      f.requestId = this.requestId;
      f.requestHeaders = this.headers;
      f.routeName = this.decision?.rule?.name;
      f.transportFailure = this.transportFailure;
      f.error = this.error;
      t.recordOutboundReused(f);
    }
    cb?.({
      host: this.host, status: this.status, flags: this.flags, upstream: this.upstream, cluster: this.cluster?.key, attempts: this.attempts, retriesDisabled: this.retriesDisabled,
      durationMs, requestBytes, responseBytes: this.responseBytes, requestId: this.requestId, service: service?.hostname, grpcStatus: this.grpcStatus, peer: this.peer,
    });
  }
}

function routeTimeout(r: MeshRequest): void {
  r.routeTimedOut = true;
  r.current?.abort(new MeshError('upstream request timeout', { code: Code.DeadlineExceeded, reason: 'upstream_timeout', flag: 'UT', status: 504 }));
  if (!r.committed) r.local(504, LOCAL_REPLY.upstreamTimeout, ['UT']);
}

function afterBackoff(r: MeshRequest): void {
  r.cluster!.endRetry();
  r.nextAttempt();
}

function perTryTimeout(a: Attempt): void {
  a.perTryTimedOut = true;
  const err = new MeshError('per-try timeout', { code: Code.DeadlineExceeded, reason: 'per_try_timeout', flag: 'UT' });
  if (a.ctrl) a.ctrl.abort(err);
  else {
    // Still connecting: settle the attempt now; the connection is aborted when it comes up.
    a.pendingAbort = err;
    a.onResponseError(noopController, err);
    a.abandoned = true;
  }
}

/** One upstream try: the undici handler for it, reporting back to its MeshRequest. */
class Attempt implements Handler {
  ctrl: Controller | null = null;
  pendingAbort: Error | null = null;
  abandoned = false;
  perTryTimedOut = false;
  private perTryTimer: NodeJS.Timeout | undefined;
  private sent = false;
  private released = false;

  constructor(private readonly r: MeshRequest, private readonly cluster: Cluster, readonly ep: EndpointState | undefined, private readonly releaseSlot: () => void, private readonly last: boolean) {
    if (ep) ep.active++;
  }

  armPerTry(ms: number): void {
    this.perTryTimer = setTimeout(perTryTimeout, ms, this);
  }

  abort(reason: Error): void {
    if (this.ctrl) this.ctrl.abort(reason);
    else this.pendingAbort = reason;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.perTryTimer) clearTimeout(this.perTryTimer);
    if (this.ep) this.ep.active--;
    this.releaseSlot();
  }

  onRequestStart(c: Controller): void {
    this.ctrl = c;
    if (this.pendingAbort) c.abort(this.pendingAbort);
    else if (this.r.aborted) c.abort(this.r.reason!);
    else if (this.r.paused) c.pause();
  }

  onRequestSent(): void {
    this.sent = true;
  }

  onResponseStart(c: Controller, status: number, headers: Record<string, string | string[] | undefined>, statusText?: string): void {
    if (this.abandoned) return;
    this.sent = true;
    if (this.perTryTimer) clearTimeout(this.perTryTimer);
    const r = this.r;
    const outlier = this.cluster.outlier;
    let outcome: AttemptOutcome | null = null;
    if (outlier || r.retry) {
      const gs = headers['grpc-status'];
      outcome = { kind: 'response', status, grpcStatus: gs !== undefined ? Number(gs) : undefined, rateLimited: headers['x-envoy-ratelimited'] !== undefined };
      if (this.ep) outlier?.recordOutcome(this.ep, outcome, r.d.mesh.now());
      if (!this.last && r.retry?.retriable(outcome) && r.retryAfter(outcome)) {
        // Retriable upstream answer with tries left: drop it and try again.
        this.abandoned = true;
        c.abort(RETRYING);
        this.release();
        return;
      }
    }
    r.onUpstreamResponse(this, status, headers, statusText, outcome);
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (this.abandoned) return;
    this.r.responseBytes += chunk.length;
    this.r.user.onResponseData?.(this.r, chunk);
  }

  onResponseEnd(c: Controller, trailers: Record<string, string | string[] | undefined>): void {
    if (this.abandoned) return;
    this.r.rawTrailers = c.rawTrailers ?? null;
    this.release();
    this.r.end(trailers);
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.release();
    const r = this.r;
    if (r.committed) {
      r.fail(err, []);
      return;
    }
    if (r.finished || r.aborted || r.routeTimedOut) return;
    const outcome = outcomeOfError(err as Error & { code?: string }, this.sent, this.perTryTimedOut);
    if (this.ep) this.cluster.outlier?.recordOutcome(this.ep, outcome, r.d.mesh.now());
    if (outcome.kind === 'failure' && outcome.transportFailure) r.transportFailure = outcome.transportFailure;
    if (!this.last && r.retryAfter(outcome)) return;
    r.finishFailure(outcome, err);
  }
}

const RETRYING = new Error('meshwork: retrying on another attempt');

const endpointOrigins = new WeakMap<EndpointState, string>();
/** `http://address:port` of an endpoint, built once per endpoint. */
function originOf(ep: EndpointState): string {
  let o = endpointOrigins.get(ep);
  if (o === undefined) endpointOrigins.set(ep, (o = `http://${ep.key}`));
  return o;
}

/** Reads and drops a mirror's response: it is never awaited and never reaches the caller. */
const discardHandler: Handler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
};
