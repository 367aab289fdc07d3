/**
 * How a failed request ends, decided once for every adapter: which attempt outcome a
 * network error is, which local reply (status, body, Envoy flags) Envoy gives for it, and
 * the MeshError an adapter throws instead when asked to.
 */
import { LOCAL_REPLY } from '@meshwork/policy';
import { Code, MeshError, type ResponseFlag } from './errors.js';
import type { AttemptOutcome } from './retry.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * TLS handshake failures (OpenSSL verify codes as Node reports them, Node's TLS errors, our
 * secure-naming check): to Envoy these are connection failures with a transport failure reason.
 */
const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_CA|HOSTNAME_MISMATCH)/;

export function isTlsError(err: { code?: string | undefined; reason?: unknown }): boolean {
  // @meshwork/identity's secure-naming error carries a reason, not a code; so do ours for TLS
  // that cannot be set up (no workload certificate, unreadable DestinationRule files).
  return (err.code !== undefined && TLS_ERROR.test(err.code)) || err.reason === 'secure_naming_mismatch' || err.reason === 'no_identity' || err.reason === 'tls_file';
}

/** The outcome of an attempt that ended in an error (Node socket and undici codes). */
export function outcomeOfError(err: { code?: string | undefined; message?: string | undefined; reason?: unknown }, requestSent: boolean, perTryTimedOut: boolean): AttemptOutcome {
  if (perTryTimedOut) return { kind: 'failure', reason: 'timeout', beforeRequestSent: !requestSent };
  if (err.code && CONNECT_ERRORS.has(err.code)) return { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true };
  if (isTlsError(err)) return { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true, transportFailure: `TLS_error: ${err.code ? `${err.code}: ` : ''}${err.message ?? ''}`.trim() };
  return { kind: 'failure', reason: 'reset', beforeRequestSent: !requestSent };
}

export interface FailureReply {
  status: number;
  body: string;
  flags: ResponseFlag[];
  /** Response headers Envoy adds to this reply. */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** No endpoint to send an attempt to (503 UH). Shared: callers copy the flags they keep. */
export const NO_HEALTHY_UPSTREAM: FailureReply = Object.freeze({ status: 503, body: LOCAL_REPLY.noHealthyUpstream, flags: Object.freeze(['UH']) as ResponseFlag[] });

/** The circuit breaker refused an attempt (503 UO, `x-envoy-overloaded: true`). Shared, as above. */
export const OVERFLOW: FailureReply = Object.freeze({ status: 503, body: LOCAL_REPLY.overflow, flags: Object.freeze(['UO']) as ResponseFlag[], headers: Object.freeze({ 'x-envoy-overloaded': 'true' }) });

/** Envoy's local reply when the last attempt failed (reference §9), URX when retries ran out. */
export function failureReply(outcome: AttemptOutcome, retried: boolean): FailureReply {
  const urx = (f: ResponseFlag): ResponseFlag[] => (retried ? [f, 'URX'] : [f]);
  if (outcome.kind === 'response') return { status: 503, body: LOCAL_REPLY.connectionTermination, flags: urx('UC') };
  if (outcome.reason === 'timeout') return { status: 504, body: LOCAL_REPLY.upstreamTimeout, flags: urx('UT') };
  const connect = outcome.reason === 'connect-failure';
  let body: string = connect ? LOCAL_REPLY.connectionFailure : LOCAL_REPLY.connectionTermination;
  // Envoy appends why the transport failed (a TLS handshake, secure naming) to the reset reason.
  if (outcome.transportFailure) body = `${body}, transport failure reason: ${outcome.transportFailure}`;
  return {
    status: 503,
    body: retried ? body.replace('before headers.', 'before headers. retried and the latest') : body,
    flags: urx(connect ? 'UF' : 'UC'),
  };
}

/** The MeshError for a local reply, for adapters configured to throw instead of answering. */
export function localReplyError(status: number, body: string, flags: readonly ResponseFlag[], cause?: unknown): MeshError {
  const code = status === 504 ? Code.DeadlineExceeded : status === 404 ? Code.NotFound : status === 403 ? Code.PermissionDenied : Code.Unavailable;
  return new MeshError(body || `local reply ${status}`, { code, reason: flags[0] ? flags[0].toLowerCase() : `http_${status}`, flag: flags[0], status, cause });
}
