/**
 * Where a rule's tokens are read from, and how they are taken out of the request afterwards
 * (Envoy jwt_authn extractor.cc: ExtractorImpl).
 *
 * - `fromHeaders` (name + prefix), `fromParams`, `fromCookies`; when a rule sets none of them
 *   the default is `Authorization: Bearer <token>` then the query parameter `access_token`.
 * - The prefix is looked for anywhere in the header value (case-sensitive) and the token is
 *   the run of base64url characters and dots that follows it (extractJWT).
 * - Locations are visited headers first, then parameters, then cookies, each sorted by name
 *   (Envoy keeps them in ordered maps), duplicates collapsed.
 * - A parameter or cookie that appears twice yields its first value.
 */
import { findCookie, findQueryParam } from '@meshwork/policy';

/** A header location: lower-cased name and the value prefix to strip (may be empty). */
export interface HeaderLocation {
  name: string;
  prefix: string;
}

export interface TokenLocations {
  headers: readonly HeaderLocation[];
  params: readonly string[];
  cookies: readonly string[];
}

export type TokenPlace = 'header' | 'param' | 'cookie';

/** A token found in the request and where it came from. */
export interface FoundToken {
  token: string;
  from: TokenPlace;
  /** Header (lower-case), parameter or cookie name. */
  name: string;
}

const DEFAULT_HEADER: HeaderLocation = Object.freeze({ name: 'authorization', prefix: 'Bearer ' });
const DEFAULT_PARAM = 'access_token';

/** The string elements of a config list (others and empty strings dropped). */
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/** Sorts as Go and Envoy's ordered maps do: by UTF-16 code unit, not by locale. */
export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The locations of one `jwtRules[]` entry (policy_applier.go: convertToEnvoyJwtConfig; extractor.cc: addProvider). */
export function compileLocations(rule: Record<string, unknown>): TokenLocations {
  const headers = new Map<string, HeaderLocation>();
  for (const h of Array.isArray(rule.fromHeaders) ? rule.fromHeaders : []) {
    if (!h || typeof h !== 'object') continue;
    const name = (h as { name?: unknown }).name;
    if (typeof name !== 'string' || name === '') continue;
    const prefix = (h as { prefix?: unknown }).prefix;
    const loc = { name: name.toLowerCase(), prefix: typeof prefix === 'string' ? prefix : '' };
    headers.set(loc.name + loc.prefix, loc);
  }
  const params = new Set(strings(rule.fromParams));
  const cookies = new Set(strings(rule.fromCookies));
  if (headers.size === 0 && params.size === 0 && cookies.size === 0) {
    return { headers: [DEFAULT_HEADER], params: [DEFAULT_PARAM], cookies: [] };
  }
  return {
    headers: [...headers.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map((e) => e[1]),
    params: [...params].sort(byCodeUnit),
    cookies: [...cookies].sort(byCodeUnit),
  };
}

/** Characters of a JWT: RFC 4648 §5 base64url plus the dot. */
function isJwtChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e;
}

/**
 * extractor.cc extractJWT: skip to the first JWT character at or after `from`, take the run of
 * JWT characters. When there is none, the whole value is returned (Envoy's backwards-compatible
 * behaviour); verification then fails on it.
 */
function extractJwt(value: string, from: number): string {
  let start = from;
  while (start < value.length && !isJwtChar(value.charCodeAt(start))) start++;
  if (start >= value.length) return value;
  let end = start;
  while (end < value.length && isJwtChar(value.charCodeAt(end))) end++;
  return value.slice(start, end);
}

function decodeComponent(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The query pairs of a request target: each pair's decoded name and its raw text. */
function queryPairs(target: string): { name: string; raw: string }[] {
  const q = target.indexOf('?');
  if (q < 0) return [];
  const out: { name: string; raw: string }[] = [];
  for (const raw of target.slice(q + 1).split('&')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    out.push({ name: decodeComponent(eq < 0 ? raw : raw.slice(0, eq)), raw });
  }
  return out;
}

/** Request headers by lower-case name, as node:http gives them (arrays only for repeated headers it does not join). */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's value; repeated values joined with `,` as Envoy's getAllOfHeaderAsString does. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return v === undefined || typeof v === 'string' ? v : v.join(',');
}

/** One request's headers and target; the query and the Cookie header are read only when a rule looks there. */
export class RequestView {
  constructor(
    private readonly headers: HeaderBag,
    readonly target: string,
  ) {}

  /** A header's value; repeated values joined with `,` as Envoy's getAllOfHeaderAsString does. */
  header(name: string): string | undefined {
    return headerValue(this.headers, name);
  }

  param(name: string): string | undefined {
    const q = this.target.indexOf('?');
    return q < 0 ? undefined : findQueryParam(this.target.slice(q + 1), name);
  }

  cookie(name: string): string | undefined {
    return findCookie(this.header('cookie'), name);
  }
}

/** extractor.cc ExtractorImpl::extract: every token at the rule's locations, in Envoy's order. */
export function extractTokens(loc: TokenLocations, view: RequestView): FoundToken[] {
  let out: FoundToken[] | undefined;
  for (const h of loc.headers) {
    const value = view.header(h.name);
    if (value === undefined) continue;
    let token = value;
    if (h.prefix !== '') {
      const pos = value.indexOf(h.prefix);
      if (pos < 0) continue;
      token = extractJwt(value, pos + h.prefix.length);
    }
    (out ??= []).push({ token, from: 'header', name: h.name });
  }
  for (const p of loc.params) {
    const token = view.param(p);
    if (token !== undefined) (out ??= []).push({ token, from: 'param', name: p });
  }
  for (const c of loc.cookies) {
    const token = view.cookie(c);
    if (token !== undefined) (out ??= []).push({ token, from: 'cookie', name: c });
  }
  return out ?? NO_TOKENS;
}

const NO_TOKENS: FoundToken[] = [];

/** The target without any pair whose (decoded) name is in `names`; the other pairs keep their encoding and order. */
export function removeQueryParams(target: string, names: ReadonlySet<string>): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const kept = queryPairs(target).filter((p) => !names.has(p.name)).map((p) => p.raw);
  return kept.length > 0 ? `${target.slice(0, q)}?${kept.join('&')}` : target.slice(0, q);
}

/** The Cookie header without the named cookies; undefined when nothing is left. */
export function removeCookies(header: string, names: ReadonlySet<string>): string | undefined {
  const kept: string[] = [];
  for (const part of header.split(';')) {
    const s = part.trim();
    if (s === '') continue;
    const eq = s.indexOf('=');
    if (eq >= 0 && names.has(s.slice(0, eq))) continue;
    kept.push(s);
  }
  return kept.length > 0 ? kept.join('; ') : undefined;
}
