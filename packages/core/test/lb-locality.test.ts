import { describe, expect, it } from 'vitest';
import { mulberry32 } from './support/random.js';
import { createEndpointState, type EndpointState, type PickContext } from '../src/endpoint.js';
import { createLoadBalancer, localityMatch, noteHealthChange, planPriorities, PrioritySet, type PriorityPlan } from '../src/lb/index.js';

let next = 1;
function ep(locality: string, labels: Record<string, string> = {}, weight = 1): EndpointState {
  const i = next++;
  return createEndpointState({ address: `10.1.${i >> 8}.${i & 255}`, port: 80, locality, labels, weight }, 0);
}

/** Priority levels as lists of localities (sorted) — what the client's EDS would say. */
function shape(plan: PriorityPlan): string[][] {
  return plan.levels.map((groups) => groups.flatMap((g) => g.hosts.map((h) => h.locality || '-')).sort());
}

const counts = (lb: { pick(c: PickContext): EndpointState | undefined }, n: number, seed = 11): Map<EndpointState | undefined, number> => {
  const ctx: PickContext = { random: mulberry32(seed), now: 0 };
  const m = new Map<EndpointState | undefined, number>();
  for (let i = 0; i < n; i++) {
    const h = lb.pick(ctx);
    m.set(h, (m.get(h) ?? 0) + 1);
  }
  return m;
};

const withinSixSigma = (observed: number, n: number, p: number): boolean => Math.abs(observed - n * p) <= 6 * Math.sqrt(n * p * (1 - p));

describe('localityMatch (util.go: LocalityMatch)', () => {
  it('matches wildcards and missing parts', () => {
    expect(localityMatch('us-east/z1/s1', 'us-east')).toBe(true);
    expect(localityMatch('us-east/z1/s1', 'us-east/*')).toBe(true);
    expect(localityMatch('us-east/z1/s1', 'us-east/z2/*')).toBe(false);
    expect(localityMatch('us-east/z1/s1', '*')).toBe(true);
    expect(localityMatch('us-west/z1', 'us-east/*')).toBe(false);
  });
});

describe('planPriorities (istiod per-client EDS)', () => {
  const client = 'us-east/z1/s1';
  const eps = () => [ep('us-east/z1/s1'), ep('us-east/z1/s2'), ep('us-east/z2/s1'), ep('us-west/z1/s1'), ep('eu/z1/s1')];

  it('without outlier detection keeps every endpoint at priority 0', () => {
    const plan = planPriorities(eps(), { clientLocality: client });
    expect(plan.levels.length).toBe(1);
    expect(plan.localityWeighted).toBe(false);
  });

  it('with outlier detection orders by proximity: subzone, zone, region, elsewhere', () => {
    const plan = planPriorities(eps(), { clientLocality: client, outlierDetection: true });
    expect(shape(plan)).toEqual([['us-east/z1/s1'], ['us-east/z1/s2'], ['us-east/z2/s1'], ['eu/z1/s1', 'us-west/z1/s1']]);
    // The default failover does not turn on locality-weighted balancing.
    expect(plan.localityWeighted).toBe(false);
  });

  it('`failover` puts the named region before other remote regions', () => {
    const plan = planPriorities(eps(), { clientLocality: client, outlierDetection: true, localityLbSetting: { failover: [{ from: 'us-east', to: 'eu' }] } });
    expect(shape(plan)).toEqual([['us-east/z1/s1'], ['us-east/z1/s2'], ['us-east/z2/s1'], ['eu/z1/s1'], ['us-west/z1/s1']]);
    expect(plan.localityWeighted).toBe(true);
  });

  it('`enabled: false` turns locality load balancing off', () => {
    const plan = planPriorities(eps(), { clientLocality: client, outlierDetection: true, localityLbSetting: { enabled: false, failover: [{ from: 'us-east', to: 'eu' }] } });
    expect(plan.levels.length).toBe(1);
    expect(plan.localityWeighted).toBe(false);
  });

  it('`distribute` re-weights matching localities and drops the rest', () => {
    const plan = planPriorities(eps(), {
      clientLocality: client,
      localityLbSetting: { distribute: [{ from: 'us-east/z1/*', to: { 'us-east/z1/*': 80, 'us-west/*': 20 } }] },
    });
    expect(plan.levels.length).toBe(1);
    expect(plan.localityWeighted).toBe(true);
    const weights = Object.fromEntries(plan.levels[0]!.map((g) => [g.locality, g.weight]));
    // Two localities share us-east/z1/* in proportion to their endpoint weights (1 and 1).
    expect(weights).toEqual({ 'us-east/z1/s1': 40, 'us-east/z1/s2': 40, 'us-west/z1/s1': 20 });
  });

  it('a `distribute` rule whose `from` does not match the client changes nothing', () => {
    const plan = planPriorities(eps(), { clientLocality: client, localityLbSetting: { distribute: [{ from: 'eu/*', to: { 'eu/*': 100 } }] } });
    expect(plan.levels[0]!.length).toBe(5);
  });

  it('`failoverPriority` ranks by matching labels, network mismatch last', () => {
    const net = 'topology.istio.io/network';
    const e1 = ep('r1/z1', { [net]: 'n1', version: 'v1' });
    const e2 = ep('r1/z1', { [net]: 'n1', version: 'v2' });
    const e3 = ep('r2/z1', { [net]: 'n1', version: 'v1' });
    const e4 = ep('r1/z1', { [net]: 'n2', version: 'v1' });
    const plan = planPriorities([e4, e3, e2, e1], {
      clientLocality: 'r1/z1',
      clientLabels: { [net]: 'n1', version: 'v1' },
      outlierDetection: true,
      localityLbSetting: { failoverPriority: [net, 'topology.kubernetes.io/region', 'version'] },
    });
    expect(plan.levels.map((l) => l.flatMap((g) => g.hosts))).toEqual([[e1], [e2], [e3], [e4]]);
    expect(plan.localityWeighted).toBe(true);
  });

  it('`failoverPriority` values can be pinned with label=value', () => {
    const a = ep('r1/z1', { version: 'v2' });
    const b = ep('r1/z1', { version: 'v1' });
    const plan = planPriorities([a, b], { clientLocality: 'r1/z1', clientLabels: { version: 'v1' }, outlierDetection: true, localityLbSetting: { failoverPriority: ['version=v2'] } });
    expect(plan.levels.map((l) => l.flatMap((g) => g.hosts))).toEqual([[a], [b]]);
  });
});

describe('PrioritySet (Envoy priority load and panic)', () => {
  const levels = (healthy0: number, total0: number, total1: number, panic = 0): PrioritySet => {
    const p0 = Array.from({ length: total0 }, () => ep('a'));
    const p1 = Array.from({ length: total1 }, () => ep('b'));
    p0.forEach((e, i) => (e.healthy = i < healthy0));
    return new PrioritySet({ levels: [[{ locality: 'a', hosts: p0, weight: total0, priority: 0 }], [{ locality: 'b', hosts: p1, weight: total1, priority: 1 }]], localityWeighted: false }, panic, 0);
  };

  it('keeps all traffic on P0 while 1.4 × healthy share covers it', () => {
    expect(levels(8, 10, 10).levels.map((l) => l.load)).toEqual([100, 0]);
  });

  it('spills the shortfall to P1: 5 of 10 healthy → 70 / 30', () => {
    expect(levels(5, 10, 10).levels.map((l) => l.load)).toEqual([70, 30]);
  });

  it('sends everything to P1 when P0 is all down', () => {
    expect(levels(0, 10, 10).levels.map((l) => l.load)).toEqual([0, 100]);
  });

  it('chooses priorities from the 1..100 draw', () => {
    const set = levels(5, 10, 10);
    expect(set.choosePriority(70)).toBe(0);
    expect(set.choosePriority(71)).toBe(1);
  });
});

describe('health-aware load balancing across priorities', () => {
  const od = { outlierDetection: true, clientLocality: 'us-east/z1/' } as const;

  it('fails over to the next region when every local endpoint is out', () => {
    const local = [ep('us-east/z1/'), ep('us-east/z1/')];
    const remote = [ep('us-west/z1/'), ep('us-west/z1/')];
    const lb = createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, [...remote, ...local], { ...od, seed: 1 });
    const before = counts(lb, 400);
    expect([...before.keys()].every((h) => h!.locality === 'us-east/z1/')).toBe(true);
    for (const e of local) e.healthy = false;
    noteHealthChange();
    const after = counts(lb, 400);
    expect([...after.keys()].every((h) => h!.locality === 'us-west/z1/')).toBe(true);
  });

  it('with half the local endpoints out, 70 % stays local and 30 % fails over', () => {
    const local = [ep('us-east/z1/'), ep('us-east/z1/')];
    const remote = [ep('us-west/z1/'), ep('us-west/z1/')];
    const lb = createLoadBalancer({ kind: 'simple', simple: 'LEAST_REQUEST' }, [...local, ...remote], { ...od, seed: 1 });
    local[0]!.healthy = false;
    noteHealthChange();
    const n = 20000;
    const c = counts(lb, n);
    expect(c.get(local[0])).toBeUndefined();
    expect(withinSixSigma(c.get(local[1])!, n, 0.7)).toBe(true);
  });

  it('ignores locality without outlier detection (Istio writes no priorities)', () => {
    const local = ep('us-east/z1/');
    const remote = ep('us-west/z1/');
    const c = counts(createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, [local, remote], { clientLocality: 'us-east/z1/', seed: 1 }), 1000);
    expect(c.get(local)).toBe(500);
  });

  it('locality-weighted `distribute` splits traffic 80/20', () => {
    const a = ep('us-east/z1/');
    const b = ep('us-west/z1/');
    const n = 20000;
    const lb = createLoadBalancer({ kind: 'simple', simple: 'RANDOM' }, [a, b], {
      clientLocality: 'us-east/z1/',
      localityLbSetting: { distribute: [{ from: 'us-east/*', to: { 'us-east/*': 80, 'us-west/*': 20 } }] },
      seed: 1,
    });
    const c = counts(lb, n);
    expect(Math.abs(c.get(a)! - 16000)).toBeLessThanOrEqual(1);
  });

  it('minHealthPercent: below it the level panics and uses every endpoint', () => {
    const eps = [ep('x'), ep('x'), ep('x'), ep('x')];
    eps[0]!.healthy = false;
    eps[1]!.healthy = false;
    eps[2]!.healthy = false;
    const strict = counts(createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, eps, { minHealthPercent: 0, seed: 1 }), 100);
    expect([...strict.keys()]).toEqual([eps[3]]);
    // 25 % healthy < 50 %: panic, health ignored.
    const panicking = counts(createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, eps, { minHealthPercent: 50, seed: 1 }), 100);
    expect(panicking.size).toBe(4);
    // With everything out, Istio's default threshold 0 means no endpoint at all.
    eps[3]!.healthy = false;
    expect(createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, eps, { seed: 1 }).pick({ random: Math.random, now: 0 })).toBeUndefined();
    expect(createLoadBalancer({ kind: 'simple', simple: 'ROUND_ROBIN' }, eps, { minHealthPercent: 50, seed: 1 }).pick({ random: Math.random, now: 0 })).toBeDefined();
  });

  it('consistent hashing follows priorities too', () => {
    const local = [ep('us-east/z1/'), ep('us-east/z1/')];
    const remote = [ep('us-west/z1/')];
    const lb = createLoadBalancer({ kind: 'consistentHash', algorithm: 'RING_HASH', tableSize: 1024, key: {} }, [...local, ...remote], { ...od, seed: 1 });
    const ctx = (k: string): PickContext => ({ hashKey: k, random: Math.random, now: 0 });
    for (let k = 0; k < 100; k++) expect(lb.pick(ctx(`u${k}`))!.locality).toBe('us-east/z1/');
    for (const e of local) e.healthy = false;
    noteHealthChange();
    for (let k = 0; k < 100; k++) expect(lb.pick(ctx(`u${k}`))).toBe(remote[0]);
  });
});
