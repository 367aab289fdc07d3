/** Istio host names: short-name expansion, wildcard matching, specificity (§0.3 of the reference). */
import type { MeshConfig } from '../mesh.js';

/**
 * Expands a host written in a resource of namespace `ns`: a name without a dot becomes
 * `<name>.<ns>.svc.<domain>`; names with a dot, `*` and IPs are used verbatim
 * (pkg/config/host: ResolveToFQDN / model.ResolveShortnameToFQDN).
 */
export function resolveShortName(host: string, ns: string, mesh: Pick<MeshConfig, 'domainSuffix'>): string {
  const h = host.toLowerCase();
  if (h === '*' || h.includes('.') || h.includes(':')) return h;
  if (/^\d+$/.test(h)) return h;
  return `${h}.${ns}.svc.${mesh.domainSuffix}`;
}

export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/** Does the pattern (`*.example.com`, `*`, or an exact name) match the concrete host? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

/**
 * Orders candidate patterns for a host: exact first, then longer (more specific) wildcards.
 * Returns the best pattern among `patterns` that matches `host`, or undefined.
 */
export function mostSpecificMatch(patterns: Iterable<string>, host: string): string | undefined {
  let best: string | undefined;
  for (const p of patterns) {
    if (!hostMatches(p, host)) continue;
    if (p === host) return p;
    if (best === undefined || p.length > best.length) best = p;
  }
  return best;
}

/** The host part of an authority, lower-case, without `:port` or a trailing dot (hot path: no object). */
export function hostOfAuthority(authority: string): string {
  let end = authority.length;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    end = authority.indexOf(']') + 1 || authority.length;
  } else {
    const c = authority.indexOf(':');
    if (c >= 0 && authority.indexOf(':', c + 1) < 0) end = c;
  }
  if (end > 0 && authority.charCodeAt(end - 1) === 46 /* . */) end--;
  const h = end === authority.length ? authority : authority.slice(0, end);
  return h.toLowerCase();
}

