/**
 * Per-token rate limits for the endpoints that cost the control service real work or write
 * (workload registration, certificate signing): one token bucket per (endpoint class, token),
 * keyed by the join token's sha256 or `admin`, never by the token itself. The clock is the
 * server's (injectable), so tests step time instead of sleeping.
 */
import { ApiError } from './http.js';

export interface RateLimitOptions {
  /** Requests a token may make at once, after being idle (the bucket's size). Default 20. */
  burst?: number | undefined;
  /** Requests per second a token may keep making (the refill rate). Default 5. */
  perSecond?: number | undefined;
  /**
   * Most buckets kept at once (default 10,000). Idle buckets (full again) are dropped first,
   * as they hold nothing a new bucket would not; past the limit the least recently used go.
   */
  maxBuckets?: number | undefined;
}

export const DEFAULT_RATE_LIMIT = Object.freeze({ burst: 20, perSecond: 5, maxBuckets: 10_000 });

interface Bucket {
  tokens: number;
  atMs: number;
}

function positiveNumber(name: string, v: number | undefined, fallback: number, integer = false): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new TypeError(`controlHandler: options.rateLimit.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(v)}`);
  }
  return v;
}

/** Token buckets by key, with bounded memory. */
export class RateLimiter {
  readonly burst: number;
  readonly perSecond: number;
  readonly maxBuckets: number;
  readonly #now: () => number;
  // Map order is recency order: a bucket is re-inserted when used.
  readonly #buckets = new Map<string, Bucket>();
  /** How long an empty bucket takes to fill up; a bucket idle that long equals a new one. */
  readonly #refillMs: number;
  #lastSweepMs = -Infinity;

  constructor(options: RateLimitOptions, now: () => number) {
    this.burst = positiveNumber('burst', options.burst, DEFAULT_RATE_LIMIT.burst, true);
    this.perSecond = positiveNumber('perSecond', options.perSecond, DEFAULT_RATE_LIMIT.perSecond);
    this.maxBuckets = positiveNumber('maxBuckets', options.maxBuckets, DEFAULT_RATE_LIMIT.maxBuckets, true);
    this.#now = now;
    this.#refillMs = (this.burst / this.perSecond) * 1000;
  }

  /** How many buckets are kept now (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes one request from `key`'s bucket: 0 when allowed, else the seconds (at least 1) after
   * which one request will be allowed again.
   */
  take(key: string): number {
    const now = this.#now();
    this.#sweep(now);
    const b = this.#buckets.get(key);
    let tokens = this.burst;
    if (b) {
      // A clock that steps back refills nothing (and takes nothing away).
      tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.atMs) / 1000) * this.perSecond);
      this.#buckets.delete(key);
    }
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, atMs: now });
      this.#evictOverflow();
      return 0;
    }
    this.#buckets.set(key, { tokens, atMs: now });
    return Math.max(1, Math.ceil((1 - tokens) / this.perSecond));
  }

  /** Drops buckets that have filled up again, at most once per refill period (amortised O(1)). */
  #sweep(now: number): void {
    if (now - this.#lastSweepMs < this.#refillMs) return;
    this.#lastSweepMs = now;
    for (const [key, b] of this.#buckets) if (now - b.atMs >= this.#refillMs) this.#buckets.delete(key);
  }

  #evictOverflow(): void {
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.maxBuckets) return;
      this.#buckets.delete(key);
    }
  }
}

/** What a limited route costs: its own bucket per token. */
export type RateLimitClass = 'register' | 'sign';

const WHAT: Record<RateLimitClass, string> = { register: 'workload registrations', sign: 'certificate signing requests' };

/** 429 `rate_limited` with `Retry-After`; names the endpoint class, never the token. */
export function rateLimited(cls: RateLimitClass, retryAfterSeconds: number, limiter: RateLimiter): ApiError {
  return new ApiError(
    429,
    'rate_limited',
    `too many ${WHAT[cls]} with this token (at most ${limiter.burst} at once, then ${limiter.perSecond} per second); retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds },
    { 'retry-after': String(retryAfterSeconds) },
  );
}
