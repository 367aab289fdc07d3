/** Per-token rate limits: the token bucket on an injected clock, bounded memory, and 429 on the wire. */
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from '@meshwork/identity';
import { DEFAULT_RATE_LIMIT, hashToken } from '../src/index.js';
import { RateLimiter } from '../src/api/rate-limit.js';
import { ADMIN, call, json, startControl, workloadCsr, type Running } from './support.js';

describe('RateLimiter (token bucket)', () => {
  it('allows a burst, then perSecond, and says when the next request may come', () => {
    const clock = { now: 1_000_000 };
    const l = new RateLimiter({ burst: 3, perSecond: 2 }, () => clock.now);
    expect([l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0]);
    expect(l.take('a')).toBe(1); // half a request short at 2/s: ceil(0.5) = 1 s
    expect(l.take('b')).toBe(0); // another key has its own bucket
    clock.now += 499;
    expect(l.take('a')).toBe(1);
    clock.now += 1;
    expect(l.take('a')).toBe(0); // 500 ms at 2/s refilled one
    expect(l.take('a')).toBe(1);
    clock.now += 60_000;
    expect([l.take('a'), l.take('a'), l.take('a'), l.take('a')]).toEqual([0, 0, 0, 1]); // never more than the burst
  });

  it('says how many seconds to wait at a slow rate', () => {
    const clock = { now: 0 };
    const l = new RateLimiter({ burst: 1, perSecond: 0.1 }, () => clock.now);
    expect(l.take('a')).toBe(0);
    expect(l.take('a')).toBe(10);
    clock.now += 7_000;
    expect(l.take('a')).toBe(3);
  });

  it('does not refill (or drain) when the clock steps back', () => {
    const clock = { now: 10_000 };
    const l = new RateLimiter({ burst: 1, perSecond: 1 }, () => clock.now);
    expect(l.take('a')).toBe(0);
    clock.now -= 5_000;
    expect(l.take('a')).toBe(1);
  });

  it('keeps bounded memory: idle (refilled) buckets are dropped, and at most maxBuckets are kept', () => {
    const clock = { now: 0 };
    const l = new RateLimiter({ burst: 2, perSecond: 1, maxBuckets: 100 }, () => clock.now);
    for (let i = 0; i < 50; i++) l.take(`k${i}`);
    expect(l.size).toBe(50);
    clock.now += 2_000; // everyone refilled: a bucket equal to a new one
    l.take('fresh');
    expect(l.size).toBe(1);
    for (let i = 0; i < 1_000; i++) l.take(`many${i}`);
    expect(l.size).toBe(100);
    // The most recent keep their state; the least recently used went first.
    l.take('many999');
    expect(l.take('many999')).toBe(1);
  });

  it('has sane defaults and refuses nonsense options', () => {
    expect(DEFAULT_RATE_LIMIT).toEqual({ burst: 20, perSecond: 5, maxBuckets: 10_000 });
    const l = new RateLimiter({}, () => 0);
    expect([l.burst, l.perSecond, l.maxBuckets]).toEqual([20, 5, 10_000]);
    expect(() => new RateLimiter({ burst: 0 }, () => 0)).toThrow(/rateLimit\.burst must be a positive integer/);
    expect(() => new RateLimiter({ burst: 1.5 }, () => 0)).toThrow(/burst/);
    expect(() => new RateLimiter({ perSecond: -1 }, () => 0)).toThrow(/perSecond/);
    expect(() => new RateLimiter({ maxBuckets: Number.NaN }, () => 0)).toThrow(/maxBuckets/);
  });
});

const GROUP = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: reviews-vm, namespace: shop }
spec:
  template: { serviceAccount: reviews, ports: { http: 9080 } }
`;

async function withToken(r: Running): Promise<string> {
  expect((await call(r.base, 'POST', '/v1/resources:apply', { body: GROUP, type: 'application/yaml' })).status).toBe(200);
  const t = await call(r.base, 'POST', '/v1/tokens', json({ namespace: 'shop', serviceAccount: 'reviews' }));
  return t.body.token as string;
}

const register = (r: Running, token: string, n: number) => call(r.base, 'POST', '/v1/workloads:register', { ...json({ group: 'shop/reviews-vm', address: `10.0.0.${n}` }), token });

describe('rate limits on the wire', () => {
  it('limits registrations per token: 429 rate_limited with Retry-After, other tokens unaffected, free again after the wait', async () => {
    const r = await startControl({ rateLimit: { burst: 2, perSecond: 1 } });
    const join = await withToken(r);
    const other = (await call(r.base, 'POST', '/v1/tokens', json({ namespace: 'shop', serviceAccount: 'reviews' }))).body.token as string;
    expect((await register(r, join, 1)).status).toBe(200);
    expect((await register(r, join, 2)).status).toBe(200);
    const limited = await register(r, join, 3);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.body).toEqual({ error: 'rate_limited', message: 'too many workload registrations with this token (at most 2 at once, then 1 per second); retry in 1 s', retryAfterSeconds: 1 });
    expect(limited.text).not.toContain(join);
    expect(limited.text).not.toContain(hashToken(join));
    expect((await r.store.listWorkloads()).length).toBe(2);
    // Another token, and the admin, have their own buckets.
    expect((await register(r, other, 4)).status).toBe(200);
    expect((await register(r, ADMIN, 5)).status).toBe(200);
    // Reads are not limited.
    expect((await call(r.base, 'GET', '/v1/workloads?namespace=shop', { token: join })).status).toBe(200);
    r.clock.now += 1_000;
    expect((await register(r, join, 3)).status).toBe(200);
    expect((await register(r, join, 6)).status).toBe(429);
  });

  it('limits the admin token too (one bucket for "admin")', async () => {
    const r = await startControl({ rateLimit: { burst: 1, perSecond: 0.5 } });
    await withToken(r);
    expect((await register(r, ADMIN, 1)).status).toBe(200);
    const limited = await register(r, ADMIN, 2);
    expect([limited.status, limited.headers.get('retry-after'), limited.body.retryAfterSeconds]).toEqual([429, '2', 2]);
    expect(limited.text).not.toContain(ADMIN);
  });

  it('limits signing in its own bucket: a token out of registrations may still sign, and the other way round', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const r = await startControl({ ca, rateLimit: { burst: 1, perSecond: 1 } });
    const join = await withToken(r);
    const { csr } = await workloadCsr('spiffe://cluster.local/ns/shop/sa/reviews');
    const signOnce = () => call(r.base, 'POST', '/v1/certificates:sign', { ...json({ csr }), token: join });
    expect((await register(r, join, 1)).status).toBe(200);
    expect((await register(r, join, 2)).status).toBe(429);
    expect((await signOnce()).status).toBe(200);
    const limited = await signOnce();
    expect(limited.status).toBe(429);
    expect(limited.body.message).toContain('certificate signing requests');
    r.clock.now += 1_000;
    expect((await signOnce()).status).toBe(200);
  });

  it('a refused token is not counted (401 before the limit), and rateLimit: false turns limits off', async () => {
    const r = await startControl({ rateLimit: false });
    const join = await withToken(r);
    for (let i = 1; i <= 30; i++) expect((await register(r, join, i)).status).toBe(200);
    const strict = await startControl({ rateLimit: { burst: 1, perSecond: 1 } });
    const j2 = await withToken(strict);
    for (let i = 0; i < 5; i++) expect((await register(strict, 'mwj_' + 'B'.repeat(43), i)).status).toBe(401);
    expect((await register(strict, j2, 1)).status).toBe(200);
  });
});
