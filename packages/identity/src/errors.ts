/**
 * The one error type of `@meshwork/identity`. It cannot be core's `MeshError` (core depends on
 * this package, not the other way round), so it carries a stable `reason` that the data plane
 * maps onto a `MeshError` and an Envoy response flag (a secure-naming failure becomes `UF`).
 */

/** Stable reasons: a public contract, like undici's `UND_ERR_*` codes. */
export type IdentityErrorReason =
  /** A string is not an Istio SPIFFE ID `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`. */
  | 'invalid_spiffe_id'
  /** The peer's SPIFFE ID is not one of the identities allowed for the destination (flag UF). */
  | 'secure_naming_mismatch'
  /** A CSR could not be parsed, its signature is wrong, or its key is too weak. */
  | 'invalid_csr'
  /** A PEM certificate or key could not be parsed, or does not fit what it is used for. */
  | 'invalid_certificate'
  /** A chain does not lead to a trusted root. */
  | 'untrusted_certificate'
  /** A certificate of the chain is past its notAfter. */
  | 'certificate_expired'
  /** A certificate of the chain is before its notBefore. */
  | 'certificate_not_yet_valid'
  /** CA files (`ca-cert.pem`, `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`) are missing or inconsistent. */
  | 'invalid_ca_files'
  /** Workload certificate files (`cert-chain.pem`, `key.pem`, `root-cert.pem`) are missing or inconsistent. */
  | 'invalid_certificate_files'
  /** The signer refused or failed; the source keeps serving its current certificate and retries. */
  | 'signing_failed'
  /** An option has a value that cannot work. */
  | 'invalid_option'
  /** The source or CA was used after `close()`. */
  | 'closed';

export interface IdentityErrorInit {
  reason: IdentityErrorReason;
  /** The file the problem is in, when there is one. */
  file?: string | undefined;
  /** Secure naming: the identities that would have been accepted. */
  expected?: readonly string[] | undefined;
  /** Secure naming: the identity the peer presented (undefined: none). */
  presented?: string | undefined;
  cause?: unknown;
}

const BRAND = Symbol.for('@meshwork/IdentityError');

/**
 * Raised (or, for secure naming, returned) by everything in this package. Messages name the
 * file or field and the fix; they never contain key material.
 *
 * @example
 * ```ts
 * try { parseSpiffeId('spiffe://cluster.local/ns/default'); }
 * catch (e) { if (e instanceof IdentityError && e.reason === 'invalid_spiffe_id') ... }
 * ```
 */
export class IdentityError extends Error {
  readonly reason: IdentityErrorReason;
  readonly file: string | undefined;
  readonly expected: readonly string[] | undefined;
  readonly presented: string | undefined;

  constructor(message: string, init: IdentityErrorInit) {
    super(message, init.cause !== undefined ? { cause: init.cause } : undefined);
    this.name = 'IdentityError';
    this.reason = init.reason;
    this.file = init.file;
    this.expected = init.expected;
    this.presented = init.presented;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that survives two copies of the package in one process. */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Message of anything thrown, for wrapping into an IdentityError (library messages hold no key bytes). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
