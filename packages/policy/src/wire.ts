/**
 * The v1 wire types between the control service and the SDK (DESIGN.md: "the data plane
 * talks to it only through the v1 wire types in policy"). Plain JSON shapes: the control
 * service builds them, the SDK (in @meshwork/core) reads them, neither imports the other.
 */
import type { MeshConfig } from './mesh.js';

export const WIRE_API_VERSION = 'meshwork.dev/v1';

/** An Istio (or Kubernetes Service) object as JSON, as stored and as sent. */
export interface WireResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; [field: string]: unknown };
  [field: string]: unknown;
}

/**
 * Everything a workload of one namespace needs to compile its own Snapshot: the Istio
 * resources visible to that namespace (`viewForNamespace`), the registry's healthy
 * workloads as WorkloadEntries, the mesh settings and the trust bundle. The SDK validates
 * and compiles it locally, so the decisions are made by the same code as with a config
 * folder.
 */
export interface WireSnapshot {
  apiVersion: typeof WIRE_API_VERSION;
  kind: 'Snapshot';
  /** Content hash of `namespace`, `mesh`, `resources` and `trustBundle`: equal content, equal version. */
  version: string;
  /** The store revision the snapshot was built from (for status and logs; not part of the version). */
  revision: number;
  /** The namespace whose view this is. */
  namespace: string;
  mesh: Partial<MeshConfig>;
  /** In a stable order: creation time, then kind/namespace/name. */
  resources: WireResource[];
  /** The trusted roots (PEM), several while a root rotates. */
  trustBundle: string[];
}

/** `POST /v1/workloads/{id}:ack`: what the workload did with a version. */
export interface WireAck {
  version: string;
  /** Present when the workload rejected the version (NACK): the error it met. */
  error?: string | undefined;
}

/** `POST /v1/workloads:register`. */
export interface WireRegistration {
  /** `<namespace>/<WorkloadGroup name>`. */
  group: string;
  address: string;
  ports?: Record<string, number> | undefined;
  labels?: Record<string, string> | undefined;
  locality?: string | undefined;
  serviceAccount?: string | undefined;
  name?: string | undefined;
}

/** `POST /v1/certificates:sign`: a CSR (PEM) for the caller's own SPIFFE identity. */
export interface WireSignRequest {
  csr: string;
  /** Requested lifetime; the CA caps it. */
  ttlSeconds?: number | undefined;
}

export interface WireSignResponse {
  /** The workload certificate, then its intermediates, PEM each. */
  certChain: string[];
  trustBundle: string[];
  /** RFC 3339. */
  notAfter: string;
}

/** Per-workload sync state, as `istioctl proxy-status` reports it. */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT';

export interface WireWorkloadStatus {
  id: string;
  namespace: string;
  healthy: boolean;
  /** A watch stream is open now. */
  connected: boolean;
  state: SyncState;
  /** The version the control service would send now. */
  currentVersion: string;
  /** The last version sent on a watch stream (by this control service). */
  sentVersion?: string | undefined;
  ackedVersion?: string | undefined;
  lastAckAt?: string | undefined;
  nackedVersion?: string | undefined;
  nackError?: string | undefined;
}
