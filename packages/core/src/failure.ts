/**
 * How a failed request ends, decided once for every adapter: which attempt outcome a
 * network error is, which local reply (status, body, Envoy flags) Envoy gives for it, and
 * the MeshError an adapter throws instead when asked to.
 */
import { LOCAL_REPLY } from '@meshwork/policy';
import { Code, MeshError, type ResponseFlag } from './errors.js';
import type { AttemptOutcome } from './retry.js';

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The outcome of an attempt that ended in an error (Node socket and undici codes). */
export function outcomeOfError(err: { code?: string | undefined }, requestSent: boolean, perTryTimedOut: boolean): AttemptOutcome {
  if (perTryTimedOut) return { kind: 'failure', reason: 'timeout', beforeRequestSent: !requestSent };
  if (err.code && CONNECT_ERRORS.has(err.code)) return { kind: 'failure', reason: 'connect-failure', beforeRequestSent: true };
  return { kind: 'failure', reason: 'reset', beforeRequestSent: !requestSent };
}

export interface FailureReply {
  status: number;
  body: string;
  flags: ResponseFlag[];
}

/** Envoy's local reply when the last attempt failed (reference §9), URX when retries ran out. */
export function failureReply(outcome: AttemptOutcome, retried: boolean): FailureReply {
  const urx = (f: ResponseFlag): ResponseFlag[] => (retried ? [f, 'URX'] : [f]);
  if (outcome.kind === 'response') return { status: 503, body: LOCAL_REPLY.connectionTermination, flags: urx('UC') };
  if (outcome.reason === 'timeout') return { status: 504, body: LOCAL_REPLY.upstreamTimeout, flags: urx('UT') };
  const connect = outcome.reason === 'connect-failure';
  const body = connect ? LOCAL_REPLY.connectionFailure : LOCAL_REPLY.connectionTermination;
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
