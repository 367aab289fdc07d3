/**
 * RequestAuthentication semantic validation, ported from istio/istio
 * pkg/config/validation/validation.go (ValidateRequestAuthentication, validateJwtRule,
 * warnPrivateJwksKeys). Inline `jwks` is checked the way Istio's library parses it
 * (github.com/lestrrat-go/jwx v1 `jwk.Parse`), which only decodes: it does not check that keys
 * are usable, so neither do we.
 */
import { X509Certificate } from 'node:crypto';
import type { Reporter, SemanticValidator } from '../types.js';
import {
  durationError, isObject, msgList, type Obj, type Path, str, strList, validateMetadata,
  validatePolicySelection, validateStrictHTTPHeaderName,
} from './common.js';
import { jwksUriError } from './security-common.js';

/** validation.go: ValidateRequestAuthentication. */
export const validateRequestAuthentication: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;
  validatePolicySelection(s, report);
  msgList(s.jwtRules).forEach((rule, i) => {
    validateJwtRule(rule, ['spec', 'jwtRules', i], report);
  });
};

/** validation.go: validateJwtRule and warnPrivateJwksKeys for one `jwtRules` entry. */
function validateJwtRule(rule: Obj, path: Path, report: Reporter): void {
  strList(rule.audiences).forEach((aud, i) => {
    if (aud === '') report.error([...path, 'audiences', i], 'audience must be non-empty string', 'remove the empty entry; an empty audiences list accepts any audience');
  });
  const issuer = str(rule.issuer);
  // The CRD declares both spellings; jsonpb reads `jwks_uri` first and lets `jwksUri` override it.
  const uriField = rule.jwksUri !== undefined && rule.jwksUri !== null ? 'jwksUri' : 'jwks_uri';
  const jwksUri = str(rule[uriField]);
  if (issuer === '' && jwksUri === '') {
    report.error([...path, 'issuer'], 'issuer or jwksUri must be non-empty string', 'set issuer to the `iss` claim of the tokens, and jwksUri or jwks for their keys');
  }
  if (jwksUri !== '') {
    const err = jwksUriError(jwksUri);
    if (err) report.error([...path, uriField], err, 'use an absolute http:// or https:// URL, e.g. https://example.com/.well-known/jwks.json');
  }
  const jwks = str(rule.jwks);
  if (jwks !== '') {
    const parsed = parseJwks(jwks);
    if ('error' in parsed) {
      report.error([...path, 'jwks'], `jwks parse error: ${parsed.error}`, 'paste a JSON Web Key Set such as {"keys":[{"kty":"RSA","e":"AQAB","n":"..."}]}');
    } else {
      parsed.keys.forEach((k, i) => {
        if (k.private) {
          report.warn([...path, 'jwks'], `jwks key at index ${i} contains private key material; only public keys are used for verification`, 'publish only the public part of the key (drop "d" and the other private members, or use an asymmetric key)');
        }
      });
    }
  }
  msgList(rule.fromHeaders).forEach((h, i) => {
    if (str(h.name) === '') report.error([...path, 'fromHeaders', i, 'name'], 'location header name must be non-empty string', 'set the header name, e.g. Authorization');
  });
  strList(rule.fromParams).forEach((p, i) => {
    if (p === '') report.error([...path, 'fromParams', i], 'location query must be non-empty string', 'set the query parameter name, e.g. access_token');
  });
  strList(rule.fromCookies).forEach((c, i) => {
    if (c === '') report.error([...path, 'fromCookies', i], 'cookie name must be non-empty string', 'set the cookie name');
  });
  msgList(rule.outputClaimToHeaders).forEach((o, i) => {
    const claim = str(o.claim);
    const header = str(o.header);
    const p = [...path, 'outputClaimToHeaders', i];
    if (claim === '' || header === '') {
      report.error(claim === '' ? [...p, 'claim'] : [...p, 'header'], 'outputClaimToHeaders header and claim value must be non-empty string', 'set both claim (e.g. sub) and header (e.g. x-jwt-sub)');
      return;
    }
    const err = validateStrictHTTPHeaderName(header);
    if (err) report.error([...p, 'header'], err, 'use letters, digits, "-" and "_" only');
  });
  if (rule.timeout !== undefined && rule.timeout !== null) {
    const err = durationError(rule.timeout);
    if (err) report.error([...path, 'timeout'], err, 'use a whole number of milliseconds or more, e.g. 5s or 500ms');
  }
}

// ---------------------------------------------------------------------------------------------
// jwx v1 jwk.Parse: a JWK Set (`{"keys":[...]}`) or a single JWK; each key must have a known
// `kty`, its required members, base64 binary members, and parseable `x5c` certificates.
// ---------------------------------------------------------------------------------------------

interface ParsedKey {
  private: boolean;
}

const COMMON_STRING_MEMBERS = ['alg', 'kid', 'use', 'x5t', 'x5t#S256', 'x5u'];

interface KeyShape {
  goType: string;
  bytes: readonly string[];
  strings: readonly string[];
  required: readonly string[];
}

function keyShape(kty: string, isPrivate: boolean): KeyShape | undefined {
  switch (kty) {
    case 'RSA':
      return isPrivate
        ? { goType: '*jwk.rsaPrivateKey', bytes: ['d', 'dp', 'dq', 'e', 'n', 'p', 'q', 'qi'], strings: [], required: ['d', 'e', 'n'] }
        : { goType: '*jwk.rsaPublicKey', bytes: ['e', 'n'], strings: [], required: ['e', 'n'] };
    case 'EC':
      return isPrivate
        ? { goType: '*jwk.ecdsaPrivateKey', bytes: ['d', 'x', 'y'], strings: ['crv'], required: ['crv', 'd', 'x', 'y'] }
        : { goType: '*jwk.ecdsaPublicKey', bytes: ['x', 'y'], strings: ['crv'], required: ['crv', 'x', 'y'] };
    case 'OKP':
      return isPrivate
        ? { goType: '*jwk.okpPrivateKey', bytes: ['d', 'x'], strings: ['crv'], required: ['crv', 'd', 'x'] }
        : { goType: '*jwk.okpPublicKey', bytes: ['x'], strings: ['crv'], required: ['crv', 'x'] };
    case 'oct':
      return { goType: '*jwk.symmetricKey', bytes: ['k'], strings: [], required: ['k'] };
    default:
      return undefined;
  }
}

function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** Go encoding/json looks struct fields up case-insensitively (the last match wins). */
function foldedLookup(o: Obj, name: string): { present: boolean; value: unknown } {
  let found: { present: boolean; value: unknown } = { present: false, value: undefined };
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === name) found = { present: true, value: v };
  return found;
}

/** jwx internal/base64.Decode: picks the alphabet and padding from the text itself. */
function jwxBase64Error(src: string): string | undefined {
  const padded = src.endsWith('=');
  const url = !/[+/]/.test(src);
  const alphabet = url ? /^[A-Za-z0-9\-_]$/ : /^[A-Za-z0-9+/]$/;
  const s = src.replace(/[\r\n]/g, '');
  if (!padded) {
    if (s.includes('=')) return 'failed to decode source: illegal base64 data';
    if (s.length % 4 === 1) return 'failed to decode source: illegal base64 data';
    for (const c of s) if (!alphabet.test(c)) return 'failed to decode source: illegal base64 data';
    return undefined;
  }
  if (s.length % 4 !== 0) return 'failed to decode source: illegal base64 data';
  const body = s.replace(/={1,2}$/, '');
  if (s.length - body.length > 2 || body.includes('=')) return 'failed to decode source: illegal base64 data';
  for (const c of body) if (!alphabet.test(c)) return 'failed to decode source: illegal base64 data';
  return undefined;
}

function decodeBase64(src: string): Buffer {
  return Buffer.from(src.replace(/[\r\n]/g, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function parseKey(v: unknown): ParsedKey | { error: string } {
  if (v !== null && !isObject(v)) {
    return { error: `failed to unmarshal JSON into key hint: json: cannot unmarshal ${jsonTypeName(v)} into Go value of type struct { Kty string "json:\\"kty\\""; D json.RawMessage "json:\\"d\\"" }` };
  }
  const o: Obj = v ?? {};
  const ktyHint = foldedLookup(o, 'kty');
  if (ktyHint.present && ktyHint.value !== null && typeof ktyHint.value !== 'string') {
    return { error: `failed to unmarshal JSON into key hint: json: cannot unmarshal ${jsonTypeName(ktyHint.value)} into Go struct field .kty of type string` };
  }
  const kty = typeof ktyHint.value === 'string' ? ktyHint.value : '';
  const isPrivate = foldedLookup(o, 'd').present;
  const shape = keyShape(kty, isPrivate);
  if (!shape) return { error: `invalid key type from JSON (${kty})` };
  const fail = (m: string): { error: string } => ({ error: `failed to unmarshal JSON into key (${shape.goType}): ${m}` });
  for (const [member, value] of Object.entries(o)) {
    if (member === 'kty') {
      if (typeof value !== 'string' && value !== null) return fail(`error reading token: error reading next value: json: cannot unmarshal ${jsonTypeName(value)} into Go value of type string`);
      if (str(value) !== kty) return fail(`invalid kty value for RSAPublicKey (${str(value)})`);
    } else if (COMMON_STRING_MEMBERS.includes(member) || shape.strings.includes(member)) {
      if (typeof value !== 'string' && value !== null) return fail(`failed to decode value for key ${member}: error reading next value: json: cannot unmarshal ${jsonTypeName(value)} into Go value of type string`);
    } else if (shape.bytes.includes(member)) {
      if (typeof value !== 'string' && value !== null) return fail(`failed to decode value for key ${member}: error reading next value: json: cannot unmarshal ${jsonTypeName(value)} into Go value of type string`);
      if (typeof value === 'string' && jwxBase64Error(value)) return fail(`failed to decode value for key ${member}: expected base64 encoded []byte (string)`);
    } else if (member === 'key_ops') {
      if (value !== null && !(Array.isArray(value) && value.every((x) => typeof x === 'string' || x === null))) {
        return fail(`failed to decode value for key key_ops: json: cannot unmarshal ${jsonTypeName(value)} into Go value of type jwk.KeyOperationList`);
      }
    } else if (member === 'x5c') {
      if (value === null) continue;
      if (!Array.isArray(value) || !value.every((x) => typeof x === 'string' || x === null)) {
        return fail(`failed to decode value for key x5c: failed to unmarshal JSON into []string: json: cannot unmarshal ${jsonTypeName(value)} into Go value of type []string`);
      }
      for (const cert of value) {
        const text = str(cert);
        if (jwxBase64Error(text)) return fail('failed to decode value for key x5c: failed to base64 decode list element: failed to decode source: illegal base64 data');
        try {
          new X509Certificate(decodeBase64(text));
        } catch (e) {
          return fail(`failed to decode value for key x5c: failed to parse certificate: ${(e as Error).message}`);
        }
      }
    }
  }
  for (const r of shape.required) {
    if (!Object.prototype.hasOwnProperty.call(o, r)) return fail(`required field ${r} is missing`);
  }
  return { private: isPrivate || kty === 'oct' };
}

/** jwx v1 jwk.Parse; the error text follows the library's wrapping. */
export function parseJwks(text: string): { keys: ParsedKey[] } | { error: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return { error: `failed to unmarshal JWK set: ${(e as Error).message}` };
  }
  if (!isObject(data)) {
    if (Array.isArray(data)) return { error: "failed to unmarshal JWK set: expected '{', but got '['" };
    return { error: 'failed to unmarshal JWK set: error reading token: EOF' };
  }
  if (Object.prototype.hasOwnProperty.call(data, 'keys')) {
    const list = data.keys;
    if (list === null) return { keys: [] };
    if (!Array.isArray(list)) {
      return { error: `failed to unmarshal JWK set: failed to decode "keys": json: cannot unmarshal ${jsonTypeName(list)} into Go value of type []json.RawMessage` };
    }
    const keys: ParsedKey[] = [];
    for (let i = 0; i < list.length; i++) {
      const k = parseKey(list[i]);
      if ('error' in k) return { error: `failed to unmarshal JWK set: failed to decode key #${i} in "keys": ${k.error}` };
      keys.push(k);
    }
    return { keys };
  }
  const k = parseKey(data);
  if ('error' in k) return { error: `failed to unmarshal JWK set: failed to parse sole key in key set: ${k.error}` };
  return { keys: [k] };
}
