import type { ResourceKey } from './types.js';

/** Stable reasons a store operation fails; the HTTP layer maps them to status codes. */
export type StoreErrorReason =
  /** A stale expected resourceVersion (HTTP 409). */
  | 'conflict'
  /** A document or argument the store cannot keep (HTTP 400). */
  | 'invalid'
  /** changesSince asked for a revision older than the kept history (HTTP 410, as etcd/Kubernetes). */
  | 'compacted'
  /** The database was written by a newer schema than this build knows. */
  | 'schema_too_new'
  /** The backend is missing (e.g. node:sqlite on an old Node). */
  | 'unavailable';

/** gRPC numbering, as MeshError in @meshwork/core (the control service does not import it). */
const CODES: Record<StoreErrorReason, number> = { conflict: 10, invalid: 3, compacted: 11, schema_too_new: 9, unavailable: 14 };

const BRAND = Symbol.for('@meshwork/StoreError');

export interface StoreErrorInit {
  reason: StoreErrorReason;
  /** The resource concerned (conflict, invalid). */
  key?: ResourceKey | undefined;
  /** For conflicts: the version the caller expected and the one the store holds (`'0'` = absent). */
  expected?: string | undefined;
  actual?: string | undefined;
  /** For `compacted`: the oldest revision changesSince can still answer. */
  compactedRevision?: number | undefined;
  cause?: unknown;
}

/** The one error type of the store; `instanceof` survives duplicate installs. */
export class StoreError extends Error {
  readonly reason: StoreErrorReason;
  /** gRPC-numbered code (conflict = 10 aborted, invalid = 3, compacted = 11 out_of_range). */
  readonly code: number;
  readonly key: ResourceKey | undefined;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  readonly compactedRevision: number | undefined;

  constructor(message: string, init: StoreErrorInit) {
    super(`[${init.reason}] ${message}`, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'StoreError';
    this.reason = init.reason;
    this.code = CODES[init.reason];
    this.key = init.key;
    this.expected = init.expected;
    this.actual = init.actual;
    this.compactedRevision = init.compactedRevision;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
  }
}
