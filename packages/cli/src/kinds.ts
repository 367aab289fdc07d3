/**
 * Kind names as users type them (kubectl style: `vs`, `virtualservices`,
 * `virtualservice.networking.istio.io`, `VirtualService`) and as kubectl prints them
 * (`virtualservice.networking.istio.io`). The kinds are Istio's (from policy's CRD bundle)
 * plus the Kubernetes Service, which is what the control service keeps.
 */
import { ISTIO_KINDS } from '@meshwork/policy';

export interface KindInfo {
  kind: string;
  /** API group, `''` for core Kubernetes kinds. */
  group: string;
  plural: string;
  shortNames: readonly string[];
}

/** Istio's CRD short names (the CRD bundle policy generates from does not keep them). */
const SHORT_NAMES: Record<string, readonly string[]> = {
  VirtualService: ['vs'],
  DestinationRule: ['dr'],
  Gateway: ['gw'],
  ServiceEntry: ['se'],
  WorkloadEntry: ['we'],
  WorkloadGroup: ['wg'],
  PeerAuthentication: ['pa'],
  RequestAuthentication: ['ra'],
  AuthorizationPolicy: ['ap'],
};

export const KINDS: readonly KindInfo[] = [
  ...ISTIO_KINDS.map((k) => ({ kind: k.kind, group: k.group, plural: k.plural, shortNames: SHORT_NAMES[k.kind] ?? [] })),
  { kind: 'Service', group: '', plural: 'services', shortNames: ['svc'] },
];

const byName = new Map<string, KindInfo>();
for (const k of KINDS) {
  const names = [k.kind, k.plural, ...k.shortNames];
  for (const n of names) {
    byName.set(n.toLowerCase(), k);
    if (k.group) byName.set(`${n}.${k.group}`.toLowerCase(), k);
  }
}
const byKind = new Map(KINDS.map((k) => [k.kind, k]));

/** The kind a user means by `vs`, `virtualservices`, `VirtualService`, `virtualservice.networking.istio.io`... */
export function resolveKind(name: string): KindInfo | undefined {
  return byName.get(name.toLowerCase());
}

/** The kind's entry, for a kind the control service reports. */
export function kindInfo(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** kubectl's resource name: `virtualservice.networking.istio.io`, `service`. */
export function displayKind(kind: string): string {
  const k = byKind.get(kind);
  return k?.group ? `${kind.toLowerCase()}.${k.group}` : kind.toLowerCase();
}

/** One line listing the names `get` accepts, for its usage error. */
export function kindList(): string {
  return KINDS.map((k) => [k.plural, ...k.shortNames].join('|')).join(', ');
}
