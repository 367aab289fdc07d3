/**
 * Load balancers for a cluster's endpoints with Envoy's semantics as Istio configures them
 * (reference §2.3): priorities and locality weights from `localityLbSetting`
 * (`locality.ts`), health from outlier detection with Istio's panic threshold
 * (`minHealthPercent`, default 0 = never panic), the per-host algorithm
 * (LEAST_REQUEST, ROUND_ROBIN, RANDOM, RING_HASH, MAGLEV), slow start for
 * ROUND_ROBIN / LEAST_REQUEST, and Envoy's host-selection retries for the "previous hosts"
 * predicate.
 *
 * Everything that depends only on the endpoint list is built here, once per snapshot;
 * health-derived state (loads, panic, rings) is rebuilt only when an endpoint's health
 * actually changed (see `noteHealthChange`).
 *
 * @example
 * const lb = createLoadBalancer(policy.loadBalancer, endpoints, {
 *   clientLocality: 'us-east1/us-east1-b/',
 *   localityLbSetting: policy.localityLbSetting,
 *   warmup: policy.warmup,
 *   minHealthPercent: policy.outlierDetection?.minHealthPercent ?? 0,
 *   outlierDetection: policy.outlierDetection !== null,
 * });
 * const host = lb.pick({ hashKey: undefined, exclude: tried, random: Math.random, now: performance.now() });
 */
import type { ClusterPolicy } from '@meshwork/policy';
import type { EndpointState, LoadBalancer, PickContext } from '../endpoint.js';
import { LeastRequestPicker } from './least-request.js';
import { effectiveLocalityWeight, healthGeneration, planPriorities, PrioritySet, type LocalityGroup, type PriorityLevel } from './locality.js';
import { MaglevTable } from './maglev.js';
import { RandomPicker } from './random.js';
import { RingHashTable, type HashTable, type WeightedHost } from './ring-hash.js';
import { RoundRobinPicker, type HostPicker, type PickerEnv } from './round-robin.js';
import { slowStartFor } from './warmup.js';
import { mod64, xxHash64, type U64 } from './xxhash64.js';

export { noteHealthChange, healthGeneration, planPriorities, PrioritySet, localityMatch, parseLocalityLbSetting } from './locality.js';
export type { LocalityLbSetting, PriorityPlan, PlanOptions } from './locality.js';
export { EdfScheduler } from './round-robin.js';
export { RingHashTable } from './ring-hash.js';
export { MaglevTable } from './maglev.js';
export { SlowStart } from './warmup.js';
export { xxHash64 } from './xxhash64.js';

/**
 * Istio installs the `previous_hosts` retry predicate with `host_selection_retry_max_attempts: 5`
 * (`retry.go: ConvertPolicy`): a pick that lands on an already-tried host is redone up to
 * five more times.
 */
export const HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5;

export interface LoadBalancerOptions {
  /** The client's `region/zone/subzone`. */
  clientLocality?: string | undefined;
  /** The client's workload labels, for `localityLbSetting.failoverPriority`. */
  clientLabels?: Readonly<Record<string, string>> | undefined;
  /** Effective `localityLbSetting` (DestinationRule's, else the mesh's); undefined = mesh default `{ enabled: true }`. */
  localityLbSetting?: unknown;
  warmup?: ClusterPolicy['warmup'];
  /** Envoy panic threshold in percent (Istio `minHealthPercent`; 0 = never panic). */
  minHealthPercent?: number | undefined;
  /** Outlier detection is configured: Istio only then applies locality failover priorities. */
  outlierDetection?: boolean | undefined;
  /** Random start for rotations and schedules; default: a fresh random number. */
  seed?: number | undefined;
}

/**
 * A `LoadBalancer` over `endpoints` for the cluster's `loadBalancer` policy. Health-aware:
 * only `healthy` endpoints are chosen unless their priority level is in panic; with every
 * endpoint ejected and no panic, `pick` returns undefined.
 */
export function createLoadBalancer(policy: ClusterPolicy['loadBalancer'], endpoints: readonly EndpointState[], opts: LoadBalancerOptions = {}): LoadBalancer {
  const seed = opts.seed !== undefined ? Math.abs(Math.trunc(opts.seed)) : Math.floor(Math.random() * 0x7fffffff);
  if (policy.kind === 'simple' && policy.simple === 'PASSTHROUGH') return new PassthroughLoadBalancer(endpoints);
  const plan = planPriorities(endpoints, {
    clientLocality: opts.clientLocality,
    clientLabels: opts.clientLabels,
    localityLbSetting: opts.localityLbSetting,
    outlierDetection: opts.outlierDetection,
  });
  const set = new PrioritySet(plan, opts.minHealthPercent ?? 0, seed);
  if (policy.kind === 'consistentHash') {
    const size = policy.tableSize;
    const build =
      policy.algorithm === 'MAGLEV'
        ? (hosts: WeightedHost[]): HashTable => new MaglevTable(hosts, size)
        : (hosts: WeightedHost[]): HashTable => new RingHashTable(hosts, size);
    return new HashLoadBalancer(set, build);
  }
  // Slow start only exists for ROUND_ROBIN and LEAST_REQUEST in Envoy.
  const env: PickerEnv = { seed, slowStart: policy.simple === 'RANDOM' ? null : slowStartFor(opts.warmup, endpoints) };
  const factory: (hosts: readonly EndpointState[]) => HostPicker =
    policy.simple === 'ROUND_ROBIN'
      ? (hosts) => new RoundRobinPicker(hosts, env)
      : policy.simple === 'RANDOM'
        ? (hosts) => new RandomPicker(hosts)
        : (hosts) => new LeastRequestPicker(hosts, env);
  return new PriorityLoadBalancer(set, factory);
}

function excluded(ctx: PickContext, host: EndpointState): boolean {
  return ctx.exclude !== undefined && ctx.exclude.size > 0 && ctx.exclude.has(host);
}

/**
 * Last resort once Envoy's retries are spent: any usable host not yet tried (levels in
 * order, from a random offset). Envoy itself would return the last, already-tried pick;
 * a different healthy host is what the predicate is for, so we look for one.
 */
function untried(set: PrioritySet, ctx: PickContext): EndpointState | undefined {
  for (const level of set.levels) {
    const hosts = level.panic ? level.hosts : level.healthy;
    const n = hosts.length;
    if (n === 0) continue;
    const start = Math.floor(ctx.random() * n);
    for (let i = 0; i < n; i++) {
      const h = hosts[(start + i) % n]!;
      if (!excluded(ctx, h)) return h;
    }
  }
  return undefined;
}

/** Shared health tracking: recompute when the global health generation moved. */
abstract class HealthTracking {
  private generation = healthGeneration();

  constructor(protected readonly set: PrioritySet) {}

  protected sync(): void {
    const g = healthGeneration();
    if (g === this.generation) return;
    this.generation = g;
    if (this.set.refresh()) this.rebuild();
  }

  /** Health flags were changed without `noteHealthChange`: resynchronise now. */
  protected resync(): boolean {
    this.generation = healthGeneration();
    if (!this.set.refresh()) return false;
    this.rebuild();
    return true;
  }

  protected abstract rebuild(): void;
}

interface LevelPickers {
  healthy: HostPicker;
  all: HostPicker | null;
  /** Per locality group (healthy hosts), when locality-weighted. */
  groups: Map<LocalityGroup, HostPicker> | null;
}

/**
 * Envoy's `ZoneAwareLoadBalancerBase` + `EdfLoadBalancerBase` flow for LEAST_REQUEST,
 * ROUND_ROBIN and RANDOM: choose a priority by load, then the host source (all hosts in
 * panic; a locality by the locality scheduler when locality-weighted; else the level's
 * healthy hosts), then a host with the algorithm.
 */
class PriorityLoadBalancer extends HealthTracking implements LoadBalancer {
  private pickers: LevelPickers[] = [];

  constructor(
    set: PrioritySet,
    private readonly factory: (hosts: readonly EndpointState[]) => HostPicker,
  ) {
    super(set);
    this.rebuild();
  }

  protected rebuild(): void {
    this.pickers = this.set.levels.map((level) => ({
      healthy: this.factory(level.healthy),
      all: null,
      groups: this.set.localityWeighted ? new Map(level.groups.map((g) => [g, this.factory(g.healthy)] as const)) : null,
    }));
  }

  private pickOnce(ctx: PickContext): EndpointState | undefined {
    const set = this.set;
    const p = set.singleLevel ? 0 : set.choosePriority(Math.floor(ctx.random() * 100) + 1);
    const level: PriorityLevel | undefined = set.levels[p];
    const pickers = this.pickers[p];
    if (!level || !pickers) return undefined;
    if (level.panic) return (pickers.all ??= this.factory(level.hosts)).pick(ctx);
    if (level.localities && pickers.groups) {
      const group = level.localities.pickAndAdd(effectiveLocalityWeight);
      const picker = group && pickers.groups.get(group);
      if (picker) return picker.pick(ctx);
    }
    return pickers.healthy.pick(ctx);
  }

  pick(ctx: PickContext): EndpointState | undefined {
    this.sync();
    let host = this.pickOnce(ctx);
    if (host && !host.healthy && !this.set.levels.some((l) => l.panic) && this.resync()) host = this.pickOnce(ctx);
    if (!host || !excluded(ctx, host)) return host;
    for (let attempt = 1; attempt <= HOST_SELECTION_RETRY_MAX_ATTEMPTS; attempt++) {
      const h = this.pickOnce(ctx);
      if (!h) return host;
      host = h;
      if (!excluded(ctx, host)) return host;
    }
    return untried(this.set, ctx) ?? host;
  }
}

/**
 * Envoy's `ThreadAwareLoadBalancerBase` for RING_HASH and MAGLEV: one table per priority
 * over its healthy hosts (all hosts in panic), weights normalized per locality when
 * locality-weighted; the request hash chooses both the priority and the slot. Without a
 * hash key a random hash is used (effectively random balancing).
 */
class HashLoadBalancer extends HealthTracking implements LoadBalancer {
  private tables: HashTable[] = [];
  private readonly h: U64 = { hi: 0, lo: 0 };

  constructor(
    set: PrioritySet,
    private readonly build: (hosts: WeightedHost[]) => HashTable,
  ) {
    super(set);
    this.rebuild();
  }

  protected rebuild(): void {
    this.tables = this.set.levels.map((level) => this.build(normalize(level, this.set.localityWeighted)));
  }

  private hash(ctx: PickContext): void {
    if (ctx.hashKey !== undefined) {
      xxHash64(ctx.hashKey, 0, this.h);
    } else {
      this.h.hi = Math.floor(ctx.random() * 4294967296) >>> 0;
      this.h.lo = Math.floor(ctx.random() * 4294967296) >>> 0;
    }
  }

  private choose(ctx: PickContext): EndpointState | undefined {
    const { hi, lo } = this.h;
    const table = this.tables[this.set.singleLevel ? 0 : this.set.choosePriority(mod64(hi, lo, 100) + 1)];
    if (!table) return undefined;
    let host = table.chooseHost(hi, lo, 0);
    if (!host || !excluded(ctx, host)) return host;
    for (let attempt = 1; attempt <= HOST_SELECTION_RETRY_MAX_ATTEMPTS; attempt++) {
      host = table.chooseHost(hi, lo, attempt);
      if (!host || !excluded(ctx, host)) return host;
    }
    return untried(this.set, ctx) ?? host;
  }

  pick(ctx: PickContext): EndpointState | undefined {
    this.sync();
    this.hash(ctx);
    const host = this.choose(ctx);
    if (host && !host.healthy && !this.set.levels.some((l) => l.panic) && this.resync()) return this.choose(ctx);
    return host;
  }
}

/** thread_aware_lb_impl.cc: normalizeWeights / normalizeLocalityWeights / normalizeHostWeights. */
function normalize(level: PriorityLevel, localityWeighted: boolean): WeightedHost[] {
  const out: WeightedHost[] = [];
  const addHosts = (hosts: readonly EndpointState[], share: number): void => {
    let sum = 0;
    for (const h of hosts) sum += h.weight;
    for (const h of hosts) out.push({ host: h, weight: (h.weight * share) / sum });
  };
  if (!localityWeighted) {
    addHosts(level.panic ? level.hosts : level.healthy, 1);
    return out;
  }
  let total = 0;
  for (const g of level.groups) total += g.weight;
  if (total === 0) return out;
  // Envoy uses the configured locality weights here, not availability-adjusted ones.
  for (const g of level.groups) if (g.weight > 0) addHosts(level.panic ? g.hosts : g.healthy, g.weight / total);
  return out;
}

/**
 * PASSTHROUGH (Envoy ORIGINAL_DST): the request goes to the address the caller asked for,
 * without load balancing. When the caller addressed the service by name and the registry
 * lists endpoints, the closest in-process equivalent is what the platform's own virtual IP
 * would do: a uniform choice among the endpoints, health ignored.
 */
class PassthroughLoadBalancer implements LoadBalancer {
  constructor(private readonly endpoints: readonly EndpointState[]) {}

  pick(ctx: PickContext): EndpointState | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    let host = this.endpoints[Math.floor(ctx.random() * n)]!;
    for (let attempt = 1; attempt <= HOST_SELECTION_RETRY_MAX_ATTEMPTS && excluded(ctx, host); attempt++) host = this.endpoints[Math.floor(ctx.random() * n)]!;
    return host;
  }
}
