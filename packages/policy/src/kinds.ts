/**
 * The kinds Meshwork reads, taken from Istio's CRD bundle at build time
 * (scripts/gen-schemas.js), so every API version Istio serves is known without a hand list.
 */
import crds from './generated/crds.json' with { type: 'json' };

export interface CrdVersion {
  served: boolean;
  storage: boolean;
  deprecated: boolean;
  schema: JsonSchema;
}

/** The subset of OpenAPI v3 (Kubernetes structural schema) that Istio's CRDs use. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  not?: JsonSchema;
  nullable?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string; messageExpression?: string; fieldPath?: string; reason?: string; optionalOldSelf?: boolean }[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: string;
  [k: string]: unknown;
}

export interface CrdKind {
  group: string;
  kind: string;
  plural: string;
  versions: Record<string, CrdVersion>;
}

export const ISTIO_KINDS: readonly CrdKind[] = (crds as unknown as { kinds: CrdKind[] }).kinds;

const byGroupKind = new Map<string, CrdKind>(ISTIO_KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

/** The kinds whose behaviour Meshwork applies in-process (others are validated and reported). */
export const APPLIED_KINDS: ReadonlySet<string> = new Set([
  'VirtualService',
  'DestinationRule',
  'ServiceEntry',
  'WorkloadEntry',
  'WorkloadGroup',
  'Sidecar',
  'Gateway',
  'PeerAuthentication',
  'AuthorizationPolicy',
  'RequestAuthentication',
  'Telemetry',
]);

export function findCrd(group: string, kind: string): CrdKind | undefined {
  return byGroupKind.get(`${group}/${kind}`);
}

/** True for API groups that belong to Istio (`*.istio.io`). */
export function isIstioGroup(group: string): boolean {
  return group === 'istio.io' || group.endsWith('.istio.io');
}
