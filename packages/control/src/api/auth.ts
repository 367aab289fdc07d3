/**
 * Who is calling and what they may do. Two principals: the admin (bearer admin token),
 * allowed everything, and a join token (scoped to a namespace and service account, with
 * expiry, stored only as its sha256): it may read in its own namespace, register workloads
 * into its own namespace's WorkloadGroups with its own service account (checked in
 * registerWorkload), heartbeat, watch, ack and deregister workloads of its namespace that run
 * as its service account (authorizeWorkload), get a certificate for its own SPIFFE ID
 * (checked in signCertificate) and read the trust bundle; nothing else (403).
 * No token ever appears in an error message or a log line.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sha256 } from '../store/keys.js';
import type { ControlStore } from '../store/types.js';
import { ApiError } from './http.js';

/** `tokenHash`: the sha256 of the join token (what rate limits are keyed by; never the token). */
export type JoinPrincipal = { kind: 'join'; namespace: string; serviceAccount: string; tokenHash: string };
export type Principal = { kind: 'admin' } | JoinPrincipal;

/** What a request does to one registered workload. */
export type WorkloadOperation = 'heartbeat' | 'watch' | 'ack' | 'deregister';

/** How a refusal words each workload operation: "may not <...> workload shop/x". */
const WORKLOAD_OPERATION_WORDS: Record<WorkloadOperation, string> = {
  heartbeat: 'send heartbeats for',
  watch: 'watch',
  ack: 'acknowledge snapshots for',
  deregister: 'deregister',
};

/**
 * What a request does: `read` resources or workloads (in `namespace`; undefined = all
 * namespaces), `write` resources, `admin` (tokens), `register` a workload (scope checked
 * once the body is read), `workload` (`operation` on a workload of `namespace`; its service
 * account is checked once the workload is loaded, see authorizeWorkload), `sign` a CSR (the
 * identity is checked against the token's scope once the CSR is read), `trust` (read the
 * trust bundle: any valid token).
 */
export type Action = { verb: 'read' | 'write' | 'admin' | 'register' | 'workload' | 'sign' | 'trust'; namespace?: string | undefined; operation?: WorkloadOperation | undefined };

/** The prefix of every join token, so a leaked one is recognisable (secret scanners). */
export const JOIN_TOKEN_PREFIX = 'mwj_';

const UNAUTHENTICATED_HEADERS = { 'www-authenticate': 'Bearer realm="meshwork"' };

/** The admin token's digest, kept instead of the token so comparisons take constant time. */
export function adminTokenDigest(adminToken: string): Buffer {
  return sha256(adminToken);
}

/** The bearer token of a request, or undefined. The token is never logged or echoed. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m?.[1];
}

export async function authenticate(req: IncomingMessage, adminDigest: Buffer, store: ControlStore, nowMs: number): Promise<Principal> {
  const token = bearerToken(req);
  if (token === undefined) {
    throw new ApiError(401, 'unauthenticated', 'this endpoint needs Authorization: Bearer <token>', {}, UNAUTHENTICATED_HEADERS);
  }
  // One digest per request: compared with the admin token's in constant time (so neither the
  // token nor its length leaks), and the store's key for a join token.
  const d = sha256(token);
  if (timingSafeEqual(d, adminDigest)) return { kind: 'admin' };
  if (token.startsWith(JOIN_TOKEN_PREFIX)) {
    const tokenHash = d.toString('hex');
    const record = await store.findToken(tokenHash);
    if (record) {
      if (nowMs >= record.expiresAtMs) {
        throw new ApiError(401, 'unauthenticated', 'the join token has expired; create a new one (meshwork token create)', { reason: 'expired' }, UNAUTHENTICATED_HEADERS);
      }
      return { kind: 'join', namespace: record.namespace, serviceAccount: record.serviceAccount, tokenHash };
    }
  }
  throw new ApiError(401, 'unauthenticated', 'the bearer token is not valid', {}, UNAUTHENTICATED_HEADERS);
}

export function forbidden(p: JoinPrincipal, what: string): ApiError {
  return new ApiError(403, 'forbidden', `a join token scoped to namespace "${p.namespace}", service account "${p.serviceAccount}" may not ${what}`, {
    scope: { namespace: p.namespace, serviceAccount: p.serviceAccount },
  });
}

/** Throws 403 `forbidden` when the principal may not perform the action. */
export function authorize(principal: Principal, action: Action): void {
  if (principal.kind === 'admin') return;
  const own = action.namespace === principal.namespace;
  switch (action.verb) {
    case 'read':
      if (!own) throw forbidden(principal, action.namespace === undefined ? 'read across namespaces (add ?namespace=' + principal.namespace + ')' : `read in namespace "${action.namespace}"`);
      return;
    case 'register':
      return; // checked by registerWorkload against the WorkloadGroup
    case 'sign':
      return; // checked by signCertificate against the CSR
    case 'trust':
      return; // the trust bundle is public to every valid token
    case 'workload':
      if (!own) throw forbidden(principal, `${action.operation ? WORKLOAD_OPERATION_WORDS[action.operation] : 'act on'} workloads outside its namespace`);
      return; // and only those of its service account: authorizeWorkload, once the workload is loaded
    case 'write':
      throw forbidden(principal, 'apply or delete resources');
    case 'admin':
      throw forbidden(principal, 'create or revoke tokens');
  }
}

/**
 * Throws 403 `forbidden` when a join token may not perform `operation` on this workload: one
 * of its namespace (checked by `authorize` first) that runs as another service account. A
 * token acts for one identity, and a workload's snapshots, health and ACKs are that identity's.
 */
export function authorizeWorkload(principal: Principal, workload: { id: string; serviceAccount: string }, operation: WorkloadOperation): void {
  if (principal.kind === 'admin' || workload.serviceAccount === principal.serviceAccount) return;
  throw forbidden(principal, `${WORKLOAD_OPERATION_WORDS[operation]} workload ${workload.id}, which runs as service account "${workload.serviceAccount}"`);
}
