/**
 * Where the keys that verify a rule's tokens come from, and the signature check itself.
 *
 * - Inline `jwks` is parsed once; remote `jwksUri` goes through jose's remote JWK set (fetch
 *   with a timeout, cache max age, cooldown after a successful fetch); with neither, the
 *   issuer's OpenID discovery document names the JWKS (Istio's JwksResolver:
 *   resolveJwksURIUsingOpenID).
 * - Keys are chosen as jwt_verify_lib does (verify.cc: verifyJwtWithoutTimeChecking): a key
 *   whose `kid` differs from the token's is skipped only when both are set; a key with an `alg`
 *   must match the token's; every key that passes is tried. None tried = "Jwks doesn't have key
 *   to match kid or alg from Jwt"; all tried and failed = "Jwt verification fails".
 *   The cryptography is jose's (importJWK, flattenedVerify).
 * - An unknown kid refetches the JWKS, at most once per cooldown; a failed fetch is not retried
 *   for `failureBackoffMs` (Envoy's failed_refetch_duration); keys that go stale keep serving
 *   while a refresh runs in the background, and are kept when it fails (istiod keeps the last
 *   good JWKS: jwks_resolver.go refresh).
 * - Nothing here ever logs or throws key material or tokens: messages name the issuer and URL.
 */
import { createRemoteJWKSet, customFetch, flattenedVerify, importJWK, type JWK, type RemoteJWKSet } from 'jose';
import type { JwtStatusCode } from './status.js';
import type { ParsedJwt } from './token.js';

/** The answer of a key source for one token. */
export type KeyVerdict = 'ok' | Extract<JwtStatusCode, 'JwtVerificationFail' | 'JwksKidAlgMismatch' | 'JwksNoValidKeys' | 'JwksFetchFail'>;

export interface KeySource {
  verify(jwt: ParsedJwt): Promise<KeyVerdict>;
}

/** pino-compatible: `logger.warn({ ...fields }, 'message')`. */
export interface JwtLogger {
  debug?(fields: Record<string, unknown>, message: string): void;
  warn?(fields: Record<string, unknown>, message: string): void;
}

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

interface CompiledKey {
  kty: string;
  kid: string;
  alg: string;
  /** The public members only: a JWKS that leaks private members still verifies, as in Envoy. */
  jwk: JWK;
  imported: Map<string, Promise<ImportedKey | undefined>>;
}

const EC_CURVE_OF_ALG: Readonly<Record<string, string>> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The usable keys of a JWKS, as jwt_verify_lib's Jwks::createFromJwksCore keeps them (invalid keys are skipped). */
export function compileJwks(jwks: unknown): CompiledKey[] {
  const list = jwks && typeof jwks === 'object' ? (jwks as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list)) return [];
  const out: CompiledKey[] = [];
  for (const k of list) {
    if (!k || typeof k !== 'object' || Array.isArray(k)) continue;
    const o = k as Record<string, unknown>;
    const kty = str(o.kty);
    const alg = str(o.alg);
    let jwk: JWK | undefined;
    switch (kty) {
      case 'RSA':
        if ((alg === '' || alg.startsWith('RS') || alg.startsWith('PS')) && str(o.n) && str(o.e)) jwk = { kty, n: str(o.n), e: str(o.e) };
        break;
      case 'EC': {
        if (alg !== '' && !alg.startsWith('ES')) break;
        const crv = str(o.crv) || EC_CURVE_OF_ALG[alg] || 'P-256';
        if (!Object.values(EC_CURVE_OF_ALG).includes(crv)) break;
        if (alg !== '' && EC_CURVE_OF_ALG[alg] !== crv) break;
        if (str(o.x) && str(o.y)) jwk = { kty, crv, x: str(o.x), y: str(o.y) };
        break;
      }
      case 'oct':
        if ((alg === '' || alg.startsWith('HS')) && str(o.k)) jwk = { kty, k: str(o.k) };
        break;
      case 'OKP':
        if ((alg === '' || alg === 'EdDSA') && str(o.crv) === 'Ed25519' && str(o.x)) jwk = { kty, crv: 'Ed25519', x: str(o.x) };
        break;
      default:
        break;
    }
    if (jwk) out.push({ kty, kid: str(o.kid), alg, jwk, imported: new Map() });
  }
  return out;
}

function importFor(key: CompiledKey, alg: string): Promise<ImportedKey | undefined> {
  let p = key.imported.get(alg);
  if (!p) {
    // A key of the wrong type for the token's alg cannot be imported for it: that key just fails.
    p = importJWK(key.jwk, alg).catch(() => undefined);
    key.imported.set(alg, p);
  }
  return p;
}

/** verify.cc verifyJwtWithoutTimeChecking, with jose doing the signature check. */
export async function verifyWithKeys(keys: readonly CompiledKey[], jwt: ParsedJwt): Promise<Exclude<KeyVerdict, 'JwksFetchFail'>> {
  if (keys.length === 0) return 'JwksNoValidKeys';
  let matched = false;
  for (const k of keys) {
    if (jwt.kid !== '' && k.kid !== '' && k.kid !== jwt.kid) continue;
    if (k.alg !== '' && k.alg !== jwt.alg) continue;
    matched = true;
    const key = await importFor(k, jwt.alg);
    if (!key) continue;
    try {
      await flattenedVerify({ protected: jwt.headerB64, payload: jwt.payloadB64, signature: jwt.signatureB64 }, key, { algorithms: [jwt.alg] });
      return 'ok';
    } catch {
      // Try the next key, as jwt_verify_lib does.
    }
  }
  return matched ? 'JwtVerificationFail' : 'JwksKidAlgMismatch';
}

/** Inline `jwks`: parsed once. A JWKS that does not parse has no valid key (Envoy jwks_cache.cc: "Invalid inline jwks"). */
export class InlineKeySource implements KeySource {
  private readonly keys: CompiledKey[];

  constructor(jwks: string) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(jwks);
    } catch {
      parsed = undefined;
    }
    this.keys = compileJwks(parsed);
  }

  verify(jwt: ParsedJwt): Promise<KeyVerdict> {
    return verifyWithKeys(this.keys, jwt);
  }
}

/** A source that can never produce keys (an unusable `jwksUri`, no key source at all). */
class FixedKeySource implements KeySource {
  constructor(private readonly verdict: KeyVerdict) {}
  verify(): Promise<KeyVerdict> {
    return Promise.resolve(this.verdict);
  }
}

export interface KeySourceOptions {
  cacheMaxAgeMs: number;
  cooldownMs: number;
  failureBackoffMs: number;
  maxBytes: number;
  fetch: typeof globalThis.fetch;
  logger?: JwtLogger | undefined;
}

interface SharedContext extends KeySourceOptions {
  closed: AbortSignal;
}

function safeLog(logger: JwtLogger | undefined, level: 'debug' | 'warn', fields: Record<string, unknown>, message: string): void {
  try {
    logger?.[level]?.(fields, message);
  } catch {
    // A logger that throws must not break verification.
  }
}

/** Names an error without its cause's text (a JSON parse error quotes the body it failed on). */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return 'unknown error';
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return `${err.name}: ${err.message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

class HttpStatusError extends Error {
  constructor(status: number) {
    super(`HTTP ${status} (expected 200)`);
    this.name = 'JwksHttpError';
  }
}

/** Reads a response body, refusing more than `max` bytes. */
async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`response of ${declared} bytes exceeds the ${max}-byte limit`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`response exceeds the ${max}-byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function fetchCapped(ctx: SharedContext, url: string, init: RequestInit & { signal: AbortSignal }): Promise<Uint8Array> {
  const res = await ctx.fetch(url, { ...init, signal: AbortSignal.any([init.signal, ctx.closed]) });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new HttpStatusError(res.status);
  }
  return readCapped(res, ctx.maxBytes);
}

/**
 * Makes a failing-fast, deduplicated refresh: one fetch in flight at a time, none while the
 * last failure is younger than `failureBackoffMs` or after close.
 */
class Refresher {
  private pending: Promise<boolean> | undefined;
  private failedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ctx: SharedContext,
    private readonly run: () => Promise<void>,
    private readonly fields: Record<string, unknown>,
    private readonly what: string,
  ) {}

  /** True when a refresh may start now (or one is already running). */
  get available(): boolean {
    return this.pending !== undefined || (!this.ctx.closed.aborted && Date.now() - this.failedAt >= this.ctx.failureBackoffMs);
  }

  refresh(): Promise<boolean> {
    if (this.pending) return this.pending;
    if (!this.available) return Promise.resolve(false);
    const p = this.run().then(
      () => {
        this.failedAt = Number.NEGATIVE_INFINITY;
        safeLog(this.ctx.logger, 'debug', this.fields, `${this.what} fetched`);
        return true;
      },
      (err: unknown) => {
        this.failedAt = Date.now();
        if (!this.ctx.closed.aborted) safeLog(this.ctx.logger, 'warn', { ...this.fields, error: describeError(err) }, `${this.what} fetch failed; tokens of this issuer are rejected until it succeeds`);
        return false;
      },
    );
    this.pending = p;
    void p.then(() => {
      if (this.pending === p) this.pending = undefined;
    });
    return p;
  }
}

/** `jwksUri`: jose's remote JWK set fetches; the keys it returns are compiled once per fetch. */
class RemoteKeySource implements KeySource {
  private readonly set: RemoteJWKSet;
  private keys: CompiledKey[] | undefined;
  private readonly refresher: Refresher;

  constructor(uri: URL, timeoutMs: number, issuer: string, ctx: SharedContext) {
    this.set = createRemoteJWKSet(uri, {
      timeoutDuration: Math.max(1, Math.round(timeoutMs)),
      cooldownDuration: ctx.cooldownMs,
      cacheMaxAge: ctx.cacheMaxAgeMs,
      [customFetch]: async (url, init) => new Response(await fetchCapped(ctx, url, init), { status: 200, headers: { 'content-type': 'application/json' } }),
    });
    this.refresher = new Refresher(ctx, async () => {
      await this.set.reload();
      this.keys = compileJwks(this.set.jwks());
    }, { issuer, jwksUri: uri.href }, 'JWKS');
  }

  async verify(jwt: ParsedJwt): Promise<KeyVerdict> {
    let keys = this.keys;
    if (!keys) {
      await this.refresher.refresh();
      keys = this.keys;
      if (!keys) return 'JwksFetchFail';
    } else if (!this.set.fresh) {
      // Stale keys keep serving while the refresh runs; a failed refresh keeps them.
      void this.refresher.refresh();
    }
    const verdict = await verifyWithKeys(keys, jwt);
    if ((verdict === 'JwksKidAlgMismatch' || verdict === 'JwksNoValidKeys') && !this.set.coolingDown && this.refresher.available) {
      // An unknown kid may mean the issuer rotated its keys: refetch, at most once per cooldown.
      if ((await this.refresher.refresh()) && this.keys && this.keys !== keys) return verifyWithKeys(this.keys, jwt);
    }
    return verdict;
  }
}

/** No `jwks` and no `jwksUri`: `<issuer>/.well-known/openid-configuration` names the JWKS URL. */
class DiscoveryKeySource implements KeySource {
  private resolved: KeySource | undefined;
  private readonly refresher: Refresher;

  constructor(issuer: string, timeoutMs: number, ctx: SharedContext, sources: KeySources) {
    const url = `${issuer}/.well-known/openid-configuration`;
    this.refresher = new Refresher(ctx, async () => {
      const body = await fetchCapped(ctx, url, { method: 'GET', headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(Math.max(1, Math.round(timeoutMs))) });
      let doc: unknown;
      try {
        doc = JSON.parse(Buffer.from(body).toString('utf8'));
      } catch {
        throw new Error('the OpenID configuration is not JSON');
      }
      const jwksUri = (doc as { jwks_uri?: unknown } | null)?.jwks_uri;
      const parsed = typeof jwksUri === 'string' ? httpUrl(jwksUri) : undefined;
      if (!parsed) throw new Error('the OpenID configuration has no http(s) jwks_uri');
      this.resolved = sources.remote(parsed.href, timeoutMs, issuer);
    }, { issuer, discovery: url }, 'OpenID configuration');
  }

  async verify(jwt: ParsedJwt): Promise<KeyVerdict> {
    if (!this.resolved) await this.refresher.refresh();
    return this.resolved ? this.resolved.verify(jwt) : 'JwksFetchFail';
  }
}

function httpUrl(text: string): URL | undefined {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
  } catch {
    return undefined;
  }
}

/** Most key sources kept for reuse across snapshots; older ones are dropped (still usable by whoever holds them). */
const MAX_SOURCES = 256;

/**
 * The key sources of one authenticator, shared by every rule (and every snapshot) that names the
 * same inline JWKS, JWKS URL or issuer, so a config push does not refetch keys it already has.
 */
export class KeySources {
  private readonly byKey = new Map<string, KeySource>();
  private readonly closer = new AbortController();
  private readonly ctx: SharedContext;

  constructor(options: KeySourceOptions) {
    this.ctx = { ...options, closed: this.closer.signal };
  }

  /** The key source for one `jwtRules[]` entry: inline `jwks` first, then `jwksUri`, then OpenID discovery from `issuer`. */
  forRule(rule: Record<string, unknown>, issuer: string, timeoutMs: number): KeySource {
    const jwks = str(rule.jwks);
    if (jwks !== '') return this.get(`inline\0${jwks}`, () => new InlineKeySource(jwks));
    const uri = str(rule.jwksUri) || str(rule.jwks_uri);
    if (uri !== '') return this.remote(uri, timeoutMs, issuer);
    if (issuer !== '') return this.get(`oidc\0${timeoutMs}\0${issuer}`, () => new DiscoveryKeySource(issuer, timeoutMs, this.ctx, this));
    return new FixedKeySource('JwksNoValidKeys');
  }

  remote(uri: string, timeoutMs: number, issuer: string): KeySource {
    return this.get(`uri\0${timeoutMs}\0${uri}`, () => {
      const url = httpUrl(uri);
      if (url) return new RemoteKeySource(url, timeoutMs, issuer, this.ctx);
      safeLog(this.ctx.logger, 'warn', { issuer, jwksUri: uri }, 'jwksUri is not an http(s) URL; tokens of this issuer are rejected');
      return new FixedKeySource('JwksFetchFail');
    });
  }

  /** Aborts fetches in flight; no source fetches again. */
  close(): void {
    this.closer.abort();
    this.byKey.clear();
  }

  private get(key: string, make: () => KeySource): KeySource {
    let s = this.byKey.get(key);
    if (s) {
      this.byKey.delete(key);
    } else {
      s = make();
      if (this.byKey.size >= MAX_SOURCES) {
        const oldest = this.byKey.keys().next().value;
        if (oldest !== undefined) this.byKey.delete(oldest);
      }
    }
    this.byKey.set(key, s);
    return s;
  }
}
