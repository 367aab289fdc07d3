import { describe, expect, it } from 'vitest';
import { mulberry32 } from './support/random.js';
import { createEndpointState, type EndpointState, type PickContext } from '../src/endpoint.js';
import { createLoadBalancer, EdfScheduler } from '../src/lb/index.js';

function ep(i: number, weight = 1): EndpointState {
  return createEndpointState({ address: `10.0.0.${i}`, port: 80, weight }, 0);
}

const simple = (s: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH') => ({ kind: 'simple' as const, simple: s });

function counter(lb: { pick(ctx: PickContext): EndpointState | undefined }, n: number, random = mulberry32(42), exclude?: Set<EndpointState>): Map<EndpointState | undefined, number> {
  const counts = new Map<EndpointState | undefined, number>();
  const ctx: PickContext = { random, now: 0, exclude };
  for (let i = 0; i < n; i++) {
    const h = lb.pick(ctx);
    counts.set(h, (counts.get(h) ?? 0) + 1);
  }
  return counts;
}

/** |observed − n·p| within 6 standard deviations of a binomial(n, p). */
function withinSixSigma(observed: number, n: number, p: number): boolean {
  return Math.abs(observed - n * p) <= 6 * Math.sqrt(n * p * (1 - p));
}

describe('EDF scheduler', () => {
  it('interleaves by weight and breaks ties first-in-first-out', () => {
    const s = new EdfScheduler(['a', 'b', 'c'], [1, 1, 2]);
    const picks = Array.from({ length: 8 }, () => s.pickAndAdd((x) => (x === 'c' ? 2 : 1)));
    // Deadlines start at 1/w (a 1, b 1, c 0.5); equal deadlines go in insertion order.
    expect(picks.join('')).toBe('cabccabc');
  });
});

describe('ROUND_ROBIN', () => {
  it('rotates through equal hosts from the seeded start', () => {
    const eps = [ep(1), ep(2), ep(3)];
    const lb = createLoadBalancer(simple('ROUND_ROBIN'), eps, { seed: 4 });
    const ctx: PickContext = { random: mulberry32(1), now: 0 };
    const order = Array.from({ length: 6 }, () => lb.pick(ctx));
    expect(order).toEqual([eps[1], eps[2], eps[0], eps[1], eps[2], eps[0]]);
  });

  it('splits 1:3 weights exactly 25/75 with the EDF schedule', () => {
    const [a, b] = [ep(1, 1), ep(2, 3)];
    const counts = counter(createLoadBalancer(simple('ROUND_ROBIN'), [a, b], { seed: 7 }), 20000);
    expect(Math.abs(counts.get(a)! - 5000)).toBeLessThanOrEqual(1);
    expect(Math.abs(counts.get(b)! - 15000)).toBeLessThanOrEqual(1);
  });
});

describe('LEAST_REQUEST', () => {
  it('is the power of two choices: the less loaded of two uniform draws', () => {
    const [idle, busy1, busy2] = [ep(1), ep(2), ep(3)];
    busy1.active = 10;
    busy2.active = 10;
    const n = 20000;
    const counts = counter(createLoadBalancer(simple('LEAST_REQUEST'), [idle, busy1, busy2], { seed: 1 }), n);
    // The idle host wins unless both draws miss it: 1 − (2/3)² = 5/9, not 1/3.
    expect(withinSixSigma(counts.get(idle)!, n, 5 / 9)).toBe(true);
    expect(withinSixSigma(counts.get(busy1)!, n, 2 / 9)).toBe(true);
  });

  it('is uniform when loads are equal', () => {
    const eps = [ep(1), ep(2), ep(3), ep(4)];
    const n = 20000;
    const counts = counter(createLoadBalancer(simple('LEAST_REQUEST'), eps, { seed: 1 }), n);
    for (const e of eps) expect(withinSixSigma(counts.get(e)!, n, 0.25)).toBe(true);
  });

  it('with unequal weights uses weight / (active + 1) in an EDF schedule', () => {
    const [a, b] = [ep(1, 1), ep(2, 3)];
    const lb = createLoadBalancer(simple('LEAST_REQUEST'), [a, b], { seed: 3 });
    const counts = counter(lb, 20000);
    expect(Math.abs(counts.get(a)! - 5000)).toBeLessThanOrEqual(2);
    // b now carries 5 requests: its dynamic weight 3/6 = 0.5 against a's 1/1.
    b.active = 5;
    const loaded = counter(lb, 30000);
    expect(Math.abs(loaded.get(a)! - 20000)).toBeLessThanOrEqual(3);
  });
});

describe('RANDOM', () => {
  it('is uniform and, like Envoy, ignores endpoint weights', () => {
    const [a, b] = [ep(1, 1), ep(2, 3)];
    const n = 20000;
    const counts = counter(createLoadBalancer(simple('RANDOM'), [a, b], { seed: 1 }), n);
    expect(withinSixSigma(counts.get(a)!, n, 0.5)).toBe(true);
  });
});

describe('common behaviour', () => {
  for (const algorithm of ['LEAST_REQUEST', 'ROUND_ROBIN', 'RANDOM'] as const) {
    it(`${algorithm}: avoids previously tried hosts whenever another exists`, () => {
      const eps = [ep(1), ep(2), ep(3)];
      const lb = createLoadBalancer(simple(algorithm), eps, { seed: 5 });
      const counts = counter(lb, 300, mulberry32(9), new Set([eps[0]!, eps[1]!]));
      expect([...counts.keys()]).toEqual([eps[2]]);
      // Everything tried: Envoy still returns a host (the last pick) rather than none.
      expect(lb.pick({ random: mulberry32(2), now: 0, exclude: new Set(eps) })).toBeDefined();
    });

    it(`${algorithm}: skips ejected hosts and returns undefined when all are out (panic threshold 0)`, () => {
      const eps = [ep(1), ep(2), ep(3)];
      const lb = createLoadBalancer(simple(algorithm), eps, { seed: 5 });
      eps[0]!.healthy = false;
      expect(counter(lb, 300).has(eps[0])).toBe(false);
      for (const e of eps) e.healthy = false;
      expect(lb.pick({ random: Math.random, now: 0 })).toBeUndefined();
    });

    it(`${algorithm}: an empty cluster has no host`, () => {
      expect(createLoadBalancer(simple(algorithm), []).pick({ random: Math.random, now: 0 })).toBeUndefined();
    });
  }

  it('PASSTHROUGH picks among the endpoints without health or locality', () => {
    const eps = [ep(1), ep(2)];
    eps[0]!.healthy = false;
    const counts = counter(createLoadBalancer(simple('PASSTHROUGH'), eps), 2000);
    expect(counts.size).toBe(2);
  });
});
