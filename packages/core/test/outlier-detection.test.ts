import { describe, expect, it } from 'vitest';
import { createEndpointState, type EndpointState } from '../src/endpoint.js';
import { createLoadBalancer } from '../src/lb/index.js';
import { grpcToHttpStatus, OutlierDetector, type OutlierDetectionConfig, type OutlierEvent } from '../src/outlier-detection.js';

/** Istio's defaults for an `outlierDetection: {}` block (cluster-policy.ts). */
const defaults: OutlierDetectionConfig = {
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailures: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
};

function setup(n: number, config: Partial<OutlierDetectionConfig> = {}) {
  let t = 0;
  const eps = Array.from({ length: n }, (_, i) => createEndpointState({ address: `10.3.0.${i}`, port: 80 }, 0));
  const events: OutlierEvent[] = [];
  const od = new OutlierDetector({ ...defaults, ...config }, { now: () => t, onEvent: (e) => events.push(e) });
  od.setEndpoints(eps);
  return {
    od,
    eps,
    events,
    at(ms: number) {
      t = ms;
    },
    /** Runs the owner's periodic sweep every second up to `ms`, as the mesh timer does. */
    runUntil(ms: number) {
      for (let s = Math.ceil((t + 1) / 1000) * 1000; s <= ms; s += 1000) {
        t = s;
        od.sweep(s);
      }
      t = ms;
    },
  };
}

const fail = (od: OutlierDetector, e: EndpointState, times: number, status = 503) => {
  for (let i = 0; i < times; i++) od.httpStatus(e, status);
};

describe('consecutive 5xx', () => {
  it('ejects after 5 consecutive 5xx', () => {
    const { od, eps, events } = setup(10);
    fail(od, eps[0]!, 4);
    expect(eps[0]!.healthy).toBe(true);
    od.httpStatus(eps[0]!, 500);
    expect(eps[0]!.healthy).toBe(false);
    expect(od.isEjected(eps[0]!)).toBe(true);
    expect(events).toMatchObject([{ type: 'eject', endpoint: eps[0], reason: 'CONSECUTIVE_5XX', ejections: 1, durationMs: 30_000 }]);
  });

  it('a success resets the count', () => {
    const { od, eps } = setup(10);
    fail(od, eps[0]!, 4);
    od.httpStatus(eps[0]!, 200);
    fail(od, eps[0]!, 4);
    expect(eps[0]!.healthy).toBe(true);
    od.httpStatus(eps[0]!, 503);
    expect(eps[0]!.healthy).toBe(false);
  });

  it('4xx responses are successes for outlier detection', () => {
    const { od, eps } = setup(10);
    fail(od, eps[0]!, 4);
    od.httpStatus(eps[0]!, 404);
    fail(od, eps[0]!, 4);
    expect(eps[0]!.healthy).toBe(true);
  });

  it('consecutive5xxErrors: 0 disables the detector', () => {
    const { od, eps } = setup(10, { consecutive5xxErrors: 0 });
    fail(od, eps[0]!, 50);
    expect(eps[0]!.healthy).toBe(true);
  });

  it('counts local-origin failures as 503/504 unless split', () => {
    const { od, eps } = setup(10);
    od.localOriginFailure(eps[0]!, 'connect-failure');
    od.localOriginFailure(eps[0]!, 'reset');
    od.localOriginFailure(eps[0]!, 'timeout');
    od.localOriginFailure(eps[0]!, 'refused-stream');
    expect(eps[0]!.healthy).toBe(true);
    od.httpStatus(eps[0]!, 500);
    expect(eps[0]!.healthy).toBe(false);
  });

  it('ignores results for endpoints it does not track', () => {
    const { od } = setup(10);
    const stranger = createEndpointState({ address: '192.0.2.1', port: 80 }, 0);
    fail(od, stranger, 10);
    expect(stranger.healthy).toBe(true);
  });
});

describe('maxEjectionPercent (current Envoy: no always-eject-one-host)', () => {
  it('10 % of 3 hosts ejects nothing', () => {
    const { od, eps, events } = setup(3);
    fail(od, eps[0]!, 5);
    expect(eps[0]!.healthy).toBe(true);
    expect(events).toMatchObject([{ type: 'overflow', reason: 'CONSECUTIVE_5XX' }]);
    expect(od.stats.ejectionsOverflow).toBe(1);
    // The counter was reset by the refused ejection: four more errors do not fire again.
    fail(od, eps[0]!, 4);
    expect(od.stats.ejectionsOverflow).toBe(1);
    od.httpStatus(eps[0]!, 503);
    expect(od.stats.ejectionsOverflow).toBe(2);
  });

  it('34 % of 3 hosts ejects one, not two', () => {
    const { od, eps } = setup(3, { maxEjectionPercent: 34 });
    fail(od, eps[0]!, 5);
    fail(od, eps[1]!, 5);
    expect(eps.map((e) => e.healthy)).toEqual([false, true, true]);
    expect(od.ejectedCount).toBe(1);
  });

  it('10 % of 10 hosts ejects exactly one', () => {
    const { od, eps } = setup(10);
    fail(od, eps[0]!, 5);
    fail(od, eps[1]!, 5);
    expect(od.ejectedCount).toBe(1);
    expect(eps[1]!.healthy).toBe(true);
  });

  it('a removed ejected host frees its share; a new host starts healthy', () => {
    const { od, eps } = setup(10);
    fail(od, eps[0]!, 5);
    od.setEndpoints(eps.slice(1));
    expect(od.ejectedCount).toBe(0);
    const newcomer = createEndpointState({ address: '10.3.1.1', port: 80 }, 0);
    newcomer.healthy = false;
    od.setEndpoints([...eps.slice(1), newcomer]);
    expect(newcomer.healthy).toBe(true);
    fail(od, eps[1]!, 5);
    expect(eps[1]!.healthy).toBe(false);
  });
});

describe('ejection time and the interval sweep', () => {
  it('un-ejects on the first sweep after baseEjectionTime, not before', () => {
    const { od, eps, events, at, runUntil } = setup(10);
    at(1_000);
    fail(od, eps[0]!, 5);
    runUntil(30_999);
    // Sweeps run on the 10 s grid (10, 20, 30 s): at 30 s only 29 s have passed.
    expect(eps[0]!.healthy).toBe(false);
    runUntil(39_999);
    expect(eps[0]!.healthy).toBe(false);
    runUntil(40_000);
    expect(eps[0]!.healthy).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['eject', 'uneject']);
    expect(events[1]).toMatchObject({ at: 40_000, ejections: 1 });
  });

  it('the second ejection lasts 2 × base; healthy intervals shrink it back', () => {
    const { od, eps, events, at, runUntil } = setup(10);
    at(1_000);
    fail(od, eps[0]!, 5);
    runUntil(40_000);
    at(40_500);
    fail(od, eps[0]!, 5);
    expect(events[2]).toMatchObject({ type: 'eject', ejections: 2, durationMs: 60_000 });
    runUntil(100_000);
    expect(eps[0]!.healthy).toBe(false);
    runUntil(110_000);
    expect(eps[0]!.healthy).toBe(true);
    // Two healthy intervals bring the multiplier from 2 down to 0: the next ejection is 1 × base again.
    runUntil(130_000);
    fail(od, eps[0]!, 5);
    expect(events.at(-1)).toMatchObject({ type: 'eject', ejections: 3, durationMs: 30_000 });
  });

  it('caps the ejection time at 300 s', () => {
    const { od, eps, events, at } = setup(10);
    let now = 0;
    for (let i = 0; i < 12; i++) {
      fail(od, eps[0]!, 5);
      // Un-eject by a sweep long after, before any interval could lower the multiplier.
      now += 400_000;
      at(now);
      od.sweep(now);
      expect(eps[0]!.healthy).toBe(true);
    }
    const durations = events.filter((e) => e.type === 'eject').map((e) => (e as { durationMs: number }).durationMs);
    expect(durations.slice(0, 3)).toEqual([30_000, 60_000, 90_000]);
    expect(durations.slice(9)).toEqual([300_000, 300_000, 300_000]);
  });

  it('an ejected host ignores further errors and comes back with clean counters', () => {
    const { od, eps, at, runUntil } = setup(10);
    at(1_000);
    fail(od, eps[0]!, 12);
    expect(od.ejections(eps[0]!)).toBe(1);
    runUntil(40_000);
    expect(eps[0]!.healthy).toBe(true);
    fail(od, eps[0]!, 4);
    expect(eps[0]!.healthy).toBe(true);
  });

  it('runs its interval logic at most once per interval however often it is swept', () => {
    const { od, eps, at } = setup(10, { intervalMs: 10_000 });
    at(1_000);
    fail(od, eps[0]!, 5);
    for (let t = 1_000; t <= 35_000; t += 1) od.sweep(t);
    expect(eps[0]!.healthy).toBe(false);
    expect(od.nextSweepDue).toBe(40_000);
  });
});

describe('gateway errors', () => {
  it('consecutiveGatewayErrors counts 502/503/504 only', () => {
    const { od, eps, events } = setup(10, { consecutiveGatewayErrors: 3 });
    od.httpStatus(eps[0]!, 502);
    od.httpStatus(eps[0]!, 500);
    od.httpStatus(eps[0]!, 503);
    od.httpStatus(eps[0]!, 504);
    expect(eps[0]!.healthy).toBe(true);
    od.localOriginFailure(eps[0]!, 'timeout');
    expect(eps[0]!.healthy).toBe(false);
    expect(events[0]).toMatchObject({ type: 'eject', reason: 'CONSECUTIVE_GATEWAY_FAILURE' });
  });
});

describe('splitExternalLocalOriginErrors', () => {
  it('counts local-origin failures on their own counter', () => {
    const { od, eps, events } = setup(10, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3 });
    od.localOriginFailure(eps[0]!, 'connect-failure');
    od.localOriginFailure(eps[0]!, 'connect-failure');
    od.connectSuccess(eps[0]!);
    od.localOriginFailure(eps[0]!, 'connect-failure');
    od.localOriginFailure(eps[0]!, 'timeout');
    expect(eps[0]!.healthy).toBe(true);
    od.localOriginFailure(eps[0]!, 'reset');
    expect(events[0]).toMatchObject({ type: 'eject', reason: 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE' });
  });

  it('local-origin failures no longer feed the 5xx detector, and 5xx do not feed the local one', () => {
    const { od, eps } = setup(10, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 100 });
    for (let i = 0; i < 20; i++) od.localOriginFailure(eps[0]!, 'connect-failure');
    fail(od, eps[1]!, 4);
    expect(eps.map((e) => e.healthy).slice(0, 2)).toEqual([true, true]);
  });

  it('a failure after the request went out follows a connect success (Envoy router order)', () => {
    const { od, eps } = setup(10, { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 3 });
    // Each timed-out request had obtained its stream first, so the count never passes 1.
    for (let i = 0; i < 5; i++) od.recordOutcome(eps[0]!, { kind: 'failure', reason: 'timeout', beforeRequestSent: false });
    expect(eps[0]!.healthy).toBe(true);
    od.recordOutcome(eps[0]!, { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true });
    expect(eps[0]!.healthy).toBe(true);
    od.recordOutcome(eps[0]!, { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true });
    expect(eps[0]!.healthy).toBe(false);
  });
});

describe('recordOutcome and gRPC', () => {
  it('maps gRPC statuses the way Envoy charges them', () => {
    expect(grpcToHttpStatus(14)).toBe(503);
    expect(grpcToHttpStatus(4)).toBe(504);
    expect(grpcToHttpStatus(5)).toBe(404);
    expect(grpcToHttpStatus(0)).toBe(200);
    const { od, eps } = setup(10);
    for (let i = 0; i < 5; i++) od.recordOutcome(eps[0]!, { kind: 'response', status: 200, grpcStatus: 14 });
    expect(eps[0]!.healthy).toBe(false);
  });
});

describe('events and the load balancer', () => {
  it('listeners can be disposed and a throwing listener does not break detection', () => {
    const { od, eps } = setup(10);
    const seen: string[] = [];
    od.onEvent(() => {
      throw new Error('metrics exporter down');
    });
    const sub = od.onEvent((e) => seen.push(e.type));
    fail(od, eps[0]!, 5);
    sub.dispose();
    od.sweep(1e9);
    expect(seen).toEqual(['eject']);
    expect(eps[0]!.healthy).toBe(true);
  });

  it('an ejected endpoint leaves the load balancer and returns after un-ejection', () => {
    const { od, eps, at, runUntil } = setup(10);
    const lb = createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, eps, { seed: 1 });
    const picked = () => new Set(Array.from({ length: 40 }, () => lb.pick({ random: Math.random, now: 0 })));
    expect(picked().has(eps[3])).toBe(true);
    at(1_000);
    fail(od, eps[3]!, 5);
    expect(picked().has(eps[3])).toBe(false);
    runUntil(40_000);
    expect(picked().has(eps[3])).toBe(true);
  });
});
