/**
 * One error type for everything the mesh refuses or fails, with a gRPC-numbered code, a
 * stable reason, and Envoy's response flag, so logs and metrics read as they do in Istio.
 */

/** Envoy response flags (reference §9). */
export type ResponseFlag = 'UH' | 'UF' | 'UO' | 'NR' | 'NC' | 'URX' | 'UT' | 'UC' | 'UR' | 'LR' | 'DC' | 'DI' | 'FI' | 'RL' | 'UAEX' | 'DPE' | 'UPE' | 'SI';

/** gRPC status codes (the numbering connect-es and grpc-js use). */
export const Code = {
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const CODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k.replace(/[A-Z]/g, (c, i) => (i ? '_' : '') + c).toLowerCase()]));

const BRAND = Symbol.for('@meshwork/MeshError');

export interface MeshErrorInit {
  code: Code;
  /** Stable machine-readable reason, e.g. `no_healthy_upstream`. */
  reason: string;
  flag?: ResponseFlag | undefined;
  /** HTTP status of the equivalent Envoy local reply. */
  status?: number | undefined;
  cause?: unknown;
}

export class MeshError extends Error {
  readonly code: Code;
  readonly reason: string;
  readonly flag: ResponseFlag | undefined;
  readonly status: number | undefined;

  constructor(message: string, init: MeshErrorInit) {
    super(`[${CODE_NAMES[init.code] ?? init.code}] ${message}`, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'MeshError';
    this.code = init.code;
    this.reason = init.reason;
    this.flag = init.flag;
    this.status = init.status;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that survives two copies of the package in one process. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
  }

  /** Normalises anything thrown into a MeshError (unknown errors keep the original as cause). */
  static from(e: unknown): MeshError {
    if (e instanceof MeshError) return e;
    return new MeshError(e instanceof Error ? e.message : String(e), { code: Code.Unknown, reason: 'unknown', cause: e });
  }
}
