/**
 * SPIFFE IDs in Istio's form, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`
 * (reference §12), their principal form without `spiffe://` (what AuthorizationPolicy
 * `principals` match), and trust domain aliases.
 */
import type { MeshConfig } from '@meshwork/policy';
import { IdentityError } from './errors.js';

/** The parts of an Istio SPIFFE ID. */
export interface SpiffeIdParts {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/**
 * Trust domains that name the same mesh: either every name of the group
 * (`['cluster.local', 'old.example']`), or the mesh config itself, whose `trustDomain` and
 * `trustDomainAliases` form the group.
 */
export type TrustDomainAliases = readonly string[] | Pick<MeshConfig, 'trustDomain' | 'trustDomainAliases'>;

const PREFIX = 'spiffe://';
// SPIFFE ID spec §2.1/§2.2: trust domain [a-z0-9._-], path segments [A-Za-z0-9._-].
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;
// The SPIFFE spec bounds a URI SAN at 2048 bytes; refusing longer input early also bounds work.
const MAX_LENGTH = 2048;

function invalid(text: string, problem: string): IdentityError {
  return new IdentityError(`invalid SPIFFE ID ${JSON.stringify(text)}: ${problem}`, { reason: 'invalid_spiffe_id' });
}

/**
 * Istio's trust domain normalisation (`spiffe.go`: `@` becomes `.`), so a domain written as
 * `example@corp` in mesh config names `example.corp` in certificates.
 */
export function normalizeTrustDomain(trustDomain: string): string {
  return trustDomain.replaceAll('@', '.');
}

function checkTrustDomain(td: string, text: string): void {
  if (td === '') throw invalid(text, 'the trust domain is empty; write spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>, e.g. spiffe://cluster.local/ns/default/sa/default');
  if (!TRUST_DOMAIN.test(td)) {
    const hint = td.includes('@') ? ' ("@" is written "." in a SPIFFE ID, as Istio does: use normalizeTrustDomain)'
      : /[A-Z]/.test(td) ? ' (write the trust domain in lower case)'
      : td.includes(':') ? ' (a SPIFFE ID has no port)' : '';
    throw invalid(text, `the trust domain ${JSON.stringify(td)} may only contain a-z, 0-9, ".", "-" and "_"${hint}`);
  }
}

function checkSegment(value: string, what: string, text: string): void {
  if (value === '') throw invalid(text, `the ${what} is empty`);
  if (value === '.' || value === '..' || !SEGMENT.test(value)) {
    throw invalid(text, `the ${what} ${JSON.stringify(value)} may only contain letters, digits, ".", "-" and "_" and may not be "." or ".."`);
  }
}

/**
 * Builds `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`. The trust domain is
 * normalised (`@` → `.`) as Istio does; every part is validated.
 *
 * @example
 * ```ts
 * formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' });
 * // 'spiffe://cluster.local/ns/default/sa/reviews'
 * ```
 */
export function formatSpiffeId(parts: SpiffeIdParts): string {
  const td = normalizeTrustDomain(parts.trustDomain);
  const text = `${PREFIX}${td}/ns/${parts.namespace}/sa/${parts.serviceAccount}`;
  checkTrustDomain(td, text);
  checkSegment(parts.namespace, 'namespace', text);
  checkSegment(parts.serviceAccount, 'service account', text);
  return text;
}

/**
 * Parses an Istio SPIFFE ID. Throws an {@link IdentityError} (`invalid_spiffe_id`) that says
 * what is wrong and what the form is.
 */
export function parseSpiffeId(text: string): SpiffeIdParts {
  if (typeof text !== 'string') throw invalid(String(text), 'not a string');
  if (text.length > MAX_LENGTH) throw invalid(`${text.slice(0, 64)}…`, `longer than ${MAX_LENGTH} characters`);
  if (!text.startsWith(PREFIX)) {
    const hint = /^spiffe:\/\//i.test(text) ? 'the scheme must be written in lower case' : /^[^/:]+\/ns\//.test(text) ? 'this looks like a principal: add "spiffe://" or use fromPrincipal()' : 'it must start with "spiffe://"';
    throw invalid(text, hint);
  }
  const rest = text.slice(PREFIX.length);
  if (/[?#]/.test(rest)) throw invalid(text, 'a SPIFFE ID has no query or fragment');
  const slash = rest.indexOf('/');
  const td = slash < 0 ? rest : rest.slice(0, slash);
  checkTrustDomain(td, text);
  const segs = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (segs.length !== 4 || segs[0] !== 'ns' || segs[2] !== 'sa') {
    throw invalid(text, `the path must be /ns/<namespace>/sa/<service-account>, got ${JSON.stringify(slash < 0 ? '' : rest.slice(slash))}`);
  }
  checkSegment(segs[1]!, 'namespace', text);
  checkSegment(segs[3]!, 'service account', text);
  return { trustDomain: td, namespace: segs[1]!, serviceAccount: segs[3]! };
}

/** Like {@link parseSpiffeId} but returns undefined instead of throwing (for peer input on a hot path). */
export function tryParseSpiffeId(text: string | undefined): SpiffeIdParts | undefined {
  if (text === undefined) return undefined;
  try { return parseSpiffeId(text); } catch { return undefined; }
}

/**
 * The principal form AuthorizationPolicy `principals` use: the SPIFFE ID without `spiffe://`
 * (`cluster.local/ns/default/sa/reviews`). Validates the ID.
 */
export function toPrincipal(spiffeId: string): string {
  parseSpiffeId(spiffeId);
  return spiffeId.slice(PREFIX.length);
}

/** The SPIFFE ID of a principal (`cluster.local/ns/default/sa/reviews`). Validates the result. */
export function fromPrincipal(principal: string): string {
  const id = PREFIX + principal;
  parseSpiffeId(id);
  return id;
}

/** The normalised trust domain names of an alias group. */
export function trustDomainGroup(aliases: TrustDomainAliases | undefined): Set<string> {
  if (aliases === undefined) return new Set();
  const names = Array.isArray(aliases) ? (aliases as readonly string[])
    : [(aliases as Pick<MeshConfig, 'trustDomain'>).trustDomain, ...(aliases as Pick<MeshConfig, 'trustDomainAliases'>).trustDomainAliases];
  return new Set(names.map(normalizeTrustDomain));
}

/**
 * Whether two SPIFFE IDs name the same workload identity: equal, or the same namespace and
 * service account in two trust domains of one alias group (Istio's `trustDomainAliases`).
 */
export function sameIdentity(a: string, b: string, aliases?: TrustDomainAliases): boolean {
  if (a === b) return true;
  const pa = tryParseSpiffeId(a);
  const pb = tryParseSpiffeId(b);
  if (!pa || !pb || pa.namespace !== pb.namespace || pa.serviceAccount !== pb.serviceAccount) return false;
  const group = trustDomainGroup(aliases);
  return group.has(pa.trustDomain) && group.has(pb.trustDomain);
}

/**
 * Istio's `ExpandWithTrustDomains`: each SPIFFE ID whose trust domain is in the group, repeated
 * in every other domain of the group (order kept, no duplicates). Other entries pass through.
 */
export function expandTrustDomains(ids: readonly string[], aliases: TrustDomainAliases): string[] {
  const group = trustDomainGroup(aliases);
  const out = new Set<string>();
  for (const id of ids) {
    out.add(id);
    const p = tryParseSpiffeId(id);
    if (!p || !group.has(p.trustDomain)) continue;
    for (const td of group) out.add(`${PREFIX}${td}/ns/${p.namespace}/sa/${p.serviceAccount}`);
  }
  return [...out];
}
