/**
 * `MeshDispatcher`: an undici Dispatcher that gives every request what an Istio sidecar
 * would — routing, weighted subsets, load balancing, retries, timeouts, faults, mirroring,
 * circuit breaking, outlier detection — in the calling process. Every decision comes from
 * @meshwork/policy (through the Mesh of @meshwork/core); this file only moves bytes.
 */
import { Agent, Dispatcher, Pool } from 'undici';
import { LOCAL_REPLY, isGrpcRequest, localReply, pickWeighted, type HeaderOps, type OutboundDecision, type RouteDestination } from '@meshwork/policy';
import {
  backoffMs, Code, compileRetry, hashKeyFor, Mesh, MeshError, remainingBudget,
  type AttemptOutcome, type Cluster, type CompiledRetry, type EndpointState, type MeshOptions, type ResponseFlag,
} from '@meshwork/core';
import { toV2, type Controller, type Handler } from './handler.js';

export interface MeshDispatcherOptions extends MeshOptions {
  /** An existing Mesh to share (else one is made from the other options). */
  mesh?: Mesh | undefined;
  /** Throw a `MeshError` instead of answering with Envoy's local reply (503 UH, 504 UT, ...). */
  throwOnLocalReply?: boolean | undefined;
  /** Largest request body kept in memory so that a retry can replay it (default 1 MiB). */
  maxReplayBodyBytes?: number | undefined;
  /** Observes each finished request: response flags and the upstream chosen (telemetry hooks here later). */
  onRequestEnd?: ((info: RequestInfo) => void) | undefined;
}

export interface RequestInfo {
  host: string;
  status: number;
  flags: ResponseFlag[];
  upstream?: string | undefined;
  cluster?: string | undefined;
  attempts: number;
}

type Headers = Record<string, string | string[]>;

const kMeshRetryAbort = Symbol('meshwork.retryAbort');

/** Normalises undici's header forms (object, flat array, iterable of pairs) to lower-case names. */
function normalizeHeaders(h: Dispatcher.DispatchOptions['headers']): Headers {
  const out: Headers = {};
  const add = (k: string, v: string | string[] | undefined) => {
    if (v === undefined) return;
    const key = k.toLowerCase();
    const prev = out[key];
    if (prev === undefined) out[key] = Array.isArray(v) ? v.map(String) : String(v);
    else out[key] = ([] as string[]).concat(prev, Array.isArray(v) ? v.map(String) : String(v));
  };
  if (!h) return out;
  if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) add(String(h[i]), String(h[i + 1]));
  } else if (typeof (h as Iterable<unknown>)[Symbol.iterator] === 'function' && !(h as object).constructor?.name?.includes('Object')) {
    for (const [k, v] of h as Iterable<[string, string]>) add(k, v);
  } else {
    for (const [k, v] of Object.entries(h as Record<string, string | string[] | undefined>)) add(k, v);
  }
  return out;
}

function flat(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    const v = headers[k]!;
    out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function applyOps(headers: Headers, side: HeaderOps['request'] | undefined): void {
  if (!side) return;
  for (const name of side.remove) delete headers[name];
  for (const [k, v] of side.set) headers[k] = v;
  for (const [k, v] of side.add) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev, v);
  }
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET_BEFORE_CONNECT']);

function classifyError(err: Error & { code?: string }, sent: boolean, perTryTimedOut: boolean): AttemptOutcome {
  if (perTryTimedOut) return { kind: 'failure', reason: 'timeout', beforeRequestSent: !sent };
  if (err.code && CONNECT_ERRORS.has(err.code)) return { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true };
  return { kind: 'failure', reason: 'reset', beforeRequestSent: !sent };
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

export class MeshDispatcher extends Dispatcher {
  readonly mesh: Mesh;
  private readonly ownsMesh: boolean;
  private readonly pools = new Map<string, Pool>();
  private readonly poolByEndpoint = new WeakMap<EndpointState, Pool>();
  private readonly passthrough = new Agent();
  private closedFlag = false;

  constructor(readonly options: MeshDispatcherOptions = {}) {
    super();
    this.ownsMesh = !options.mesh;
    this.mesh = options.mesh ?? new Mesh(options);
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = toV2(handler);
    if (this.closedFlag) {
      queueMicrotask(() => h.onResponseError?.(noopController, new MeshError('dispatcher is closed', { code: Code.FailedPrecondition, reason: 'closed' })));
      return false;
    }
    new MeshRequest(this, opts, h).start();
    return true;
  }

  /** The undici pool of one endpoint, configured from its cluster's connection-pool policy. */
  poolFor(cluster: Cluster, ep: EndpointState): Pool {
    // Endpoint objects belong to one cluster and live across snapshots: the pool hangs off them.
    const cached = this.poolByEndpoint.get(ep);
    if (cached) return cached;
    const key = `${cluster.key}|${ep.key}`;
    let pool = this.pools.get(key);
    if (!pool) {
      const cp = cluster.policy.connectionPool;
      pool = new Pool(`http://${ep.key}`, {
        connections: cp.maxConnections >= 4294967295 ? null : cp.maxConnections,
        connect: { timeout: cp.connectTimeoutMs },
        keepAliveTimeout: Math.min(cp.idleTimeoutMs, 60_000),
        ...(cp.maxRequestsPerConnection > 0 ? { maxRequestsPerClient: cp.maxRequestsPerConnection } : {}),
      });
      this.pools.set(key, pool);
    }
    this.poolByEndpoint.set(ep, pool);
    return pool;
  }

  passthroughDispatcher(): Dispatcher {
    return this.passthrough;
  }

  override async close(): Promise<void> {
    this.closedFlag = true;
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    await this.passthrough.close();
    if (this.ownsMesh) this.mesh.close();
  }

  override async destroy(): Promise<void> {
    this.closedFlag = true;
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    await this.passthrough.destroy();
    if (this.ownsMesh) this.mesh.close();
  }
}

const originCache = new Map<string, { scheme: 'http' | 'https'; port: number; host: string }>();

/** Scheme, port and host of a dispatch origin; parsed once per origin (URL parsing costs microseconds). */
function parseOrigin(origin: Dispatcher.DispatchOptions['origin']): { scheme: 'http' | 'https'; port: number; host: string } {
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

/** One request's life: decide, fault, pick, attempt, retry, answer. */
class MeshRequest implements Controller {
  private attemptCtrl: Controller | null = null;
  private abortedReason: Error | null = null;
  private isPaused = false;
  private finished = false;
  private committed = false;
  private attempts = 0;
  private flags: ResponseFlag[] = [];
  private status = 0;
  private routeTimer: NodeJS.Timeout | undefined;
  private routeTimedOut = false;
  private upstream: string | undefined;
  private cluster: Cluster | undefined;
  private readonly headers: Headers;
  private readonly grpc: boolean;
  private host = '';

  constructor(private readonly d: MeshDispatcher, private readonly opts: Dispatcher.DispatchOptions, private readonly user: Handler) {
    this.headers = normalizeHeaders(opts.headers);
    const ct = this.headers['content-type'];
    this.grpc = isGrpcRequest(Array.isArray(ct) ? ct[0] : ct);
  }

  // ---- Controller given to the caller ----
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
    this.abortCurrent?.(this.abortedReason);
    if (!this.committed) this.fail(this.abortedReason, ['DC']);
  }
  pause(): void {
    this.isPaused = true;
    this.attemptCtrl?.pause();
  }
  resume(): void {
    this.isPaused = false;
    this.attemptCtrl?.resume();
  }

  start(): void {
    try {
      this.user.onRequestStart?.(this, {});
    } catch (e) {
      this.fail(e as Error, []);
      return;
    }
    if (this.aborted) return;
    this.run().catch((e: unknown) => this.fail(MeshError.from(e), []));
  }

  private async run(): Promise<void> {
    const { scheme, port, host: originHost } = parseOrigin(this.opts.origin);
    const hostHeader = this.headers.host;
    const authority = (Array.isArray(hostHeader) ? hostHeader[0] : hostHeader) ?? originHost;
    const target = this.opts.path || '/';
    const method = this.opts.method;
    const decision = this.d.mesh.decide({ method, scheme, authority, port, target, headers: flat(this.headers) });
    this.host = decision.host;

    switch (decision.action) {
      case 'passthrough':
        return this.passthrough();
      case 'blocked':
        return this.local(502, '', []);
      case 'noRoute':
        return this.local(404, '', ['NR']);
      case 'directResponse':
        return this.local(decision.directResponse!.status, decision.directResponse!.body ?? '', [], responseOps(decision));
      case 'redirect':
        return this.local(decision.redirect!.status, '', [], { location: decision.redirect!.location });
      case 'route':
        break;
    }

    // Fault injection happens before the router: aborted requests are never retried, and a
    // delay does not count against the route timeout.
    const random = this.d.mesh.random;
    const fault = decision.fault;
    if (fault?.delay && random() * 100 < fault.delay.percent) {
      this.flags.push('DI');
      await new Promise<void>((r) => setTimeout(r, fault.delay!.ms));
      if (this.aborted) return;
    }
    if (fault?.abort && random() * 100 < fault.abort.percent) {
      const status = fault.abort.httpStatus ?? 503;
      return this.local(status, LOCAL_REPLY.faultAbort, ['FI'], undefined, fault.abort.grpcStatus);
    }

    const dest = decision.destinations.length === 1 ? decision.destinations[0]! : decision.destinations[pickWeighted(decision.destinations, random())]!;
    if (dest.missing) return this.local(503, '', ['NC']);
    const cluster = this.d.mesh.cluster(dest);
    this.cluster = cluster;

    const retry = decision.retries ? compileRetry(decision.retries) : null;
    const raw = this.opts.body;
    // Bodies already in memory replay as they are; only streams are read (and only when a
    // retry or a mirror may need them again).
    const body: Replayable = raw === null || raw === undefined || typeof raw === 'string' || raw instanceof Uint8Array
      ? { replay: true, body: (raw ?? null) as string | Uint8Array | null }
      : retry || decision.mirrors.length > 0 ? await bufferBody(raw, this.d.options.maxReplayBodyBytes ?? 1024 * 1024) : { replay: false, body: raw };
    if (this.aborted) return;

    // Request headers: rule ops, then destination ops; rewrite; the attempt count.
    const headers: Headers = { ...this.headers };
    applyOps(headers, decision.headers?.request);
    applyOps(headers, dest.headers?.request);
    const path = decision.rewrite?.path ?? target;
    headers.host = decision.rewrite?.authority ?? (decision.headers?.authority ?? dest.headers?.authority ?? authority);

    // The route timeout covers every attempt and backoff; a propagated deadline caps it.
    const budget = remainingBudget();
    const timeout = decision.timeoutMs ?? budget ?? null;
    const effective = timeout !== null && budget !== undefined ? Math.min(timeout, budget) : timeout;
    if (effective !== null) {
      this.routeTimer = setTimeout(() => {
        this.routeTimedOut = true;
        this.abortCurrent?.(new MeshError('upstream request timeout', { code: Code.DeadlineExceeded, reason: 'upstream_timeout', flag: 'UT', status: 504 }));
        if (!this.committed) this.local(504, LOCAL_REPLY.upstreamTimeout, ['UT']);
      }, effective);
    }

    this.pendingResponseOps = [decision.headers?.response, dest.headers?.response];
    this.mirror(decision, body, headers, path);
    await this.attemptLoop(cluster, dest, retry, body, headers, path, decision);
  }

  private async attemptLoop(cluster: Cluster, dest: RouteDestination, retry: CompiledRetry | null, body: Replayable, headers: Headers, path: string, decision: OutboundDecision): Promise<void> {
    const maxAttempts = 1 + (retry && body.replay ? retry.attempts : 0);
    const tried = new Set<EndpointState>();
    const hash = hashKeyFor(cluster.policy.loadBalancer, headers, path);
    if (hash.setCookie) this.pendingResponseOps = [...this.pendingResponseOps, { set: [], add: [['set-cookie', hash.setCookie]], remove: [] }];
    const avoidPrevious = decision.retries?.retryIgnorePreviousHosts ?? !(decision.destinations.length === 1 && cluster.policy.loadBalancer.kind === 'consistentHash');
    for (;;) {
      if (this.finished || this.aborted) return;
      this.attempts++;
      const ep = cluster.passthrough ? undefined : cluster.pick({ hashKey: hash.key, random: this.d.mesh.random, now: this.d.mesh.now(), exclude: avoidPrevious && tried.size > 0 ? tried : undefined });
      if (!cluster.passthrough && !ep) return this.local(503, LOCAL_REPLY.noHealthyUpstream, ['UH']);
      const admission = cluster.admit();
      if (admission === 'overflow') return this.local(503, LOCAL_REPLY.overflow, ['UO'], { 'x-envoy-overloaded': 'true' });
      if (admission.ready) {
        await admission.ready;
        if (this.finished || this.aborted) {
          admission.release();
          return;
        }
      }
      if (ep) tried.add(ep);
      const attemptHeaders = { ...headers, 'x-envoy-attempt-count': String(this.attempts) };
      const last = this.attempts >= maxAttempts;
      const outcome = await this.attempt(cluster, ep, attemptHeaders, path, body, retry?.perTryTimeoutMs ?? null, retry, last, admission.release);
      if (outcome === 'done') return;
      // Retry: maxRetries (circuit breaker) may veto; backoff first.
      if (!cluster.tryStartRetry()) {
        return this.finishFailure(outcome.failure, true);
      }
      try {
        await new Promise<void>((r) => setTimeout(r, backoffMs(retry!, this.attempts, this.d.mesh.random)));
      } finally {
        cluster.endRetry();
      }
    }
  }

  /**
   * One attempt. Resolves 'done' when the caller has been answered (upstream response
   * committed or a final local reply), or `{ failure }` when it should be retried.
   */
  private attempt(cluster: Cluster, ep: EndpointState | undefined, headers: Headers, path: string, body: Replayable, perTryMs: number | null, retry: CompiledRetry | null, last: boolean, release: () => void): Promise<'done' | { failure: AttemptOutcome }> {
    return new Promise((resolve) => {
      let settled = false;
      let perTryTimedOut = false;
      let perTryTimer: NodeJS.Timeout | undefined;
      let abandoned = false;
      let sent = false;
      const outlier = cluster.outlier;
      const finish = (r: 'done' | { failure: AttemptOutcome }) => {
        if (settled) return;
        settled = true;
        if (perTryTimer) clearTimeout(perTryTimer);
        resolve(r);
      };
      if (ep) ep.active++;
      const done = () => {
        if (ep) ep.active--;
        release();
      };
      const self = this;
      let ctrl: Controller | null = null;
      let pendingAbort: Error | null = null;
      this.abortCurrent = (reason) => {
        if (ctrl) ctrl.abort(reason);
        else pendingAbort = reason;
      };
      const attemptHandler: Handler = {
        onRequestStart(c) {
          ctrl = c;
          self.attemptCtrl = c;
          if (pendingAbort) c.abort(pendingAbort);
          else if (self.aborted) c.abort(self.abortedReason!);
          else if (self.isPaused) c.pause();
        },
        onRequestSent() {
          sent = true;
        },
        onResponseStart(ctrl, status, resHeaders, statusText) {
          sent = true;
          if (perTryTimer) clearTimeout(perTryTimer);
          const gs = resHeaders['grpc-status'];
          const outcome: AttemptOutcome = { kind: 'response', status, grpcStatus: gs !== undefined ? Number(gs) : undefined, rateLimited: resHeaders['x-envoy-ratelimited'] !== undefined };
          if (ep) outlier?.recordOutcome(ep, outcome, self.d.mesh.now());
          if (!last && retry && retry.retriable(outcome) && !self.routeTimedOut) {
            // Retriable upstream answer with tries left: drop it and try again.
            abandoned = true;
            ctrl.abort(Object.assign(new Error('retrying'), { [kMeshRetryAbort]: true }));
            done();
            finish({ failure: outcome });
            return;
          }
          // Retries exhausted on a retriable answer: the last upstream response goes back (URX).
          if (self.attempts > 1 && retry?.retriable(outcome)) self.flags.push('URX');
          self.status = status;
          self.committed = true;
          self.upstream = ep?.key;
          const out: Headers = { ...(resHeaders as Headers) };
          for (const ops of self.pendingResponseOps) applyOps(out, ops);
          self.user.onResponseStart?.(self, status, out, statusText);
        },
        onResponseData(_ctrl, chunk) {
          if (!abandoned) self.user.onResponseData?.(self, chunk);
        },
        onResponseEnd(_ctrl, trailers) {
          if (abandoned) return;
          done();
          self.end(trailers);
          finish('done');
        },
        onResponseError(_ctrl, err) {
          if (abandoned) return;
          done();
          if (self.committed) {
            self.finished = true;
            self.clearTimers();
            self.user.onResponseError?.(self, err);
            finish('done');
            return;
          }
          if (self.finished) return finish('done');
          const outcome = classifyError(err as Error & { code?: string }, sent, perTryTimedOut);
          if (ep) outlier?.recordOutcome(ep, outcome, self.d.mesh.now());
          if (self.aborted || self.routeTimedOut) return finish('done');
          if (!last && retry && retry.retriable(outcome)) return finish({ failure: outcome });
          self.finishFailure(outcome, self.attempts > 1, err);
          finish('done');
        },
      };
      if (perTryMs !== null) {
        perTryTimer = setTimeout(() => {
          perTryTimedOut = true;
          const err = new MeshError('per-try timeout', { code: Code.DeadlineExceeded, reason: 'per_try_timeout', flag: 'UT' });
          if (ctrl) ctrl.abort(err);
          else {
            // Still connecting: settle the attempt now; the connection is aborted when it comes up.
            pendingAbort = err;
            attemptHandler.onResponseError?.(noopController, err);
            abandoned = true;
          }
        }, perTryMs);
      }
      const upstreamOpts: Dispatcher.DispatchOptions = {
        ...this.opts,
        origin: ep ? `http://${ep.key}` : this.opts.origin,
        path,
        headers: flatten(headers),
        body: (body.replay ? body.body : body.body) as Dispatcher.DispatchOptions['body'],
      };
      const target: Dispatcher = ep ? this.d.poolFor(cluster, ep) : this.d.passthroughDispatcher();
      try {
        target.dispatch(upstreamOpts, attemptHandler);
      } catch (e) {
        attemptHandler.onResponseError?.(noopController, e as Error);
      }
    });
  }

  private pendingResponseOps: (HeaderOps['response'] | undefined)[] = [];
  /** Aborts the attempt in flight (or the next one to start, if its connection is not up yet). */
  private abortCurrent: ((reason: Error) => void) | null = null;

  private finishFailure(outcome: AttemptOutcome, retried: boolean, cause?: unknown): void {
    if (this.finished) return;
    if (outcome.kind === 'response') {
      // Only reached when maxRetries vetoed a retry of a retriable response that was
      // already dropped: answer as Envoy does when the upstream reset.
      return this.local(503, LOCAL_REPLY.connectionTermination, retried ? ['UC', 'URX'] : ['UC']);
    }
    if (outcome.reason === 'timeout') return this.local(504, LOCAL_REPLY.upstreamTimeout, retried ? ['UT', 'URX'] : ['UT']);
    const flag: ResponseFlag = outcome.reason === 'connect-failure' ? 'UF' : 'UC';
    const body = outcome.reason === 'connect-failure' ? LOCAL_REPLY.connectionFailure : LOCAL_REPLY.connectionTermination;
    this.local(503, retried ? body.replace('before headers.', 'before headers. retried and the latest') : body, retried ? [flag, 'URX'] : [flag], undefined, undefined, cause);
  }

  private mirror(decision: OutboundDecision, body: Replayable, headers: Headers, path: string): void {
    if (decision.mirrors.length === 0 || !body.replay) return;
    for (const m of decision.mirrors) {
      if (this.d.mesh.random() * 100 >= m.percent) continue;
      // Fire and forget: the mirror never delays or fails the primary request.
      try {
        const snap = this.d.mesh.snapshot;
        const svc = snap.byHostname.get(m.host);
        if (!svc) continue;
        const c = this.d.mesh.cluster({ host: m.host, subset: m.subset, port: m.port, weight: 100, service: svc });
        const ep = c.pick({ random: this.d.mesh.random, now: this.d.mesh.now() });
        if (!ep) continue;
        this.d.poolFor(c, ep).dispatch({ ...this.opts, origin: `http://${ep.key}`, path, headers: flatten(headers), body: body.body as Dispatcher.DispatchOptions['body'] }, discardHandler);
      } catch {
        /* a mirror failure is never the caller's problem */
      }
    }
  }

  private passthrough(): void {
    // Unknown host under ALLOW_ANY: forwarded as-is, no retries, no timeout (PassthroughCluster).
    const self = this;
    this.d.passthroughDispatcher().dispatch(this.opts, {
      onRequestStart(ctrl) {
        self.attemptCtrl = ctrl;
        if (self.aborted) ctrl.abort(self.abortedReason!);
      },
      onResponseStart(_c, status, headers, text) {
        self.committed = true;
        self.status = status;
        self.user.onResponseStart?.(self, status, headers, text);
      },
      onResponseData(_c, chunk) {
        self.user.onResponseData?.(self, chunk);
      },
      onResponseEnd(_c, trailers) {
        self.end(trailers);
      },
      onResponseError(_c, err) {
        self.finished = true;
        self.user.onResponseError?.(self, err);
      },
    });
  }

  /** Answers locally as Envoy would (or throws a MeshError when configured to). */
  private local(status: number, body: string, flags: ResponseFlag[], extraHeaders?: Record<string, string>, grpcStatus?: string, cause?: unknown): void {
    if (this.finished || this.committed) return;
    this.flags.push(...flags);
    if (this.d.options.throwOnLocalReply && status >= 400) {
      const code = status === 504 ? Code.DeadlineExceeded : status === 404 ? Code.NotFound : status === 403 ? Code.PermissionDenied : Code.Unavailable;
      return this.fail(new MeshError(body || `local reply ${status}`, { code, reason: flags[0] ? flags[0].toLowerCase() : `http_${status}`, flag: flags[0], status, cause }), []);
    }
    const reply = localReply(status, body, { grpc: this.grpc, grpcStatus, extraHeaders });
    this.committed = true;
    this.status = reply.status;
    this.user.onResponseStart?.(this, reply.status, reply.headers, '');
    if (reply.body) this.user.onResponseData?.(this, Buffer.from(reply.body));
    this.end({});
  }

  private end(trailers: Record<string, string | string[] | undefined>): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    this.user.onResponseEnd?.(this, trailers as Record<string, string | string[]>);
    this.report(this.status);
  }

  private fail(err: Error, flags: ResponseFlag[]): void {
    if (this.finished) return;
    this.finished = true;
    this.flags.push(...flags);
    this.clearTimers();
    try {
      this.user.onResponseError?.(this, err);
    } catch {
      /* the caller's handler threw: nothing more to tell it */
    }
    this.report(0);
  }

  private clearTimers(): void {
    if (this.routeTimer) clearTimeout(this.routeTimer);
  }

  private report(status: number): void {
    this.d.options.onRequestEnd?.({ host: this.host, status, flags: this.flags, upstream: this.upstream, cluster: this.cluster?.key, attempts: this.attempts });
  }
}

function responseOps(decision: OutboundDecision): Record<string, string> | undefined {
  const ops = decision.headers?.response;
  if (!ops || (ops.set.length === 0 && ops.add.length === 0)) return undefined;
  return Object.fromEntries([...ops.set, ...ops.add]);
}

function flatten(headers: Headers): string[] {
  const out: string[] = [];
  for (const k in headers) {
    const v = headers[k]!;
    if (Array.isArray(v)) for (const x of v) out.push(k, x);
    else out.push(k, v);
  }
  return out;
}

/** Reads and drops a mirror's response: it is never awaited and never reaches the caller. */
const discardHandler: Handler = {
  onRequestStart() {},
  onResponseStart() {},
  onResponseData() {},
  onResponseEnd() {},
  onResponseError() {},
};
