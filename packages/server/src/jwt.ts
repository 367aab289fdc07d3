/**
 * RequestAuthentication: verifies the JWTs of an inbound request against the workload's
 * `jwtRules` (snapshot.inbound.jwtRules) the way Istio configures Envoy's jwt_authn filter
 * (reference §6; istio pilot/pkg/security/authn/policy_applier.go: convertToEnvoyJwtConfig;
 * Envoy source/extensions/filters/http/jwt_authn/{filter,verifier,authenticator,extractor}.cc).
 *
 * - No rules, a CORS preflight, or no token anywhere a rule looks: `none` — the request goes
 *   on to authorization without a request identity (a missing token is not an error).
 * - A token that fails: `invalid` — Envoy's status (401, or 403 for a disallowed audience),
 *   its body text and `www-authenticate: Bearer realm="<url>", error="invalid_token"`.
 * - A token that verifies: `valid` — its claims, `iss/sub` as the request principal, and the
 *   header and target changes to apply before the request reaches the application.
 *
 * Rules are compiled once per rules array (a snapshot's `jwtRules`); keys are shared by every
 * rule naming the same inline JWKS, JWKS URL or issuer, so the hot path only extracts tokens,
 * checks claims and verifies a signature.
 */
import { Code, MeshError } from '@meshwork/core';
import { parseDuration, splitSpaceDelimited, type JwtRuleRef } from '@meshwork/policy';
import { KeySources, type JwtLogger, type KeySource } from './jwt/keys.js';
import { byCodeUnit, compileLocations, extractTokens, headerValue, removeCookies, removeQueryParams, RequestView, type FoundToken, type HeaderBag, type TokenLocations } from './jwt/locations.js';
import { httpStatusOf, isSoftFailure, JWT_STATUS_TEXT, type JwtStatusCode } from './jwt/status.js';
import { audiencesAllowed, checkTime, parseJwt, sanitizeAudience, type ParsedJwt } from './jwt/token.js';

export type { JwtLogger } from './jwt/keys.js';
export type { HeaderBag } from './jwt/locations.js';
export { JWT_STATUS_TEXT, type JwtStatusCode } from './jwt/status.js';

/** Options of a {@link JwtAuthenticator}. Every duration is in milliseconds. */
export interface JwtAuthenticatorOptions {
  /** JWKS and OpenID discovery fetch timeout when a rule sets no `timeout` (Istio's default: 5 s). */
  fetchTimeoutMs?: number;
  /** How long fetched keys are used before they are refreshed (istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL: 20 min). Stale keys keep serving while the refresh runs, and when it fails. */
  jwksCacheMaxAgeMs?: number;
  /** After a successful fetch, how long a token with an unknown `kid` is refused without refetching (30 s). Bounds refetches per JWKS URL to one per cooldown. */
  jwksCooldownMs?: number;
  /** After a failed fetch, how long no new fetch is tried; tokens needing those keys fail at once (Envoy's failed_refetch_duration: 1 s). */
  jwksFailureBackoffMs?: number;
  /** Largest JWKS or OpenID configuration response accepted (1 MiB). */
  jwksMaxBytes?: number;
  /** The fetch used for JWKS URLs (default `globalThis.fetch`), e.g. one bound to the mesh's dispatcher. */
  fetch?: typeof globalThis.fetch;
  /** Receives a warning when keys cannot be fetched (pino-compatible). Nothing is logged per request. */
  logger?: JwtLogger;
}

/** The request as the authenticator sees it: framework-neutral, header names in lower case (as node:http gives them). */
export interface JwtRequest {
  method: string;
  /** Request target: path and query. */
  target: string;
  headers: HeaderBag;
  /** Scheme for the `realm` of a 401 (default `http`). */
  scheme?: string | undefined;
}

/** Header changes to make before the request goes on: first remove, then set (set replaces). */
export interface JwtHeaderChanges {
  readonly remove: readonly string[];
  readonly set: readonly (readonly [name: string, value: string])[];
}

/** No rule applies, the request is a CORS preflight, or it carries no token: no request identity. */
export interface JwtNone {
  kind: 'none';
  /** Output headers of the rules (outputPayloadToHeader, outputClaimToHeaders) the client sent itself are removed, as Envoy does. */
  headers: JwtHeaderChanges;
}

/** A token verified. */
export interface JwtValid {
  kind: 'valid';
  /** The payload as Istio's authorization sees it: `scope`, `permission` and `spaceDelimitedClaims` split into lists. Pass as `jwtClaims` to decideInbound. */
  claims: Record<string, unknown>;
  issuer: string;
  /** `iss/sub` (request.auth.principal). */
  requestPrincipal: string;
  /** The rule that verified the token. */
  rule: JwtRuleRef;
  headers: JwtHeaderChanges;
  /** The request target, without the token's query parameter when forwardOriginalToken is false. */
  target: string;
}

/** A token was present and failed: answer with this and stop. */
export interface JwtInvalid {
  kind: 'invalid';
  /** 401, or 403 for a token whose audience is not allowed (Envoy filter.cc). */
  status: 401 | 403;
  /** Envoy's status name, e.g. `JwtExpired`. */
  code: JwtStatusCode;
  /** Envoy's text, e.g. `Jwt is expired`. */
  body: string;
  /** `www-authenticate` and `content-type`. */
  headers: Record<string, string>;
  /** For logs: the body, the rule and issuer, and the key id when one matters. Never token or key content. */
  reason: string;
  /** The rule whose result decided, when one did. */
  rule?: JwtRuleRef | undefined;
}

export type JwtOutcome = JwtNone | JwtValid | JwtInvalid;

interface ClaimHeader {
  header: string;
  path: string[];
}

interface Provider {
  ref: JwtRuleRef;
  issuer: string;
  audiences: ReadonlySet<string>;
  locations: TokenLocations;
  forward: boolean;
  payloadHeader: string | undefined;
  claimHeaders: ClaimHeader[];
  spaceDelimited: readonly string[];
  keys: KeySource;
}

interface CompiledRules {
  providers: Provider[];
  /** Output headers of every rule, removed from every request that goes through (extractor.cc: sanitizeHeaders). */
  sanitize: readonly string[];
  none: JwtNone;
}

interface Failure {
  code: JwtStatusCode;
  provider: Provider | undefined;
  kid?: string | undefined;
  tokenIssuer?: string | undefined;
}

const NO_CHANGES: JwtHeaderChanges = Object.freeze({ remove: Object.freeze([]) as readonly string[], set: Object.freeze([]) as readonly (readonly [string, string])[] });
const NONE: JwtNone = Object.freeze({ kind: 'none', headers: NO_CHANGES });
/** A config list's string elements, empty strings kept (an empty audience is a value, not "no check"). */
function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

const NO_FOUND: FoundToken[] = [];
const MISSED: Failure = Object.freeze({ code: 'JwtMissed', provider: undefined });
/** Istio always treats these as space-delimited (policy_applier.go: buildSpaceDelimitedClaims). */
const DEFAULT_SPACE_DELIMITED = ['permission', 'scope'];
/** Envoy's limit on the path in the realm of a 401 (filter.cc: MaximumUriLength). */
const MAX_REALM_PATH = 256;
/** What a header value may hold (node's validateHeaderValue); a claim outside this is not copied. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const INVALID_HEADER_CHARS = /[^\t\x20-\x7e\x80-\xff]/g;

function checkOption(name: string, value: number | undefined, fallback: number, finite = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (finite && !Number.isFinite(value))) {
    throw new MeshError(`JwtAuthenticator option ${name} must be a non-negative${finite ? ', finite' : ''} number, got ${String(value)}`, { code: Code.InvalidArgument, reason: 'invalid_option' });
  }
  return value;
}

/** filter.cc isCorsPreflightRequest: OPTIONS with a non-empty Origin and Access-Control-Request-Method. */
function isCorsPreflight(req: JwtRequest): boolean {
  return req.method === 'OPTIONS' && !!headerValue(req.headers, 'origin') && !!headerValue(req.headers, 'access-control-request-method');
}


/** authenticator.cc addJWTClaimToHeader: strings as they are, numbers as Envoy prints them, booleans, objects and lists as base64 JSON. */
function claimHeaderValue(payload: Record<string, unknown>, path: readonly string[]): string | undefined {
  let cur: unknown = payload;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  let value: string;
  switch (typeof cur) {
    case 'string':
      value = cur;
      break;
    case 'number':
      // convertClaimDoubleToString: whole numbers in [0, 2^64) as integers, anything else as std::to_string (6 decimals).
      value = cur >= 0 && cur < 2 ** 64 && Number.isInteger(cur) ? BigInt(cur).toString() : cur.toFixed(6);
      break;
    case 'boolean':
      value = cur ? 'true' : 'false';
      break;
    case 'object':
      if (cur === null) return undefined;
      value = Buffer.from(JSON.stringify(cur), 'utf8').toString('base64');
      break;
    default:
      return undefined;
  }
  return value === '' || INVALID_HEADER_VALUE.test(value) ? undefined : value;
}

/** A token-supplied string, quoted and cut short, safe for a log line. */
function quoteShort(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function realmOf(req: JwtRequest): string {
  // Envoy's realm is buildOriginalUri (scheme://host + path, path cut at 256). The query is left
  // out here: it may carry the token itself (access_token), and a 401 must not echo it.
  const q = req.target.indexOf('?');
  const path = (q < 0 ? req.target : req.target.slice(0, q)).slice(0, MAX_REALM_PATH);
  const host = headerValue(req.headers, 'host') ?? headerValue(req.headers, ':authority') ?? '';
  return `${req.scheme ?? 'http'}://${host}${path}`.replace(/["\\]/g, (c) => `\\${c}`).replace(INVALID_HEADER_CHARS, '');
}

/**
 * Verifies inbound JWTs against a workload's RequestAuthentication rules.
 *
 * @example
 * ```ts
 * const jwt = new JwtAuthenticator();
 * const out = await jwt.authenticate(snapshot.inbound.jwtRules, { method: req.method, target: req.url, headers: req.headers });
 * if (out.kind === 'invalid') return reply(out.status, out.headers, out.body);
 * const decision = decideInbound(snapshot, { ...attrs, jwtClaims: out.kind === 'valid' ? out.claims : undefined });
 * ```
 */
export class JwtAuthenticator {
  private readonly compiled = new WeakMap<readonly JwtRuleRef[], CompiledRules>();
  private readonly sources: KeySources;
  private readonly fetchTimeoutMs: number;
  private readonly logger: JwtLogger | undefined;

  constructor(options: JwtAuthenticatorOptions = {}) {
    this.logger = options.logger;
    this.fetchTimeoutMs = checkOption('fetchTimeoutMs', options.fetchTimeoutMs, 5_000, true);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new MeshError('JwtAuthenticator needs a fetch function: pass options.fetch', { code: Code.InvalidArgument, reason: 'invalid_option' });
    }
    this.sources = new KeySources({
      cacheMaxAgeMs: checkOption('jwksCacheMaxAgeMs', options.jwksCacheMaxAgeMs, 20 * 60_000),
      cooldownMs: checkOption('jwksCooldownMs', options.jwksCooldownMs, 30_000),
      failureBackoffMs: checkOption('jwksFailureBackoffMs', options.jwksFailureBackoffMs, 1_000),
      maxBytes: checkOption('jwksMaxBytes', options.jwksMaxBytes, 1024 * 1024, true),
      fetch: fetchImpl,
      logger: options.logger,
    });
  }

  /**
   * Verifies the request's token(s) against the workload's rules with Istio's semantics. Never
   * throws: a failure inside verification fails the request closed (401). Synchronous when no
   * rule finds a token (the common case for health checks and anonymous calls: no promise);
   * a Promise when a token must be verified.
   */
  authenticate(rules: readonly JwtRuleRef[], req: JwtRequest): JwtOutcome | Promise<JwtOutcome> {
    if (rules.length === 0 || isCorsPreflight(req)) return NONE;
    try {
      const cfg = this.compiledFor(rules);
      const view = new RequestView(req.headers, req.target);
      let found: FoundToken[][] | undefined;
      for (let i = 0; i < cfg.providers.length; i++) {
        const tokens = extractTokens(cfg.providers[i]!.locations, view);
        if (tokens.length > 0) (found ??= Array.from({ length: cfg.providers.length }, () => NO_FOUND))[i] = tokens;
      }
      if (!found) return cfg.none;
      return this.run(cfg, found, view, req).catch((err: unknown) => this.internalFailure(req, err));
    } catch (err) {
      return this.internalFailure(req, err);
    }
  }

  /**
   * Compiles a snapshot's rules (ordering, token locations, output headers, key sources) ahead
   * of the first request; the pipeline calls it when a snapshot first serves.
   */
  prepare(rules: readonly JwtRuleRef[]): void {
    this.compiledFor(rules);
  }

  private compiledFor(rules: readonly JwtRuleRef[]): CompiledRules {
    return this.compiled.get(rules) ?? this.compile(rules);
  }

  private internalFailure(req: JwtRequest, err: unknown): JwtInvalid {
    // Only the error's class: a message could quote what it failed on.
    try {
      this.logger?.warn?.({ error: err instanceof Error ? err.name : typeof err }, 'JWT verification failed internally; the request is rejected');
    } catch {
      // A logger that throws must not break the request.
    }
    return this.invalid(req, { code: 'JwtVerificationFail', provider: undefined }, 'internal error during verification');
  }

  /** Stops key fetches in flight; later requests that need keys not yet fetched fail (401). */
  close(): void {
    this.sources.close();
  }

  private compile(rules: readonly JwtRuleRef[]): CompiledRules {
    // Istio sorts the rules of all applicable policies by issuer (policy_applier.go: newPolicyApplier);
    // the order decides which rule's result wins when several see the same token.
    const refs = rules.filter((r) => r.rule !== null && typeof r.rule === 'object');
    const ordered = refs.map((ref, i) => ({ ref, i, issuer: typeof ref.rule.issuer === 'string' ? (ref.rule.issuer as string) : '' }))
      .sort((a, b) => byCodeUnit(a.issuer, b.issuer) || a.i - b.i);
    const sanitize = new Set<string>();
    const providers = ordered.map(({ ref, issuer }): Provider => {
      const rule = ref.rule as Record<string, unknown>;
      const payloadHeader = typeof rule.outputPayloadToHeader === 'string' && rule.outputPayloadToHeader !== '' ? rule.outputPayloadToHeader.toLowerCase() : undefined;
      if (payloadHeader) sanitize.add(payloadHeader);
      const claimHeaders: ClaimHeader[] = [];
      for (const o of Array.isArray(rule.outputClaimToHeaders) ? rule.outputClaimToHeaders : []) {
        const h = (o as { header?: unknown } | null)?.header;
        const c = (o as { claim?: unknown } | null)?.claim;
        if (typeof h !== 'string' || h === '' || typeof c !== 'string' || c === '') continue;
        claimHeaders.push({ header: h.toLowerCase(), path: c.split('.') });
        sanitize.add(h.toLowerCase());
      }
      const timeoutMs = parseDuration(rule.timeout) ?? this.fetchTimeoutMs;
      return {
        ref,
        issuer,
        audiences: new Set(strList(rule.audiences).map(sanitizeAudience)),
        locations: compileLocations(rule),
        forward: rule.forwardOriginalToken === true,
        payloadHeader,
        claimHeaders,
        spaceDelimited: [...new Set([...strList(rule.spaceDelimitedClaims), ...DEFAULT_SPACE_DELIMITED])],
        keys: this.sources.forRule(rule, issuer, timeoutMs),
      };
    });
    const sanitizeList = Object.freeze([...sanitize]);
    const compiled: CompiledRules = {
      providers,
      sanitize: sanitizeList,
      none: sanitizeList.length === 0 ? NONE : Object.freeze({ kind: 'none' as const, headers: Object.freeze({ remove: sanitizeList, set: NO_CHANGES.set }) }),
    };
    this.compiled.set(rules, compiled);
    return compiled;
  }

  private async run(cfg: CompiledRules, found: readonly FoundToken[][], view: RequestView, req: JwtRequest): Promise<JwtOutcome> {
    const now = Math.floor(Date.now() / 1000);
    let parsed: Map<string, ParsedJwt | JwtStatusCode> | undefined;
    let results: Failure[] | undefined;
    for (let i = 0; i < cfg.providers.length; i++) {
      const p = cfg.providers[i]!;
      const tokens = found[i]!;
      if (tokens.length === 0) {
        results?.push(MISSED);
        continue;
      }
      if (!results) results = Array.from({ length: i }, () => MISSED);
      parsed ??= new Map();
      // authenticator.cc: every token at the rule's locations must verify, last found first.
      let failure: Failure | undefined;
      let verified: ParsedJwt | undefined;
      for (let t = tokens.length - 1; t >= 0; t--) {
        const r = await this.verifyToken(p, tokens[t]!.token, parsed, now);
        if (typeof r === 'string' || 'code' in r) {
          failure = typeof r === 'string' ? { code: r, provider: p } : r;
          break;
        }
        verified = r;
      }
      if (!failure && verified) return this.valid(cfg, p, verified, tokens, view, req);
      results.push(failure!);
    }
    if (!results) return cfg.none;
    return this.invalid(req, combine(results, cfg.providers.length));
  }

  private async verifyToken(p: Provider, token: string, parsed: Map<string, ParsedJwt | JwtStatusCode>, now: number): Promise<ParsedJwt | JwtStatusCode | Failure> {
    let jwt = parsed.get(token);
    if (jwt === undefined) {
      jwt = parseJwt(token);
      parsed.set(token, jwt);
    }
    if (typeof jwt === 'string') return jwt;
    if (p.issuer !== '' && jwt.iss !== p.issuer) return { code: 'JwtUnknownIssuer', provider: p, tokenIssuer: jwt.iss };
    const time = checkTime(jwt, now);
    if (time) return time;
    if (!audiencesAllowed(p.audiences, jwt)) return 'JwtAudienceNotAllowed';
    const verdict = await p.keys.verify(jwt);
    return verdict === 'ok' ? jwt : { code: verdict, provider: p, kid: jwt.kid };
  }

  private valid(cfg: CompiledRules, p: Provider, jwt: ParsedJwt, tokens: readonly FoundToken[], view: RequestView, req: JwtRequest): JwtValid {
    let remove: string[] | readonly string[] = cfg.sanitize;
    const set: [string, string][] = [];
    let target = req.target;
    if (!p.forward) {
      // forwardOriginalToken false: the token leaves the request where it was found.
      let params: Set<string> | undefined;
      let cookies: Set<string> | undefined;
      const removed = new Set(cfg.sanitize);
      for (const t of tokens) {
        if (t.from === 'header') removed.add(t.name);
        else if (t.from === 'param') (params ??= new Set()).add(t.name);
        else (cookies ??= new Set()).add(t.name);
      }
      if (params) target = removeQueryParams(target, params);
      if (cookies) {
        const rest = removeCookies(view.header('cookie') ?? '', cookies);
        if (rest === undefined) removed.add('cookie');
        else set.push(['cookie', rest]);
      }
      remove = [...removed];
    }
    if (p.payloadHeader) set.push([p.payloadHeader, jwt.payloadB64]);
    for (const ch of p.claimHeaders) {
      const value = claimHeaderValue(jwt.payload, ch.path);
      if (value === undefined) continue;
      const prev = set.find((e) => e[0] === ch.header);
      // Envoy adds each claim header (addCopy): two claims into one header arrive as one comma-joined value.
      if (prev) prev[1] = `${prev[1]},${value}`;
      else set.push([ch.header, value]);
    }
    return {
      kind: 'valid',
      // The one splitter of space-delimited claims is policy's (authenticator.cc setPayloadMetadata).
      claims: splitSpaceDelimited(jwt.payload, p.spaceDelimited),
      issuer: jwt.iss,
      requestPrincipal: `${jwt.iss}/${jwt.sub ?? ''}`,
      rule: p.ref,
      headers: remove.length === 0 && set.length === 0 ? NO_CHANGES : { remove, set },
      target,
    };
  }

  private invalid(req: JwtRequest, f: Failure, detail?: string): JwtInvalid {
    const body = JWT_STATUS_TEXT[f.code];
    const parts: string[] = [];
    if (f.provider) parts.push(`RequestAuthentication ${f.provider.ref.policy} jwtRules[${f.provider.ref.index}]`, `issuer ${JSON.stringify(f.provider.issuer)}`);
    if (f.tokenIssuer !== undefined) parts.push(`token issuer ${quoteShort(f.tokenIssuer)}`);
    if (f.kid) parts.push(`kid ${quoteShort(f.kid)}`);
    if (detail) parts.push(detail);
    const reason = parts.length > 0 ? `${body} (${parts.join(', ')})` : body;
    return {
      kind: 'invalid',
      status: httpStatusOf(f.code),
      code: f.code,
      body,
      headers: { 'www-authenticate': `Bearer realm="${realmOf(req)}", error="invalid_token"`, 'content-type': 'text/plain' },
      reason,
      rule: f.provider?.ref,
    };
  }
}

/**
 * The status Envoy reports when no rule accepted the request (verifier.cc). One rule:
 * RequiresAny{rule, allow_missing} = that rule's status. Several rules: Istio builds
 * RequiresAny{P1..Pn, RequiresAll{RequiresAny{Pi, allow_missing}...}}; an any-group prefers the
 * last "hard" error, then an unknown issuer, then missing.
 */
function combine(results: readonly Failure[], providers: number): Failure {
  if (providers === 1) return results[0]!;
  const all = results.find((r) => r.code !== 'JwtMissed') ?? MISSED;
  let final = MISSED;
  for (const r of [...results, all]) {
    if (!isSoftFailure(r.code) || final.code === 'JwtMissed') final = r;
  }
  return final;
}
