import type { Resource } from '../load/resource.js';

/**
 * Istio's conflict order: oldest creationTimestamp first, then name, then namespace
 * (model.sortConfigByCreationTime). Documents without a timestamp keep load order, which is
 * what a control service assigns creation times by.
 */
export function byCreation(a: Resource, b: Resource): number {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  if (ta && tb && ta !== tb) return Date.parse(ta) - Date.parse(tb);
  if (ta && !tb) return -1;
  if (!ta && tb) return 1;
  if (!ta && !tb && a.order !== b.order) return a.order - b.order;
  if (a.metadata.name !== b.metadata.name) return a.metadata.name < b.metadata.name ? -1 : 1;
  if (a.metadata.namespace !== b.metadata.namespace) return a.metadata.namespace < b.metadata.namespace ? -1 : 1;
  return a.order - b.order;
}

export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

export function strMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  // Own properties for every key, `__proto__` included (`out[k] = ...` would set the prototype and drop the label).
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
}
