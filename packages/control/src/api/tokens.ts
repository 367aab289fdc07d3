/**
 * Join tokens (admin only): `POST /v1/tokens` creates one scoped to a namespace and service
 * account, with an expiry; only its sha256 is stored and the token itself is returned once.
 * `DELETE /v1/tokens/{hash}` revokes one by that sha256.
 */
import { randomBytes } from 'node:crypto';
import { hashToken, TOKEN_HASH } from '../store/keys.js';
import type { ControlStore } from '../store/types.js';
import { JOIN_TOKEN_PREFIX } from './auth.js';
import { ApiError } from './http.js';
import type { JsonReply } from './resources.js';

export const DEFAULT_TOKEN_TTL_SECONDS = 24 * 60 * 60;
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;

const FIELDS = new Set(['namespace', 'serviceAccount', 'ttlSeconds']);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function bad(message: string): ApiError {
  return new ApiError(400, 'invalid', message);
}

/** A new raw join token: the prefix and 32 random bytes, base64url. */
export function newJoinToken(): string {
  return JOIN_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export async function createToken(store: ControlStore, body: Buffer, nowMs: number): Promise<JsonReply> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'malformed', `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the body must be a JSON object { namespace, serviceAccount, ttlSeconds? }');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw bad(`unknown field${unknown.length === 1 ? '' : 's'}: ${unknown.slice(0, 5).join(', ')}`);
  const { namespace, serviceAccount } = o;
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace)) throw bad('namespace must be a DNS-1123 label (lower-case letters, digits, "-"; at most 63)');
  if (typeof serviceAccount !== 'string' || serviceAccount.length > 253 || !DNS1123_SUBDOMAIN.test(serviceAccount)) throw bad('serviceAccount must be a DNS-1123 subdomain');
  const ttl = o.ttlSeconds === undefined ? DEFAULT_TOKEN_TTL_SECONDS : o.ttlSeconds;
  if (!Number.isInteger(ttl) || (ttl as number) < 1 || (ttl as number) > MAX_TOKEN_TTL_SECONDS) {
    throw bad(`ttlSeconds must be an integer from 1 to ${MAX_TOKEN_TTL_SECONDS} (30 days); default ${DEFAULT_TOKEN_TTL_SECONDS} (24 h)`);
  }
  const token = newJoinToken();
  const hash = hashToken(token);
  const expiresAtMs = nowMs + (ttl as number) * 1000;
  await store.putToken({ hash, namespace, serviceAccount, expiresAtMs, createdAtMs: nowMs });
  return { status: 201, body: { token, hash, namespace, serviceAccount, expiresAt: new Date(expiresAtMs).toISOString() } };
}

export async function revokeToken(store: ControlStore, hash: string): Promise<JsonReply> {
  if (!TOKEN_HASH.test(hash)) throw bad('a join token is revoked by its sha256 (64 lower-case hex characters), not by the token itself');
  if (!(await store.deleteToken(hash))) throw new ApiError(404, 'not_found', 'no join token has this hash (revoked already, or never created)');
  return { status: 200, body: { hash, status: 'revoked' } };
}
