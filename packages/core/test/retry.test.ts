/** Envoy's retry conditions for every retryOn token Istio accepts, and its backoff. */
import { describe, expect, it } from 'vitest';
import { backoffMs, compileRetry, type AttemptOutcome } from '../src/retry.js';
import { mulberry32 } from './support/random.js';

const policy = (retryOn: string) => compileRetry({ attempts: 2, perTryTimeoutMs: null, retryOn, retryRemoteLocalities: false, backoffMs: 25 });
const res = (status: number, extra: Partial<Extract<AttemptOutcome, { kind: 'response' }>> = {}): AttemptOutcome => ({ kind: 'response', status, ...extra });
const fail = (reason: 'connect-failure' | 'reset' | 'timeout' | 'refused-stream', beforeRequestSent = false): AttemptOutcome => ({ kind: 'failure', reason, beforeRequestSent });

describe('retryOn', () => {
  it.each<[string, AttemptOutcome, boolean]>([
    // Istio's default list: connect failures and refused streams, gRPC unavailable/cancelled; no 5xx responses.
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', fail('connect-failure', true), true],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', res(503), false],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', fail('reset'), false],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', res(200, { grpcStatus: 14 }), true],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', res(200, { grpcStatus: 1 }), true],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', res(200, { grpcStatus: 13 }), false],
    ['connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', fail('timeout'), false],
    // 5xx: any 5xx, resets, connect failures, per-try timeouts.
    ['5xx', res(500), true],
    ['5xx', res(599), true],
    ['5xx', res(404), false],
    ['5xx', fail('reset'), true],
    ['5xx', fail('timeout'), true],
    // gateway-error: 502/503/504 only (plus resets and timeouts).
    ['gateway-error', res(500), false],
    ['gateway-error', res(502), true],
    ['gateway-error', res(504), true],
    ['gateway-error', fail('timeout'), true],
    ['reset', fail('reset'), true],
    ['reset', res(503), false],
    ['reset', fail('timeout'), true],
    ['connect-failure', fail('connect-failure', true), true],
    ['connect-failure', fail('reset'), false],
    ['refused-stream', fail('refused-stream'), true],
    ['reset-before-request', fail('reset', true), true],
    ['reset-before-request', fail('reset', false), false],
    ['retriable-4xx', res(409), true],
    ['retriable-4xx', res(404), false],
    // Numeric tokens are status codes (whitespace trimmed, empty tokens dropped at run time).
    ['503', res(503), true],
    [' 429 ,,', res(429), true],
    ['5xx,404', res(404), true],
    ['retriable-status-codes', res(503), false],
    ['envoy-ratelimited', res(429, { rateLimited: true }), true],
    ['envoy-ratelimited', res(429), false],
    ['deadline-exceeded,resource-exhausted,internal', res(200, { grpcStatus: 4 }), true],
    ['deadline-exceeded,resource-exhausted,internal', res(200, { grpcStatus: 8 }), true],
    ['deadline-exceeded,resource-exhausted,internal', res(200, { grpcStatus: 13 }), true],
    ['unavailable', res(200, { grpcStatus: 14 }), true],
  ])('%s retries %j: %s', (retryOn, outcome, want) => {
    expect(policy(retryOn).retriable(outcome)).toBe(want);
  });
});

describe('backoff', () => {
  it('is fully jittered: retry n waits in [0, (2^n-1)·25 ms), capped at 250 ms', () => {
    const r = policy('5xx');
    const rnd = mulberry32(7);
    for (const [n, max] of [[1, 25], [2, 75], [3, 175], [4, 250], [8, 250]] as const) {
      const xs = Array.from({ length: 5000 }, () => backoffMs(r, n, rnd));
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...xs)).toBeLessThan(max);
      // Uniform: the mean is within 3 % of max/2 over 5,000 draws (sd of the mean ~0.8 %).
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      expect(Math.abs(mean - max / 2) / max).toBeLessThan(0.03);
    }
  });
});
