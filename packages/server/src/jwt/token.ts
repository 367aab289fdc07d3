/**
 * Parsing a compact JWT and checking its claims the way Envoy's jwt_authn does
 * (google/jwt_verify_lib src/jwt.cc: Jwt::parseFromString, verifyTimeConstraint;
 * src/check_audience.cc). Nothing here verifies a signature: that is jose's job
 * (keys.ts), done only after these checks pass, in Envoy's order.
 */
import type { JwtStatusCode } from './status.js';

/** A token that parsed: its three segments and the claims Envoy reads. */
export interface ParsedJwt {
  headerB64: string;
  payloadB64: string;
  signatureB64: string;
  alg: string;
  /** '' when the header has no `kid`. */
  kid: string;
  /** '' when absent. */
  iss: string;
  /** undefined when absent. */
  sub: string | undefined;
  /** 0 when absent. */
  nbf: number;
  /** 0 when absent (never expires). */
  exp: number;
  audiences: string[];
  payload: Record<string, unknown>;
}

/** Algorithms jwt_verify_lib implements (jwt.cc: isImplemented); anything else, `none` included, is refused. */
const IMPLEMENTED_ALGS: ReadonlySet<string> = new Set([
  'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA',
]);

/** Envoy's default clock skew (jwt_verify_lib kClockSkewInSecond; Istio sets no other). */
export const CLOCK_SKEW_SECONDS = 60;

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const UINT64_LIMIT = 2 ** 64;

/** absl::WebSafeBase64Unescape: the base64url alphabet, padding optional but complete when present. */
function isBase64Url(s: string): boolean {
  if (!BASE64URL.test(s)) return false;
  const body = s.replace(/=+$/, '');
  return body.length % 4 !== 1 && (body.length === s.length || s.length % 4 === 0);
}

function decodeSegment(s: string): string | undefined {
  if (!isBase64Url(s)) return undefined;
  try {
    return utf8.decode(Buffer.from(s.replace(/=+$/, ''), 'base64url'));
  } catch {
    return undefined;
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

type UintResult = number | 'wrong-type' | 'out-of-range';

/** struct_utils.cc GetUInt64: a JSON number in [0, 2^64), truncated; absent = 0. */
function uint64Claim(o: Record<string, unknown>, name: string): UintResult {
  if (!Object.hasOwn(o, name)) return 0;
  const v = o[name];
  if (typeof v !== 'number') return 'wrong-type';
  if (v < 0 || v >= UINT64_LIMIT) return 'out-of-range';
  return Math.trunc(v);
}

function stringClaim(o: Record<string, unknown>, name: string): string | undefined | null {
  if (!Object.hasOwn(o, name)) return undefined;
  const v = o[name];
  return typeof v === 'string' ? v : null;
}

/**
 * Parses a compact JWT; returns the Envoy status on failure. Empty segments are skipped before
 * counting, as absl::StrSplit(SkipEmpty) does, so `header.payload.` (an unsigned token) is
 * `JwtBadFormat`.
 */
export function parseJwt(token: string): ParsedJwt | JwtStatusCode {
  const parts = token.split('.').filter((p) => p.length > 0);
  if (parts.length !== 3) return 'JwtBadFormat';
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];

  const headerText = decodeSegment(headerB64);
  if (headerText === undefined) return 'JwtHeaderParseErrorBadBase64';
  const header = parseObject(headerText);
  if (!header) return 'JwtHeaderParseErrorBadJson';
  const alg = header.alg;
  if (typeof alg !== 'string') return 'JwtHeaderBadAlg';
  if (!IMPLEMENTED_ALGS.has(alg)) return 'JwtHeaderNotImplementedAlg';
  const kid = stringClaim(header, 'kid');
  if (kid === null) return 'JwtHeaderBadKid';

  const payloadText = decodeSegment(payloadB64);
  if (payloadText === undefined) return 'JwtPayloadParseErrorBadBase64';
  const payload = parseObject(payloadText);
  if (!payload) return 'JwtPayloadParseErrorBadJson';
  const iss = stringClaim(payload, 'iss');
  if (iss === null) return 'JwtPayloadParseErrorIssNotString';
  const sub = stringClaim(payload, 'sub');
  if (sub === null) return 'JwtPayloadParseErrorSubNotString';
  const iat = uint64Claim(payload, 'iat');
  if (iat === 'wrong-type') return 'JwtPayloadParseErrorIatNotInteger';
  if (iat === 'out-of-range') return 'JwtPayloadParseErrorIatOutOfRange';
  const nbf = uint64Claim(payload, 'nbf');
  if (nbf === 'wrong-type') return 'JwtPayloadParseErrorNbfNotInteger';
  if (nbf === 'out-of-range') return 'JwtPayloadParseErrorNbfOutOfRange';
  const exp = uint64Claim(payload, 'exp');
  if (exp === 'wrong-type') return 'JwtPayloadParseErrorExpNotInteger';
  if (exp === 'out-of-range') return 'JwtPayloadParseErrorExpOutOfRange';
  if (stringClaim(payload, 'jti') === null) return 'JwtPayloadParseErrorJtiNotString';
  let audiences: string[] = [];
  if (Object.hasOwn(payload, 'aud')) {
    const aud = payload.aud;
    if (typeof aud === 'string') audiences = [aud];
    else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) audiences = aud as string[];
    else return 'JwtPayloadParseErrorAudNotString';
  }
  if (!isBase64Url(signatureB64)) return 'JwtSignatureParseErrorBadBase64';

  return { headerB64, payloadB64, signatureB64, alg, kid: kid ?? '', iss: iss ?? '', sub, nbf, exp, audiences, payload };
}

/** jwt.cc verifyTimeConstraint: `nbf` and `exp` with the clock skew on both sides. */
export function checkTime(jwt: ParsedJwt, nowSeconds: number, skewSeconds = CLOCK_SKEW_SECONDS): JwtStatusCode | undefined {
  if (nowSeconds + skewSeconds < jwt.nbf) return 'JwtNotYetValid';
  if (jwt.exp !== 0 && nowSeconds > jwt.exp + skewSeconds) return 'JwtExpired';
  return undefined;
}

/**
 * check_audience.cc sanitizeAudience: an `http://` or `https://` prefix and one trailing `/`
 * are ignored on both sides, so `https://api.example.com/` matches `api.example.com`.
 */
export function sanitizeAudience(aud: string): string {
  if (aud === '') return aud;
  let s = aud;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** check_audience.cc areAudiencesAllowed: an empty configured list allows any token. */
export function audiencesAllowed(allowed: ReadonlySet<string>, jwt: ParsedJwt): boolean {
  if (allowed.size === 0) return true;
  for (const a of jwt.audiences) if (allowed.has(sanitizeAudience(a))) return true;
  return false;
}
