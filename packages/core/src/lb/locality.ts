/**
 * Locality-aware priorities and Envoy's priority selection.
 *
 * Two halves:
 * - `planPriorities` does what istiod does per client proxy when it writes EDS
 *   (`loadbalancer.go: ApplyLocalityLoadBalancer`, `applyLocalityWeights`,
 *   `applyLocalityFailover`, `applyFailoverPriorities`, `applyFailoverPriorityPerLocality`):
 *   it groups endpoints by locality, assigns each group a priority relative to the client's
 *   locality (or labels) and a locality weight.
 * - `PrioritySet` does what Envoy does with that assignment at run time
 *   (`LoadBalancerBase::recalculatePerPriorityState`, `recalculatePerPriorityPanic`,
 *   `recalculateLoadInTotalPanic`, `choosePriority`; `LocalityWrr`): per-priority health
 *   with overprovisioning factor 1.4, load spill-over to lower priorities, panic threshold,
 *   and the locality scheduler for locality-weighted balancing.
 */
import type { EndpointState } from '../endpoint.js';
import { EdfScheduler } from './round-robin.js';

// ---------------------------------------------------------------------------------------
// Health generation: cheap change detection for load balancers.
// ---------------------------------------------------------------------------------------

let generation = 0;

/**
 * Call after changing any `EndpointState.healthy` (the outlier detector does). Load
 * balancers compare this counter on each pick and recompute their health-derived state
 * (priority loads, panic, rings) only when it moved.
 */
export function noteHealthChange(): void {
  generation++;
}

/** The current health generation (see `noteHealthChange`). */
export function healthGeneration(): number {
  return generation;
}

// ---------------------------------------------------------------------------------------
// Istio's per-client priority assignment.
// ---------------------------------------------------------------------------------------

/** Istio `LocalityLoadBalancerSetting`, read defensively from plain data. */
export interface LocalityLbSetting {
  enabled?: boolean | undefined;
  distribute?: { from: string; to: Record<string, number> }[] | undefined;
  failover?: { from: string; to: string }[] | undefined;
  failoverPriority?: string[] | undefined;
}

export interface LocalityGroupPlan {
  /** `region/zone/subzone` of the group's endpoints. */
  locality: string;
  hosts: EndpointState[];
  /** Locality weight (Envoy `LocalityLbEndpoints.load_balancing_weight`). */
  weight: number;
  priority: number;
}

export interface PriorityPlan {
  /** `levels[p]` = the locality groups at priority p (contiguous from 0, none empty). */
  levels: LocalityGroupPlan[][];
  /** Envoy `locality_weighted_lb_config` is set: pick a locality first, then a host in it. */
  localityWeighted: boolean;
}

export interface PlanOptions {
  /** The client's `region/zone/subzone` ('' or undefined when unknown). */
  clientLocality?: string | undefined;
  /** The client's workload labels (for `failoverPriority`). */
  clientLabels?: Readonly<Record<string, string>> | undefined;
  /**
   * The effective `localityLbSetting` (the DestinationRule's, else the mesh's). Undefined
   * means Istio's default mesh setting, `{ enabled: true }`.
   */
  localityLbSetting?: unknown;
  /**
   * Outlier detection is configured for the cluster. Istio writes failover priorities only
   * then (`enableFailover`): without it no endpoint ever turns unhealthy, so traffic would
   * never leave priority 0.
   */
  outlierDetection?: boolean | undefined;
}

const REGION_LABEL = 'topology.kubernetes.io/region';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const SUBZONE_LABEL = 'topology.istio.io/subzone';
const NETWORK_LABEL = 'topology.istio.io/network';

/** label.go: SplitLocalityLabel. */
export function splitLocality(locality: string | undefined): [string, string, string] {
  const items = (locality ?? '').split('/');
  return [items[0] ?? '', items[1] ?? '', items[2] ?? ''];
}

/** util.go: LocalityMatch — does `locality` match a rule (`region/zone/subzone`, `*` wildcards)? */
export function localityMatch(locality: string, rule: string): boolean {
  const [region, zone, subzone] = splitLocality(locality);
  const [rRegion, rZone, rSubzone] = splitLocality(rule);
  return (
    (rRegion === '*' || region === rRegion) &&
    (rZone === '*' || rZone === '' || zone === rZone) &&
    (rSubzone === '*' || rSubzone === '' || subzone === rSubzone)
  );
}

/** util.go: LbPriority — 0 same subzone, 1 same zone, 2 same region, 3 elsewhere. */
function lbPriority(client: [string, string, string], endpoint: [string, string, string]): number {
  if (client[0] === endpoint[0]) {
    if (client[1] === endpoint[1]) return client[2] === endpoint[2] ? 0 : 1;
    return 2;
  }
  return 3;
}

/** label.go: AugmentLabels — topology labels derived from the locality win over explicit ones. */
function augmentLabels(labels: Readonly<Record<string, string>> | undefined, locality: string | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(labels ?? {}) };
  const [region, zone, subzone] = splitLocality(locality);
  if (region) out[REGION_LABEL] = region;
  if (zone) out[ZONE_LABEL] = zone;
  if (subzone) out[SUBZONE_LABEL] = subzone;
  return out;
}

function nonEmptyArray(v: unknown): unknown[] | undefined {
  return Array.isArray(v) && v.length > 0 ? v : undefined;
}

/** Reads a `LocalityLoadBalancerSetting` from untyped config data. */
export function parseLocalityLbSetting(raw: unknown): LocalityLbSetting {
  if (!raw || typeof raw !== 'object') return {};
  const r = raw as Record<string, unknown>;
  const out: LocalityLbSetting = {};
  if (typeof r.enabled === 'boolean') out.enabled = r.enabled;
  const distribute = nonEmptyArray(r.distribute);
  if (distribute) {
    out.distribute = distribute.flatMap((d) => {
      if (!d || typeof d !== 'object') return [];
      const e = d as Record<string, unknown>;
      const to: Record<string, number> = {};
      if (e.to && typeof e.to === 'object') for (const [k, v] of Object.entries(e.to)) if (Number.isFinite(Number(v))) to[k] = Number(v);
      return [{ from: typeof e.from === 'string' ? e.from : '', to }];
    });
  }
  const failover = nonEmptyArray(r.failover);
  if (failover) {
    out.failover = failover.flatMap((f) => {
      if (!f || typeof f !== 'object') return [];
      const e = f as Record<string, unknown>;
      return [{ from: typeof e.from === 'string' ? e.from : '', to: typeof e.to === 'string' ? e.to : '' }];
    });
  }
  const fp = nonEmptyArray(r.failoverPriority);
  if (fp) out.failoverPriority = fp.filter((x): x is string => typeof x === 'string');
  return out;
}

/** Reassigns priorities 0..N without gaps, keeping their order. */
function compact(groups: LocalityGroupPlan[]): void {
  const distinct = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  const index = new Map(distinct.map((p, i) => [p, i]));
  for (const g of groups) g.priority = index.get(g.priority)!;
}

/** loadbalancer.go: applyLocalityWeights. */
function applyLocalityWeights(client: string, groups: LocalityGroupPlan[], distribute: NonNullable<LocalityLbSetting['distribute']>): void {
  for (const rule of distribute) {
    if (!localityMatch(client, rule.from)) continue;
    const mismatched = new Set(groups.keys());
    // Go iterates the `to` map in random order; overlapping patterns are therefore
    // undefined in Istio. Object key order is our deterministic stand-in.
    for (const [pattern, weight] of Object.entries(rule.to)) {
      const dest: number[] = [];
      let total = 0;
      for (const i of mismatched) {
        const g = groups[i]!;
        if (localityMatch(g.locality, pattern)) {
          dest.push(i);
          total += g.weight;
        }
      }
      for (const i of dest) {
        mismatched.delete(i);
        const g = groups[i]!;
        const w = (g.weight * weight) / total;
        // A zero share leaves the group's weight as it was (Istio only writes positive weights).
        if (w > 0) g.weight = Math.ceil(w);
      }
    }
    // Localities no `to` entry names receive no traffic at all.
    for (const i of mismatched) groups[i]!.hosts = [];
    break;
  }
}

/** loadbalancer.go: applyLocalityFailover. */
function applyLocalityFailover(client: string, groups: LocalityGroupPlan[], failover: NonNullable<LocalityLbSetting['failover']> | undefined): void {
  const c = splitLocality(client);
  for (const g of groups) {
    const e = splitLocality(g.locality);
    let p = lbPriority(c, e);
    if (p === 3 && failover) {
      for (const f of failover) {
        if (f.from === c[0]) {
          if (e[0] !== f.to) p = 4;
          break;
        }
      }
    }
    // Up to five proximity levels under each priority already set by failoverPriority.
    g.priority = g.priority * 5 + p;
  }
  compact(groups);
}

/** loadbalancer.go: applyFailoverPriorities / applyFailoverPriorityPerLocality. */
function applyFailoverPriorities(groups: LocalityGroupPlan[], clientLabels: Record<string, string>, priorities: string[]): LocalityGroupPlan[] {
  if (Object.keys(clientLabels).length === 0 || groups.length === 0) return groups;
  const lowest = priorities.length;
  const includesNetwork = lowest > 0 && priorities[0] === NETWORK_LABEL;
  // `label=value` pins the value instead of taking the client's.
  const names: string[] = [];
  const overrides = new Map<string, string>();
  for (const entry of priorities) {
    const parts = entry.split('=');
    names.push(parts[0]!);
    if (parts.length === 2) overrides.set(parts[0]!, parts[1]!);
  }
  const out: LocalityGroupPlan[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, EndpointState[]>();
    for (const ep of g.hosts) {
      const labels = augmentLabels(ep.labels, ep.locality);
      let priority = 0;
      let adjust = 0;
      for (let j = 0; j < names.length; j++) {
        const name = names[j]!;
        const want = overrides.has(name) ? overrides.get(name)! : (clientLabels[name] ?? '');
        if (want !== (labels[name] ?? '')) {
          if (j === 0 && includesNetwork) {
            // A different network only demotes below every same-network level.
            adjust = lowest;
            continue;
          }
          priority = lowest - j;
          break;
        }
      }
      priority += adjust;
      let list = byPriority.get(priority);
      if (!list) byPriority.set(priority, (list = []));
      list.push(ep);
    }
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const hosts = byPriority.get(p)!;
      out.push({ locality: g.locality, hosts, weight: hosts.reduce((s, h) => s + h.weight, 0), priority: p });
    }
  }
  compact(out);
  return out;
}

/**
 * Istio's per-client EDS shaping: endpoints grouped by locality, with priorities and
 * locality weights as the client's Envoy would receive them.
 */
export function planPriorities(endpoints: readonly EndpointState[], opts: PlanOptions = {}): PriorityPlan {
  let groups: LocalityGroupPlan[] = [];
  const byLocality = new Map<string, LocalityGroupPlan>();
  for (const ep of endpoints) {
    let g = byLocality.get(ep.locality);
    if (!g) {
      g = { locality: ep.locality, hosts: [], weight: 0, priority: 0 };
      byLocality.set(ep.locality, g);
      groups.push(g);
    }
    g.hosts.push(ep);
    g.weight += ep.weight;
  }
  const setting = parseLocalityLbSetting(opts.localityLbSetting);
  const client = opts.clientLocality ?? '';
  const failoverEnabled = opts.outlierDetection === true;
  let localityWeighted = false;
  if (setting.enabled !== false) {
    if (setting.distribute) {
      applyLocalityWeights(client, groups, setting.distribute);
      localityWeighted = true;
    } else if (failoverEnabled) {
      if (setting.failoverPriority && setting.failoverPriority.length > 0) {
        groups = applyFailoverPriorities(groups, augmentLabels(opts.clientLabels, opts.clientLocality), setting.failoverPriority);
        if (setting.failover) applyLocalityFailover(client, groups, setting.failover);
      } else {
        applyLocalityFailover(client, groups, setting.failover);
      }
      localityWeighted = !!(setting.failover || setting.failoverPriority);
    }
  }
  const levels: LocalityGroupPlan[][] = [];
  for (const g of groups) {
    if (g.hosts.length === 0) continue;
    (levels[g.priority] ??= []).push(g);
  }
  // Removing emptied groups can leave holes; Envoy's priorities are contiguous.
  return { levels: levels.filter((l) => l && l.length > 0), localityWeighted };
}

// ---------------------------------------------------------------------------------------
// Envoy's run-time priority set.
// ---------------------------------------------------------------------------------------

/** Envoy's default overprovisioning factor (Istio does not change it), in percent. */
export const OVERPROVISIONING_FACTOR = 140;

export interface LocalityGroup {
  readonly locality: string;
  readonly hosts: readonly EndpointState[];
  readonly weight: number;
  /** Healthy hosts of the group as of the last refresh. */
  healthy: EndpointState[];
}

export interface PriorityLevel {
  readonly hosts: readonly EndpointState[];
  readonly groups: readonly LocalityGroup[];
  /** Healthy hosts as of the last refresh. */
  healthy: EndpointState[];
  /** Percent of traffic this level receives (healthy load). */
  load: number;
  /** Too few healthy hosts: balance over all hosts, healthy or not. */
  panic: boolean;
  /** Locality scheduler (locality-weighted balancing with healthy hosts), else null. */
  localities: EdfScheduler<LocalityGroup> | null;
}

/**
 * LocalityWrr::effectiveLocalityWeight: the locality weight scaled by its availability
 * (healthy share × 1.4, capped at 1). Fixed between refreshes.
 */
export function effectiveLocalityWeight(g: LocalityGroup): number {
  if (g.hosts.length === 0) return 0;
  return g.weight * Math.min(1, (OVERPROVISIONING_FACTOR / 100) * (g.healthy.length / g.hosts.length));
}

export class PrioritySet {
  readonly levels: PriorityLevel[];
  readonly localityWeighted: boolean;
  /** Every endpoint in the set, in priority order. */
  readonly hosts: readonly EndpointState[];
  private readonly flags: Uint8Array;
  private readonly panicThreshold: number;
  private readonly seed: number;

  /**
   * @param panicThresholdPercent Envoy `healthy_panic_threshold` (Istio: `minHealthPercent`
   *   when outlier detection is configured, default 0 = never panic).
   */
  constructor(plan: PriorityPlan, panicThresholdPercent: number, seed: number) {
    this.localityWeighted = plan.localityWeighted;
    this.panicThreshold = Math.min(100, Math.max(0, Math.round(panicThresholdPercent || 0)));
    this.seed = seed;
    this.levels = plan.levels.map((groups) => ({
      hosts: groups.flatMap((g) => g.hosts),
      groups: groups.map((g) => ({ locality: g.locality, hosts: g.hosts, weight: g.weight, healthy: [] })),
      healthy: [],
      load: 0,
      panic: false,
      localities: null,
    }));
    this.hosts = this.levels.flatMap((l) => l.hosts);
    this.flags = new Uint8Array(this.hosts.length);
    this.refresh(true);
  }

  /**
   * Recomputes healthy lists, loads and panic flags when some host's health changed since the
   * last refresh (or when forced). Returns whether it recomputed.
   */
  refresh(force = false): boolean {
    let changed = force;
    for (let i = 0; i < this.hosts.length; i++) {
      const f = this.hosts[i]!.healthy ? 1 : 0;
      if (this.flags[i] !== f) {
        this.flags[i] = f;
        changed = true;
      }
    }
    if (!changed) return false;
    const health: number[] = [];
    for (const level of this.levels) {
      level.healthy = level.hosts.filter((h) => h.healthy);
      for (const g of level.groups) g.healthy = g.hosts.filter((h) => h.healthy);
      // Health is by host count: Istio does not set `weighted_priority_health`.
      health.push(level.hosts.length === 0 ? 0 : Math.min(100, Math.floor((OVERPROVISIONING_FACTOR * level.healthy.length) / level.hosts.length)));
      level.panic = false;
    }
    const total = Math.min(100, health.reduce((a, b) => a + b, 0));
    if (total === 0) {
      if (this.panicThreshold === 0) {
        // No healthy host and panic disabled: P0 takes the (undeliverable) traffic.
        this.levels.forEach((l, i) => (l.load = i === 0 ? 100 : 0));
      } else {
        for (const l of this.levels) l.panic = true;
        this.loadInTotalPanic();
      }
    } else {
      let remaining = 100;
      let firstHealthy = -1;
      this.levels.forEach((l, i) => {
        if (firstHealthy < 0 && health[i]! > 0) firstHealthy = i;
        l.load = Math.min(remaining, Math.floor((health[i]! * 100) / total));
        remaining -= l.load;
      });
      if (remaining > 0) this.levels[firstHealthy]!.load += remaining;
      // A level panics only when the set as a whole cannot carry the load.
      let totalPanic = this.levels.length > 0;
      for (const l of this.levels) {
        l.panic = total === 100 ? false : (l.hosts.length === 0 ? 0 : (100 * l.healthy.length) / l.hosts.length) < this.panicThreshold;
        totalPanic &&= l.panic;
      }
      if (totalPanic) this.loadInTotalPanic();
    }
    if (this.localityWeighted) for (const l of this.levels) l.localities = this.localityScheduler(l);
    return true;
  }

  /** LoadBalancerBase::recalculateLoadInTotalPanic: load by host count, health ignored. */
  private loadInTotalPanic(): void {
    const total = this.hosts.length;
    if (total === 0) {
      this.levels.forEach((l, i) => (l.load = i === 0 ? 100 : 0));
      return;
    }
    let remaining = 100;
    let firstNonEmpty = -1;
    this.levels.forEach((l, i) => {
      if (firstNonEmpty < 0 && l.hosts.length > 0) firstNonEmpty = i;
      l.load = Math.floor((100 * l.hosts.length) / total);
      remaining -= l.load;
    });
    this.levels[firstNonEmpty]!.load += remaining;
  }

  /** LocalityWrr::rebuildLocalityScheduler with effectiveLocalityWeight. */
  private localityScheduler(level: PriorityLevel): EdfScheduler<LocalityGroup> | null {
    if (level.healthy.length === 0) return null;
    const entries: LocalityGroup[] = [];
    const weights: number[] = [];
    for (const g of level.groups) {
      const w = effectiveLocalityWeight(g);
      if (w > 0) {
        entries.push(g);
        weights.push(w);
      }
    }
    if (entries.length === 0) return null;
    return new EdfScheduler(entries, weights, this.seed);
  }

  /** LoadBalancerBase::choosePriority with `h` in 1..100. */
  choosePriority(h: number): number {
    let aggregate = 0;
    for (let i = 0; i < this.levels.length; i++) {
      aggregate += this.levels[i]!.load;
      if (h <= aggregate) return i;
    }
    return 0;
  }

  /** True when every pick lands on level 0 (no random draw needed for the priority). */
  get singleLevel(): boolean {
    return this.levels.length <= 1 || this.levels[0]!.load >= 100;
  }
}
