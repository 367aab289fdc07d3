/**
 * Retry semantics of Envoy as Istio configures them (reference §1.8; retry.go: ConvertPolicy,
 * parseRetryOn; Envoy router retry_state_impl). Compiled once per RetryPolicy.
 */
import type { RetryPolicy } from '@meshwork/policy';

/** How an attempt ended, as far as retry and outlier detection care. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; grpcStatus?: number | undefined; rateLimited?: boolean | undefined }
  /** No response: connect failure (refused, connect timeout), reset before/after the request was sent, or the per-try timeout. */
  | { kind: 'failure'; reason: 'connect-failure' | 'reset' | 'timeout' | 'refused-stream'; beforeRequestSent: boolean; transportFailure?: string | undefined };

export interface CompiledRetry {
  attempts: number;
  perTryTimeoutMs: number | null;
  backoffBaseMs: number;
  backoffMaxMs: number;
  retriable(outcome: AttemptOutcome): boolean;
}

const GRPC_BY_NAME: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

const memo = new WeakMap<RetryPolicy, CompiledRetry>();

/** Compiles a policy's retryOn string (tokens trimmed, empty ones dropped, numbers = status codes). */
export function compileRetry(p: RetryPolicy): CompiledRetry {
  const hit = memo.get(p);
  if (hit) return hit;
  const on = new Set<string>();
  const codes = new Set<number>();
  const grpc = new Set<number>();
  for (const raw of p.retryOn.split(',')) {
    const t = raw.trim();
    if (!t) continue;
    if (/^\d+$/.test(t)) {
      codes.add(Number(t));
      on.add('retriable-status-codes');
    } else if (t in GRPC_BY_NAME) grpc.add(GRPC_BY_NAME[t]!);
    else on.add(t);
  }
  const x5xx = on.has('5xx');
  const gateway = on.has('gateway-error');
  const reset = on.has('reset');
  const connect = on.has('connect-failure');
  const refused = on.has('refused-stream');
  const beforeRequest = on.has('reset-before-request');
  const retriableCodes = on.has('retriable-status-codes');
  const r4xx = on.has('retriable-4xx');
  const rateLimited = on.has('envoy-ratelimited');
  const retriable = (o: AttemptOutcome): boolean => {
    if (o.kind === 'failure') {
      // A per-try timeout is a local reset: retried only under 5xx, gateway-error or reset.
      if (o.reason === 'timeout') return x5xx || gateway || reset;
      if (x5xx || gateway || reset) return true;
      if (connect && o.reason === 'connect-failure') return true;
      if (refused && o.reason === 'refused-stream') return true;
      return beforeRequest && o.beforeRequestSent;
    }
    const s = o.status;
    if (x5xx && s >= 500 && s <= 599) return true;
    if (gateway && (s === 502 || s === 503 || s === 504)) return true;
    if (r4xx && s === 409) return true;
    if (retriableCodes && codes.has(s)) return true;
    if (rateLimited && o.rateLimited) return true;
    // gRPC conditions read grpc-status in response headers (trailers-only responses).
    return o.grpcStatus !== undefined && grpc.has(o.grpcStatus);
  };
  const out: CompiledRetry = {
    attempts: p.attempts,
    perTryTimeoutMs: p.perTryTimeoutMs,
    backoffBaseMs: p.backoffMs,
    backoffMaxMs: p.backoffMs * 10,
    retriable,
  };
  memo.set(p, out);
  return out;
}

/**
 * Envoy's fully jittered exponential backoff: before retry n (1-based) wait
 * uniform[0, (2^n − 1) · base), capped at max (10 × base).
 */
export function backoffMs(r: Pick<CompiledRetry, 'backoffBaseMs' | 'backoffMaxMs'>, retry: number, random: () => number): number {
  const ceiling = Math.min(r.backoffMaxMs, (2 ** retry - 1) * r.backoffBaseMs);
  return random() * ceiling;
}
