/**
 * Who is calling and what they may do. Today there is one principal, the admin (bearer
 * admin token), allowed everything. Join tokens (scoped to a namespace and service account,
 * with expiry, stored hashed) plug in at `authenticate` (look the sha256 up in the store)
 * and `authorize` (403 `forbidden` outside the token's scope).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './http.js';

export type Principal = { kind: 'admin' };

export type Action = { verb: 'read' | 'write'; namespace?: string | undefined };

const UNAUTHENTICATED_HEADERS = { 'www-authenticate': 'Bearer realm="meshwork"' };

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Compares tokens in constant time (over their sha256 digests, so lengths do not leak). */
export function tokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

export function adminTokenDigest(adminToken: string): Buffer {
  return digest(adminToken);
}

/** The bearer token of a request, or undefined. The token is never logged or echoed. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m?.[1];
}

export function authenticate(req: IncomingMessage, adminDigest: Buffer): Principal {
  const token = bearerToken(req);
  if (token === undefined) {
    throw new ApiError(401, 'unauthenticated', 'this endpoint needs Authorization: Bearer <token>', {}, UNAUTHENTICATED_HEADERS);
  }
  if (tokenMatches(token, adminDigest)) return { kind: 'admin' };
  // Join tokens: hashToken(token) → store.findToken → { kind: 'join', namespace, serviceAccount }.
  throw new ApiError(401, 'unauthenticated', 'the bearer token is not valid', {}, UNAUTHENTICATED_HEADERS);
}

/** Throws 403 `forbidden` when the principal may not perform the action. */
export function authorize(principal: Principal, _action: Action): void {
  switch (principal.kind) {
    case 'admin':
      return;
    // case 'join': read only, in its own namespace → otherwise
    //   throw new ApiError(403, 'forbidden', `a join token for ${ns} may not ${verb} ...`);
  }
}
