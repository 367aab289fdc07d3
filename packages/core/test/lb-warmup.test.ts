import { describe, expect, it } from 'vitest';
import { createEndpointState, type EndpointState, type PickContext } from '../src/endpoint.js';
import { createLoadBalancer, SlowStart } from '../src/lb/index.js';

const ep = (i: number, addedAt: number, weight = 1): EndpointState => createEndpointState({ address: `10.2.0.${i}`, port: 80, weight }, addedAt);

describe('SlowStart (Envoy applySlowStartFactor)', () => {
  const host = ep(1, 0);

  it('ramps linearly with aggression 1, floored at minimumPercent', () => {
    const s = new SlowStart({ durationMs: 10_000, minimumPercent: 10, aggression: 1 }, [host]);
    expect(s.scale(1, host, 5_000)).toBeCloseTo(0.5);
    expect(s.scale(1, host, 500)).toBeCloseTo(0.1);
    expect(s.scale(4, host, 2_500)).toBeCloseTo(1);
    expect(s.scale(1, host, 10_000)).toBe(1);
  });

  it('bends the ramp with aggression (timeFactor^(1/aggression))', () => {
    const s = new SlowStart({ durationMs: 10_000, minimumPercent: 0, aggression: 2 }, [host]);
    expect(s.scale(1, host, 2_500)).toBeCloseTo(0.5);
    const steep = new SlowStart({ durationMs: 10_000, minimumPercent: 0, aggression: 0.5 }, [host]);
    expect(steep.scale(1, host, 5_000)).toBeCloseTo(0.25);
  });

  it('is active while the newest host is inside the window', () => {
    const s = new SlowStart({ durationMs: 10_000, minimumPercent: 10, aggression: 1 }, [ep(2, 0), ep(3, 50_000)]);
    expect(s.active(55_000)).toBe(true);
    expect(s.active(60_000)).toBe(true);
    expect(s.active(60_001)).toBe(false);
  });
});

describe('warmup in load balancing', () => {
  const warmup = { durationMs: 60_000, minimumPercent: 10, aggression: 1 };

  function share(lb: { pick(c: PickContext): EndpointState | undefined }, target: EndpointState, now: number, n = 3000): number {
    const ctx: PickContext = { random: Math.random, now };
    let hits = 0;
    for (let i = 0; i < n; i++) if (lb.pick(ctx) === target) hits++;
    return hits / n;
  }

  it('ROUND_ROBIN gives a host halfway through warmup half the weight, then its full share', () => {
    const old = ep(1, 0);
    const fresh = ep(2, 100_000);
    const lb = createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, [old, fresh], { warmup, seed: 1 });
    // 30 s into a 60 s window: weight 0.5 against 1 → one third of the picks.
    expect(share(lb, fresh, 130_000)).toBeCloseTo(1 / 3, 2);
    // Just joined: floored at 10 % of its weight.
    const lb2 = createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, [old, fresh], { warmup, seed: 1 });
    expect(share(lb2, fresh, 100_000)).toBeCloseTo(0.1 / 1.1, 2);
    // Window over: plain round robin again.
    expect(share(lb, fresh, 161_000)).toBe(0.5);
  });

  it('LEAST_REQUEST combines warmup with the active-request weight', () => {
    const old = ep(1, 0);
    const fresh = ep(2, 100_000);
    const lb = createLoadBalancer({ kind: 'simple', simple: 'LEAST_REQUEST' }, [old, fresh], { warmup, seed: 1 });
    expect(share(lb, fresh, 130_000)).toBeCloseTo(1 / 3, 2);
  });

  it('does not apply to RANDOM (Envoy has no slow start there)', () => {
    const old = ep(1, 0);
    const fresh = ep(2, 100_000);
    const lb = createLoadBalancer({ kind: 'simple', simple: 'RANDOM' }, [old, fresh], { warmup, seed: 1 });
    const s = share(lb, fresh, 100_000, 20_000);
    expect(Math.abs(s - 0.5)).toBeLessThan(6 * Math.sqrt(0.25 / 20_000));
  });

  it('hosts that joined together ramp together and keep equal shares', () => {
    const a = ep(1, 100_000);
    const b = ep(2, 100_000);
    const lb = createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, [a, b], { warmup, seed: 1 });
    expect(share(lb, a, 110_000)).toBeCloseTo(0.5, 2);
  });
});
