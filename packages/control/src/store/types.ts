/**
 * The control service's store: one small interface with an embedded `node:sqlite`
 * implementation, shaped so that an etcd implementation can take its place. Everything
 * here maps onto etcd primitives: one global revision, compare-mod-revision transactions
 * (put/delete), sorted prefix reads, and a watch from a revision with compaction.
 */

/** Identity of a stored resource. Group and version are not part of it (as in Kubernetes). */
export interface ResourceKey {
  kind: string;
  namespace: string;
  name: string;
}

/** An Istio (or Kubernetes Service) object as plain JSON. */
export interface ResourceDoc {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    /** Set by the store: the global revision of the last write to this object. */
    resourceVersion?: string | undefined;
    /** Set by the store: starts at 1, increments when the spec changes. */
    generation?: number | undefined;
    /**
     * RFC 3339. Set by the store when it creates an object without one; a later document
     * without one keeps the stored value (Kubernetes' semantics; Istio orders conflicting
     * resources by it).
     */
    creationTimestamp?: string | undefined;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** A resource as the store returns it: resourceVersion, generation and creationTimestamp always set. */
export interface StoredResource extends ResourceDoc {
  metadata: ResourceDoc['metadata'] & { resourceVersion: string; generation: number; creationTimestamp: string };
}

/**
 * Expected resourceVersions, keyed by `Kind/namespace/name` (see `resourceKeyString`).
 * `'0'` means "must not exist yet" (etcd: mod_revision == 0).
 */
export type ExpectedVersions = Readonly<Record<string, string>>;

export interface ApplyOptions {
  expected?: ExpectedVersions | undefined;
}

/** kubectl's words for what an apply did to one object. */
export type ApplyStatus = 'created' | 'configured' | 'unchanged';

export interface ApplyResult {
  /** The store's revision after the batch (unchanged when nothing changed). */
  revision: number;
  results: Array<{ key: ResourceKey; status: ApplyStatus; resourceVersion: string; generation: number }>;
}

export interface DeleteResult {
  revision: number;
  results: Array<{ key: ResourceKey; status: 'deleted' | 'not-found' }>;
}

export interface ListFilter {
  kind?: string | undefined;
  namespace?: string | undefined;
}

/** A registered workload (WorkloadEntry auto-registration). */
export interface WorkloadInput {
  /** Stable id chosen by the control service (e.g. `<namespace>/<name>-<address>`). */
  id: string;
  namespace: string;
  name: string;
  address: string;
  /** Port name → number, as in WorkloadEntry. */
  ports: Record<string, number>;
  labels: Record<string, string>;
  serviceAccount: string;
  /** `region/zone/subzone`, `''` when unknown. */
  locality: string;
  /** The WorkloadGroup it registered against. */
  group?: string | undefined;
  /** WorkloadEntry `network` (from the WorkloadGroup template). */
  network?: string | undefined;
  /** WorkloadEntry `weight` (from the WorkloadGroup template); absent means 1. */
  weight?: number | undefined;
}

export interface Workload extends WorkloadInput {
  /** Milliseconds since the epoch. Health is computed by the caller against its TTL. */
  lastHeartbeatMs: number;
  /** The revision of the last change to the registration (not to the heartbeat). */
  revision: number;
}

export interface UpsertWorkloadResult {
  revision: number;
  status: ApplyStatus;
}

/** One entry of the change feed. Changes of one batch share a revision, in batch order. */
export type Change =
  | { revision: number; type: 'resource'; op: 'put'; key: ResourceKey; resource: StoredResource }
  | { revision: number; type: 'resource'; op: 'delete'; key: ResourceKey }
  | { revision: number; type: 'workload'; op: 'put'; id: string; workload: Workload }
  | { revision: number; type: 'workload'; op: 'delete'; id: string };

export interface ChangesResult {
  /** The store's current revision; resume from it next time. */
  revision: number;
  /** Changes with revision greater than the one asked for, oldest first. */
  changes: Change[];
}

/** A join token as stored: only its sha256, never the token itself. */
export interface JoinTokenRecord {
  /** Lower-case hex sha256 of the raw token (see `hashToken`). */
  hash: string;
  namespace: string;
  serviceAccount: string;
  expiresAtMs: number;
  createdAtMs: number;
}

export interface AckInput {
  /** Workload id. */
  workload: string;
  /** Snapshot version the workload reports on. */
  version: string;
  /** Present when the workload rejected the version (NACK): its error text. */
  nack?: string | undefined;
  atMs: number;
}

/** The latest report of a workload, plus its latest successful ACK. */
export interface AckRecord extends AckInput {
  ackedVersion?: string | undefined;
  ackedAtMs?: number | undefined;
}

export interface ControlStore {
  /** All-or-nothing: one transaction, one revision for every changed document. */
  applyBatch(docs: readonly ResourceDoc[], options?: ApplyOptions): Promise<ApplyResult>;
  /** All-or-nothing; a missing key is reported `not-found` unless an expected version was given. */
  deleteBatch(keys: readonly ResourceKey[], options?: ApplyOptions): Promise<DeleteResult>;
  get(key: ResourceKey): Promise<StoredResource | undefined>;
  /** Sorted by kind, namespace, name (etcd's key order). */
  list(filter?: ListFilter): Promise<StoredResource[]>;
  /** The global revision: 0 for an empty store, +1 per write that changed something. */
  revision(): Promise<number>;

  upsertWorkload(workload: WorkloadInput, atMs?: number): Promise<UpsertWorkloadResult>;
  /** Refreshes lastHeartbeat without a revision; false when the workload is unknown. */
  heartbeat(id: string, atMs: number): Promise<boolean>;
  /** False when the workload was not registered. Its acks go with it. */
  deleteWorkload(id: string): Promise<boolean>;
  /** One workload by id (etcd: a single-key get), undefined when not registered. */
  getWorkload(id: string): Promise<Workload | undefined>;
  listWorkloads(): Promise<Workload[]>;

  /** etcd watch semantics; throws `StoreError` reason `compacted` below the kept history. */
  changesSince(revision: number): Promise<ChangesResult>;

  putToken(token: JoinTokenRecord): Promise<void>;
  findToken(hash: string): Promise<JoinTokenRecord | undefined>;
  deleteToken(hash: string): Promise<boolean>;

  recordAck(ack: AckInput): Promise<void>;
  listAcks(): Promise<AckRecord[]>;

  close(): Promise<void>;
}
