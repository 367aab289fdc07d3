/**
 * The registry as the snapshot builder sees it: registered workloads turned into
 * WorkloadEntry resources, merged with the stored resources. Only healthy workloads are
 * included, so a workload whose heartbeats stopped drops out of every endpoint set (as
 * Istio marks an auto-registered WorkloadEntry unhealthy when its connection is gone).
 */
import type { ResourceDoc, Workload } from './store/types.js';

/** How long a workload stays healthy after its last heartbeat (registration counts as one). */
export const DEFAULT_HEARTBEAT_TTL_MS = 30_000;

/** Istio's annotation naming the WorkloadGroup of an auto-registered WorkloadEntry. */
export const AUTO_REGISTRATION_GROUP_ANNOTATION = 'istio.io/autoRegistrationGroup';

export interface HealthOptions {
  /** Milliseconds since the epoch. */
  nowMs: number;
  /** Default `DEFAULT_HEARTBEAT_TTL_MS`. */
  ttlMs?: number | undefined;
}

export function isHealthy(w: Pick<Workload, 'lastHeartbeatMs'>, o: HealthOptions): boolean {
  return o.nowMs - w.lastHeartbeatMs <= (o.ttlMs ?? DEFAULT_HEARTBEAT_TTL_MS);
}

/** One workload as a WorkloadEntry (networking.istio.io/v1). */
export function workloadEntryOf(w: Workload): ResourceDoc {
  const spec: Record<string, unknown> = { address: w.address };
  if (Object.keys(w.ports).length > 0) spec.ports = { ...w.ports };
  spec.labels = { ...w.labels };
  spec.serviceAccount = w.serviceAccount;
  if (w.locality !== '') spec.locality = w.locality;
  if (w.network !== undefined && w.network !== '') spec.network = w.network;
  if (w.weight !== undefined) spec.weight = w.weight;
  const metadata: ResourceDoc['metadata'] = { name: w.name, namespace: w.namespace, labels: { ...w.labels } };
  if (w.group !== undefined) metadata.annotations = { [AUTO_REGISTRATION_GROUP_ANNOTATION]: w.group.slice(w.group.indexOf('/') + 1) };
  return { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata, spec };
}

/** The healthy workloads as WorkloadEntries, sorted by namespace and name. Pure. */
export function workloadEntries(workloads: readonly Workload[], o: HealthOptions): ResourceDoc[] {
  return workloads
    .filter((w) => isHealthy(w, o))
    .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.namespace < b.namespace ? -1 : 1))
    .map(workloadEntryOf);
}
