/**
 * Call-site circuit breaker, Hystrix style: a rolling-window error-rate breaker with a
 * fallback around one function the application calls (a client method, a query), as opposed
 * to the data plane's Envoy semantics (connection-pool admission and outlier ejection per
 * cluster, in cluster.ts / outlier-detection.ts).
 *
 * opossum does the breaking (rolling buckets, error percentage, volume threshold, reset
 * timer, fallback, its event names); cockatiel's bulkhead policy limits concurrency. Neither
 * library's types appear in anything exported from here: the options, events, stats and
 * errors are our own, so either library can be swapped without breaking callers.
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { bulkhead as cockatielBulkhead, isBulkheadRejectedError, isTaskCancelledError } from 'cockatiel';
import { Code, MeshError } from './errors.js';

export type MeshBreakerState = 'closed' | 'open' | 'half-open' | 'shutdown';

export interface MeshBreakerBulkhead {
  /** Calls of `fn` allowed to run at once. */
  maxConcurrent: number;
  /** Calls allowed to wait for a free slot; past that a call is rejected. Default 0 (Hystrix's semaphore isolation has no queue). */
  maxQueue?: number | undefined;
}

export interface MeshBreakerOptions<A extends unknown[], R> {
  /** Names the breaker in errors, events and stats (Hystrix's command key). */
  name: string;
  /** Per-call timeout in ms; a call still running then fails with MeshError DeadlineExceeded. Off by default. */
  timeoutMs?: number | undefined;
  /** The circuit opens when failures reach this percentage of the calls in the window (Hystrix: >=). Default 50. */
  errorThresholdPercentage?: number | undefined;
  /** Calls the window must hold before the circuit may open. Default 20 (Hystrix's requestVolumeThreshold). */
  volumeThreshold?: number | undefined;
  /** Length of the rolling statistics window in ms. Default 10000. */
  rollingWindowMs?: number | undefined;
  /** Buckets the window is divided into; the window slides one bucket at a time. Default 10. */
  rollingBuckets?: number | undefined;
  /** How long the circuit stays open before one trial call is let through (half-open). Default 5000. */
  resetTimeoutMs?: number | undefined;
  /**
   * Answers instead of `fn` when the call fails, times out, is rejected by the bulkhead or is
   * rejected while the circuit is open. Receives the error first (a MeshError for the
   * breaker's own refusals, `fn`'s error otherwise), then the call's arguments.
   */
  fallback?: ((error: unknown, ...args: A) => R | PromiseLike<R>) | undefined;
  /**
   * Whether an error thrown by `fn` says the dependency is unhealthy. Errors for which it
   * returns false pass through unchanged, never reach the fallback and do not count as
   * failures. Default: `isBreakerFailure`.
   */
  isFailure?: ((error: unknown) => boolean) | undefined;
  /** Concurrency limit around `fn` (a bulkhead, as Hystrix's semaphore isolation). Off by default. */
  bulkhead?: MeshBreakerBulkhead | undefined;
  /**
   * Cancels waiting: a breaker-wide signal, or a function picking each call's signal out of its
   * arguments (for example `(url, init) => init?.signal`). `run({ signal }, ...args)` adds one per call.
   */
  signal?: AbortSignal | ((...args: A) => AbortSignal | undefined) | undefined;
  /** Keep call latencies for percentiles in `stats()`. Costs one number per call per window. Default true. */
  latencyPercentiles?: boolean | undefined;
}

/** Listeners by event: the Hystrix-style event names, with Meshwork's own payloads. */
export interface MeshBreakerEvents {
  /** The circuit opened: calls are rejected without running `fn`. */
  open: () => void;
  /** The half-open trial succeeded; the circuit closed and the window was cleared. */
  close: () => void;
  /** The reset timeout elapsed; the next call is the trial. */
  halfOpen: () => void;
  /** A call was refused because the circuit is open (or half-open with its trial in flight). */
  reject: (error: MeshError) => void;
  /** A call ran past `timeoutMs` (a `failure` event follows for the same call). */
  timeout: (error: MeshError, latencyMs: number) => void;
  /** `fn` resolved. */
  success: (latencyMs: number) => void;
  /** A call counted as a failure: `fn` threw a failure error, timed out or the bulkhead was full. */
  failure: (error: unknown, latencyMs: number) => void;
  /** The fallback was called for the given error. */
  fallback: (error: unknown) => void;
}

export type MeshBreakerEvent = keyof MeshBreakerEvents;

export interface MeshBreakerSubscription {
  dispose(): void;
}

export interface MeshBreakerStats {
  state: MeshBreakerState;
  /** The rolling window these counts cover, in ms. */
  windowMs: number;
  /** Calls that reached the breaker (including rejected ones). */
  calls: number;
  /** Calls that did not count as failures: resolved, or threw an error `isFailure` declined. */
  successes: number;
  failures: number;
  /** Calls refused while the circuit was open. */
  rejects: number;
  timeouts: number;
  fallbacks: number;
  /** Latency of calls that ran (successes, failures, timeouts), or undefined when disabled. */
  latencyMs: { mean: number; p50: number; p90: number; p95: number; p99: number; max: number } | undefined;
  /** Bulkhead occupancy now, when a bulkhead is configured. */
  bulkhead: { active: number; queued: number; maxConcurrent: number; maxQueue: number } | undefined;
}

export interface MeshBreaker<A extends unknown[], R> {
  /** Calls `fn` through the breaker. */
  (...args: A): Promise<R>;
  /** Same, with a per-call AbortSignal: aborting rejects the call with the signal's reason. */
  run(init: { signal?: AbortSignal | undefined }, ...args: A): Promise<R>;
  readonly name: string;
  readonly state: MeshBreakerState;
  on<E extends MeshBreakerEvent>(event: E, listener: MeshBreakerEvents[E]): MeshBreakerSubscription;
  /** Counts over the rolling window (cleared when the circuit closes, as Hystrix resets its metrics). */
  stats(): MeshBreakerStats;
  /** Stops the breaker's timers; later calls reject with MeshError Unavailable `breaker_shutdown`. */
  shutdown(): void;
}

/**
 * MeshError codes that describe the request, not the dependency's health: Hystrix's
 * HystrixBadRequestException. gRPC maps them to HTTP 4xx (Canceled to nginx's 499). Aborted and
 * ResourceExhausted also map to 4xx but report the dependency's contention or overload,
 * which is what a breaker is for, so they stay failures.
 */
const NOT_FAILURE_CODES: ReadonlySet<number> = new Set([
  Code.Canceled,
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.Unauthenticated,
]);

/**
 * The default failure classifier: every thrown value is a failure except a MeshError whose
 * code blames the request. Like Hystrix's bad requests, those pass through unchanged and skip
 * the fallback. Compose it in a custom `isFailure` to add your own bad-request errors.
 */
export function isBreakerFailure(error: unknown): boolean {
  return !(error instanceof MeshError && NOT_FAILURE_CODES.has(error.code));
}

interface CallContext {
  /** Cancels waiting in the bulkhead queue (caller abort or breaker timeout). */
  readonly controller: AbortController | undefined;
  cancelled: boolean;
  reason: unknown;
}

const DEFAULTS = {
  errorThresholdPercentage: 50,
  volumeThreshold: 20,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 5_000,
};

function check(ok: boolean, what: string): void {
  if (!ok) throw new RangeError(`meshBreaker: ${what}`);
}

const isCount = (n: number, min: number): boolean => Number.isSafeInteger(n) && n >= min;
const isPositiveMs = (n: number): boolean => Number.isFinite(n) && n > 0;

function isAbortError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/**
 * Wraps `fn` in a circuit breaker. The result is called like `fn` (without a `this`: bind
 * methods first) and always returns a Promise. Invalid options throw a RangeError.
 */
export function meshBreaker<A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>, options: MeshBreakerOptions<A, R>): MeshBreaker<A, R> {
  if (typeof fn !== 'function') throw new TypeError('meshBreaker: fn must be a function');
  const name = options.name;
  check(typeof name === 'string' && name !== '', 'name must be a non-empty string');
  const errorThreshold = options.errorThresholdPercentage ?? DEFAULTS.errorThresholdPercentage;
  const volumeThreshold = options.volumeThreshold ?? DEFAULTS.volumeThreshold;
  const windowMs = options.rollingWindowMs ?? DEFAULTS.rollingWindowMs;
  const buckets = options.rollingBuckets ?? DEFAULTS.rollingBuckets;
  const resetTimeoutMs = options.resetTimeoutMs ?? DEFAULTS.resetTimeoutMs;
  const timeoutMs = options.timeoutMs;
  // opossum silently replaces a non-integer volumeThreshold with 0 and would spin a 0 ms
  // bucket interval, so bad values are refused here instead.
  check(Number.isFinite(errorThreshold) && errorThreshold >= 0 && errorThreshold <= 100, `errorThresholdPercentage must be within 0..100, got ${errorThreshold}`);
  check(isCount(volumeThreshold, 0), `volumeThreshold must be a non-negative integer, got ${volumeThreshold}`);
  check(isCount(windowMs, 1), `rollingWindowMs must be a positive integer, got ${windowMs}`);
  check(isCount(buckets, 1) && windowMs / buckets >= 1, `rollingBuckets must be a positive integer no larger than rollingWindowMs, got ${buckets}`);
  check(isPositiveMs(resetTimeoutMs), `resetTimeoutMs must be positive, got ${resetTimeoutMs}`);
  check(timeoutMs === undefined || isPositiveMs(timeoutMs), `timeoutMs must be positive, got ${timeoutMs}`);
  const maxConcurrent = options.bulkhead?.maxConcurrent;
  const maxQueue = options.bulkhead?.maxQueue ?? 0;
  if (options.bulkhead) {
    check(maxConcurrent !== undefined && isCount(maxConcurrent, 1), `bulkhead.maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    check(isCount(maxQueue, 0), `bulkhead.maxQueue must be a non-negative integer, got ${maxQueue}`);
  }
  const isFailure = options.isFailure ?? isBreakerFailure;
  const bh = maxConcurrent !== undefined ? cockatielBulkhead(maxConcurrent, maxQueue) : undefined;

  /** Errors the breaker itself raised inside the action; they always count as failures. */
  const ownErrors = new WeakSet<object>();
  const bulkheadFull = (): MeshError => {
    const e = new MeshError(`breaker "${name}": bulkhead full (${maxConcurrent} running, ${maxQueue} queued)`, {
      code: Code.Unavailable,
      reason: 'bulkhead_full',
      flag: 'UO',
      status: 503,
    });
    ownErrors.add(e);
    return e;
  };

  // The call context rides as the action's first argument: opossum hands the arguments back
  // to errorFilter, fallback and its timeout/failure events, which is the only way to tie
  // those callbacks to one call.
  const action = async (ctx: CallContext, ...args: A): Promise<R> => {
    if (!bh) return fn(...args);
    let entered = false;
    try {
      return await bh.execute(() => {
        entered = true;
        return fn(...args);
      }, ctx.controller?.signal);
    } catch (e) {
      if (!entered && isBulkheadRejectedError(e)) throw bulkheadFull();
      // Cancelled while queued: the caller has its abort reason already; hand the same value
      // to errorFilter so it is recognised as a cancellation.
      if (!entered && isTaskCancelledError(e) && ctx.cancelled) throw ctx.reason;
      throw e;
    }
  };

  // Bucket rotation is driven from here rather than by opossum's own interval so the window
  // can be cleared when the circuit closes: Hystrix resets its health counts on close, while
  // opossum keeps them, which would re-open the circuit on the first failure after closing.
  const rotator = new EventEmitter();
  const bucketMs = Math.floor(windowMs / buckets);
  let rotation: ReturnType<typeof setInterval> | undefined = setInterval(() => rotator.emit('rotate'), bucketMs);
  rotation.unref();

  const cb = new CircuitBreaker<[CallContext, ...A], R>(action, {
    name,
    // opossum defaults to a 10 s timeout; ours is off unless asked for.
    timeout: timeoutMs ?? false,
    resetTimeout: resetTimeoutMs,
    // Hystrix opens at errorPercentage >= threshold (HystrixCircuitBreaker: `getErrorPercentage()
    // < threshold` keeps it closed); opossum opens only above it. A hair below the threshold gives
    // Hystrix's rule (50% opens with the default 50, and 100 still means "when all fail").
    errorThresholdPercentage: errorThreshold - 1e-9,
    volumeThreshold,
    rollingCountTimeout: windowMs,
    rollingCountBuckets: buckets,
    rollingPercentilesEnabled: options.latencyPercentiles !== false,
    rotateBucketController: rotator,
    enableSnapshots: false,
    errorFilter: (err: unknown, ...rest: unknown[]): boolean => classify(err, rest[0] as CallContext),
  });
  // opossum's typings list only some payload arguments; listen through the plain emitter.
  const em: EventEmitter = cb;

  /** Set when errorFilter declined an error: opossum then emits `success` for it, which we swallow. */
  let swallowSuccess = false;
  function classify(err: unknown, ctx: CallContext): boolean {
    if ((err instanceof Error && CircuitBreaker.isOurError(err)) || (typeof err === 'object' && err !== null && ownErrors.has(err))) return false;
    if (ctx.cancelled && (err === ctx.reason || isAbortError(err))) {
      // The caller gave up, which says nothing about the dependency; but a cancelled half-open
      // trial proved nothing either, so it re-opens the circuit rather than closing it.
      if (cb.halfOpen) return false;
      swallowSuccess = true;
      return true;
    }
    let failure: boolean;
    try {
      failure = isFailure(err);
    } catch {
      // A broken classifier must not corrupt the breaker's state: count the call as failed.
      failure = true;
    }
    if (!failure) swallowSuccess = true;
    return !failure;
  }

  const translated = new WeakMap<object, MeshError>();
  /** opossum's own errors become MeshErrors (the same instance for every consumer of one call); others pass unchanged. */
  function translate(e: unknown): unknown {
    if (!(e instanceof Error) || !CircuitBreaker.isOurError(e)) return e;
    const known = translated.get(e);
    if (known) return known;
    const code = (e as { code?: unknown }).code;
    const m =
      code === 'ETIMEDOUT'
        ? new MeshError(`breaker "${name}": call timed out after ${timeoutMs}ms`, { code: Code.DeadlineExceeded, reason: 'breaker_timeout', flag: 'UT', status: 504 })
        : code === 'ESHUTDOWN'
          ? new MeshError(`breaker "${name}" is shut down`, { code: Code.Unavailable, reason: 'breaker_shutdown', status: 503 })
          : new MeshError(`circuit breaker "${name}" is open`, { code: Code.Unavailable, reason: 'circuit_open', flag: 'UO', status: 503 });
    translated.set(e, m);
    return m;
  }

  const listeners = new Map<MeshBreakerEvent, Set<(...a: never[]) => void>>();
  function emit<E extends MeshBreakerEvent>(event: E, ...payload: Parameters<MeshBreakerEvents[E]>): void {
    const set = listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        (l as (...a: unknown[]) => void)(...payload);
      } catch (e) {
        // A throwing listener must not break opossum's state machine mid-transition; it
        // surfaces as an uncaught exception, as it would from an EventEmitter.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  em.on('open', () => emit('open'));
  em.on('halfOpen', () => emit('halfOpen'));
  em.on('close', () => {
    for (let i = 0; i < buckets; i++) rotator.emit('rotate');
    emit('close');
  });
  em.on('reject', (err: unknown) => emit('reject', translate(err) as MeshError));
  em.on('timeout', (err: unknown, latency: number, args: unknown[]) => {
    // Stop waiting in the bulkhead queue: the caller has its answer.
    (args[0] as CallContext).controller?.abort(translate(err));
    emit('timeout', translate(err) as MeshError, latency);
  });
  em.on('success', (_result: unknown, latency: number) => {
    if (swallowSuccess) {
      swallowSuccess = false;
      return;
    }
    emit('success', latency);
  });
  em.on('failure', (err: unknown, latency: number) => emit('failure', translate(err), latency));
  em.on('fallback', (_result: unknown, err: unknown) => emit('fallback', translate(err)));

  const userFallback = options.fallback;
  if (userFallback) {
    // opossum calls the fallback with (...actionArgs, error); ours takes (error, ...args), which
    // stays unambiguous when `fn` has optional parameters.
    cb.fallback((...all: unknown[]) => userFallback(translate(all[all.length - 1]), ...(all.slice(1, -1) as A)));
  }

  function callSignals(init: { signal?: AbortSignal | undefined } | undefined, args: A): AbortSignal[] {
    const out: AbortSignal[] = [];
    const s = options.signal;
    const fromOptions = typeof s === 'function' ? s(...args) : s;
    if (fromOptions) out.push(fromOptions);
    if (init?.signal) out.push(init.signal);
    return out;
  }

  function invoke(init: { signal?: AbortSignal | undefined } | undefined, args: A): Promise<R> {
    const signals = callSignals(init, args);
    for (const s of signals) if (s.aborted) return Promise.reject(s.reason);
    const ctx: CallContext = { controller: bh ? new AbortController() : undefined, cancelled: false, reason: undefined };
    const fired = cb.fire(ctx, ...args).catch((e: unknown) => {
      throw translate(e);
    });
    if (signals.length === 0) return fired;
    return new Promise<R>((resolve, reject) => {
      const onAbort = (ev: Event): void => {
        const reason = (ev.target as AbortSignal).reason;
        ctx.cancelled = true;
        ctx.reason = reason;
        cleanup();
        // Leaves the bulkhead queue if still waiting; a running `fn` finishes on its own
        // (pass it the signal to stop it) and its outcome still counts.
        ctx.controller?.abort(reason);
        reject(reason);
      };
      const cleanup = (): void => {
        for (const s of signals) s.removeEventListener('abort', onAbort);
      };
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      fired.then(
        (v) => {
          cleanup();
          resolve(v);
        },
        (e: unknown) => {
          cleanup();
          reject(e);
        },
      );
    });
  }

  const stateOf = (): MeshBreakerState => (cb.isShutdown ? 'shutdown' : cb.opened ? 'open' : cb.halfOpen ? 'half-open' : 'closed');

  const breaker = ((...args: A) => invoke(undefined, args)) as MeshBreaker<A, R>;
  Object.defineProperty(breaker, 'name', { value: name });
  Object.defineProperty(breaker, 'state', { get: stateOf, enumerable: true });
  Object.assign(breaker, {
    run(init: { signal?: AbortSignal | undefined }, ...args: A): Promise<R> {
      return invoke(init, args);
    },
    on<E extends MeshBreakerEvent>(event: E, listener: MeshBreakerEvents[E]): MeshBreakerSubscription {
      if (typeof listener !== 'function') throw new TypeError('meshBreaker: listener must be a function');
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      // Each registration gets its own wrapper, so registering one function twice needs two disposes.
      const entry = (...a: never[]): void => (listener as (...a: never[]) => void)(...a);
      set.add(entry);
      return { dispose: () => void set.delete(entry) };
    },
    stats(): MeshBreakerStats {
      const s = cb.stats;
      const latencyOn = options.latencyPercentiles !== false;
      const p = (q: number): number => s.percentiles[q] ?? 0;
      return {
        state: stateOf(),
        windowMs,
        calls: s.fires,
        successes: s.successes,
        failures: s.failures,
        rejects: s.rejects,
        timeouts: s.timeouts,
        fallbacks: s.fallbacks,
        latencyMs: latencyOn ? { mean: s.latencyMean, p50: p(0.5), p90: p(0.9), p95: p(0.95), p99: p(0.99), max: p(1) } : undefined,
        bulkhead:
          bh && maxConcurrent !== undefined
            ? { active: maxConcurrent - bh.executionSlots, queued: maxQueue - bh.queueSlots, maxConcurrent, maxQueue }
            : undefined,
      };
    },
    shutdown(): void {
      if (rotation !== undefined) {
        clearInterval(rotation);
        rotation = undefined;
      }
      if (!cb.isShutdown) cb.shutdown();
      listeners.clear();
    },
  });
  return breaker;
}
