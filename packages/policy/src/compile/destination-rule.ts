/**
 * DestinationRule lookup and traffic-policy resolution (reference §2.1, §2.2;
 * push_context.go: destinationRule, getExportedDestinationRuleFromNamespace,
 * destination_rule.go: mergeDestinationRule, cluster_traffic_policy.go).
 */
import type { MeshConfig, WorkloadIdentity } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { resolveShortName, mostSpecificMatch } from './hosts.js';
import { byCreation, labelsMatch, strMap } from './order.js';

/** One DestinationRule after merging the same-host rules of a namespace. */
export interface EffectiveDestinationRule {
  /** `ns/name` of every merged DR, oldest first. */
  ids: string[];
  namespace: string;
  host: string;
  trafficPolicy?: any;
  subsets: { name: string; labels: Record<string, string>; trafficPolicy?: any }[];
  exportTo: string[];
}

interface DrEntry {
  r: Resource;
  host: string;
  exportTo: string[]; // '.' resolved to own namespace; [] = default (all)
  selector?: Record<string, string> | undefined;
}

export class DestinationRuleIndex {
  private readonly byNs = new Map<string, DrEntry[]>();
  private readonly memo = new Map<string, EffectiveDestinationRule | null>();

  constructor(resources: readonly Resource[], private readonly client: WorkloadIdentity, private readonly mesh: MeshConfig) {
    const drs = resources.filter((r) => r.kind === 'DestinationRule').sort((a, b) => {
      // DRs with a workloadSelector sort first (push_context.go: sortConfigBySelectorAndCreationTime).
      const sa = a.spec?.workloadSelector ? 0 : 1;
      const sb = b.spec?.workloadSelector ? 0 : 1;
      return sa - sb || byCreation(a, b);
    });
    for (const r of drs) {
      const ns = r.metadata.namespace;
      const exportTo: string[] = Array.isArray(r.spec?.exportTo) ? r.spec.exportTo.map((e: unknown) => (e === '.' ? ns : String(e))) : [];
      const selector = strMap(r.spec?.workloadSelector?.matchLabels);
      // A DR with a selector applies only to matching workloads of its own namespace.
      if (selector && (ns !== client.namespace || !labelsMatch(selector, client.labels))) continue;
      const entry: DrEntry = { r, host: resolveShortName(String(r.spec?.host ?? ''), ns, mesh), exportTo, selector };
      const list = this.byNs.get(ns) ?? [];
      list.push(entry);
      this.byNs.set(ns, list);
    }
  }

  /** The DR that applies to `host` (a service of namespace `serviceNs`) for this client, or null. */
  lookup(host: string, serviceNs: string | undefined): EffectiveDestinationRule | null {
    const key = `${host}\u0000${serviceNs ?? ''}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const out = this.compute(host, serviceNs);
    this.memo.set(key, out);
    return out;
  }

  private compute(host: string, serviceNs: string | undefined): EffectiveDestinationRule | null {
    const clientNs = this.client.namespace;
    const root = this.mesh.rootNamespace;
    const exportedTo = (e: DrEntry, ns: string) => e.exportTo.length === 0 || e.exportTo.includes('*') || e.exportTo.includes(ns);
    // 1. The client's namespace: DRs visible in their own namespace (root: only private ones).
    if (clientNs !== root) {
      const local = (this.byNs.get(clientNs) ?? []).filter((e) => exportedTo(e, clientNs));
      const r = this.pick(local, host);
      if (r) return r;
    } else {
      const local = (this.byNs.get(root) ?? []).filter((e) => e.exportTo.length > 0 && e.exportTo.every((x) => x === root));
      const r = this.pick(local, host);
      if (r) return r;
    }
    // 2. The service's namespace; 3. the root namespace: most specific host first, then exportTo.
    for (const ns of [serviceNs, root]) {
      if (!ns) continue;
      const all = this.byNs.get(ns) ?? [];
      const best = mostSpecificMatch(new Set(all.filter((e) => !isPrivate(e, ns)).map((e) => e.host)), host);
      if (best === undefined) continue;
      const candidates = all.filter((e) => e.host === best && !isPrivate(e, ns) && exportedTo(e, clientNs));
      if (candidates.length > 0) return merge(candidates);
    }
    return null;
  }

  private pick(entries: DrEntry[], host: string): EffectiveDestinationRule | null {
    const best = mostSpecificMatch(new Set(entries.map((e) => e.host)), host);
    if (best === undefined) return null;
    return merge(entries.filter((e) => e.host === best));
  }
}

/** A DR exported only to its own namespace is not in the namespace's exported index. */
function isPrivate(e: DrEntry, ns: string): boolean {
  return e.exportTo.length > 0 && e.exportTo.every((x) => x === ns);
}

/**
 * destination_rule.go: mergeDestinationRule — workload-selector DRs are not merged with
 * others; among the rest subsets concatenate (first name wins) and the oldest top-level
 * traffic policy is kept.
 */
function merge(entries: DrEntry[]): EffectiveDestinationRule {
  const withSelector = entries.filter((e) => e.selector);
  const group = withSelector.length > 0 ? [withSelector[0]!] : entries;
  const first = group[0]!;
  const out: EffectiveDestinationRule = {
    ids: [],
    namespace: first.r.metadata.namespace,
    host: first.host,
    subsets: [],
    exportTo: first.exportTo,
  };
  const seen = new Set<string>();
  for (const e of group) {
    out.ids.push(`${e.r.metadata.namespace}/${e.r.metadata.name}`);
    if (out.trafficPolicy === undefined && e.r.spec?.trafficPolicy) out.trafficPolicy = e.r.spec.trafficPolicy;
    for (const s of Array.isArray(e.r.spec?.subsets) ? e.r.spec.subsets : []) {
      const name = String(s?.name ?? '');
      if (seen.has(name)) continue;
      seen.add(name);
      out.subsets.push({ name, labels: strMap(s?.labels) ?? {}, trafficPolicy: s?.trafficPolicy });
    }
  }
  return out;
}

const POLICY_BLOCKS = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;

/**
 * The traffic policy for (port, subset): a matching port-level entry replaces the top level
 * wholesale for loadBalancer, connectionPool, outlierDetection and tls; a subset's blocks
 * then replace whole blocks (cluster_traffic_policy.go, reference §2.2).
 */
export function resolveTrafficPolicy(dr: EffectiveDestinationRule | null, port: number | undefined, subset: string | undefined): Record<string, unknown> {
  const fromPolicy = (tp: any): { policy: Record<string, unknown>; portLevel: boolean } => {
    if (!tp || typeof tp !== 'object') return { policy: {}, portLevel: false };
    const pl = Array.isArray(tp.portLevelSettings) ? tp.portLevelSettings.find((p: any) => Number(p?.port?.number) === port) : undefined;
    if (pl) {
      const policy: Record<string, unknown> = {};
      for (const k of ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls'] as const) if (pl[k] !== undefined) policy[k] = pl[k];
      return { policy, portLevel: true };
    }
    const policy: Record<string, unknown> = {};
    for (const k of POLICY_BLOCKS) if (tp[k] !== undefined) policy[k] = tp[k];
    return { policy, portLevel: false };
  };
  const base = fromPolicy(dr?.trafficPolicy).policy;
  if (!subset || !dr) return base;
  const s = dr.subsets.find((x) => x.name === subset);
  if (!s?.trafficPolicy) return base;
  const sub = fromPolicy(s.trafficPolicy);
  const out = { ...base };
  for (const k of POLICY_BLOCKS) {
    if (sub.policy[k] !== undefined) out[k] = sub.policy[k];
    else if (sub.portLevel && (k === 'loadBalancer' || k === 'connectionPool' || k === 'outlierDetection' || k === 'tls')) delete out[k];
  }
  return out;
}
