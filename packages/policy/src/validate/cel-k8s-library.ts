/**
 * The part of the Kubernetes CEL environment that Istio's CRD rules need and that
 * @marcbachmann/cel-js does not provide with Kubernetes' (cel-go's) semantics:
 *
 * - the URL library (`url()`, `isURL()`, `getScheme()`...), which Kubernetes builds on Go's
 *   net/url, ported here so that exactly the URLs Go accepts are accepted;
 * - `matches()` with RE2 (Go's regexp), partial match, never JavaScript's RegExp;
 * - `int()` and `duration()` with Go's `strconv.ParseInt` / `time.ParseDuration` syntax and
 *   cel-go's "type conversion error" wording;
 * - the strings extension (`substring`, `indexOf`, `lowerAscii`, `split`...) counting Unicode
 *   code points, as cel-go does, instead of UTF-16 units.
 *
 * cel-js's own overloads for these names cannot be replaced in an environment, so rule text
 * is rewritten (outside string literals) to call the `__k8s_*` functions registered here.
 */
import { isIPv6 } from 'node:net';
import type { Environment } from '@marcbachmann/cel-js';
import { compileRe2, type Re2Pattern } from '../util/regex.js';

/** An error whose text is cel-go's, reported as Kubernetes reports evaluation errors. */
export class CelGoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CelGoError';
  }
}

// ---------------------------------------------------------------------------------------------
// Rewriting rule text to the overriding functions.

/** cel-js built-ins whose semantics differ from cel-go's, and the names that replace them. */
const OVERRIDES: ReadonlyMap<string, string> = new Map([
  ['matches', '__k8s_matches'],
  ['int', '__k8s_int'],
  ['duration', '__k8s_duration'],
  ['substring', '__k8s_substring'],
  ['indexOf', '__k8s_indexOf'],
  ['lastIndexOf', '__k8s_lastIndexOf'],
  ['lowerAscii', '__k8s_lowerAscii'],
  ['upperAscii', '__k8s_upperAscii'],
  ['split', '__k8s_split'],
]);

export interface RewrittenExpression {
  /** The expression with overridden function names replaced. */
  text: string;
  /** True when the expression reads the `oldSelf` variable (a transition rule). */
  usesOldSelf: boolean;
}

/**
 * Renames calls of overridden functions (`x.matches(`, `int(`) and finds `oldSelf`, skipping
 * string and bytes literals and comments, so user text inside quotes is never touched.
 */
export function rewriteExpression(expr: string): RewrittenExpression {
  let out = '';
  let usesOldSelf = false;
  let i = 0;
  const n = expr.length;
  let prevSignificant = '';
  while (i < n) {
    const c = expr[i]!;
    // Comments run to the end of the line.
    if (c === '/' && expr[i + 1] === '/') {
      const end = expr.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += expr.slice(i, stop);
      i = stop;
      continue;
    }
    // String and bytes literals, with optional r/b prefixes.
    const lit = literalEnd(expr, i);
    if (lit > i) {
      out += expr.slice(i, lit);
      i = lit;
      prevSignificant = '"';
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(expr[j]!)) j++;
      const ident = expr.slice(i, j);
      let k = j;
      while (k < n && /\s/.test(expr[k]!)) k++;
      const isCall = expr[k] === '(';
      const replacement = isCall ? OVERRIDES.get(ident) : undefined;
      if (ident === 'oldSelf' && prevSignificant !== '.') usesOldSelf = true;
      out += replacement ?? ident;
      i = j;
      prevSignificant = 'a';
      continue;
    }
    if (!/\s/.test(c)) prevSignificant = c;
    out += c;
    i++;
  }
  return { text: out, usesOldSelf };
}

/** If a string or bytes literal starts at `i`, returns the index after it; otherwise `i`. */
function literalEnd(s: string, i: number): number {
  let j = i;
  let raw = false;
  // Up to two prefix letters among r/R and b/B, directly followed by a quote.
  for (let p = 0; p < 2 && j < s.length; p++) {
    const ch = s[j]!;
    if (ch === 'r' || ch === 'R') {
      raw = true;
      j++;
    } else if (ch === 'b' || ch === 'B') {
      j++;
    } else break;
  }
  const q = s[j];
  if (q !== '"' && q !== "'") return i;
  // A prefix must not be the tail of an identifier (`attr"` is not a literal prefix).
  if (j > i && i > 0 && /[A-Za-z0-9_]/.test(s[i - 1]!)) return i;
  const triple = s.startsWith(q.repeat(3), j);
  const delim = triple ? q.repeat(3) : q;
  let k = j + delim.length;
  while (k < s.length) {
    if (!raw && s[k] === '\\') {
      k += 2;
      continue;
    }
    if (s.startsWith(delim, k)) return k + delim.length;
    if (!triple && s[k] === '\n') return k; // unterminated: let the parser report it
    k++;
  }
  return s.length;
}

// ---------------------------------------------------------------------------------------------
// Code point helpers (cel-go strings are sequences of runes).

function runesOf(s: string): string[] {
  return Array.from(s);
}

function toNumberIndex(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : v < -BigInt(Number.MAX_SAFE_INTEGER) ? -Number.MAX_SAFE_INTEGER : Number(v);
}

// cel-go ext/strings.go: substr, substrRange
function substr(str: string, start: bigint): string {
  const runes = runesOf(str);
  const s = toNumberIndex(start);
  if (s < 0 || s > runes.length) throw new CelGoError(`index out of range: ${start}`);
  return runes.slice(s).join('');
}

function substrRange(str: string, start: bigint, end: bigint): string {
  const runes = runesOf(str);
  if (start > end) throw new CelGoError(`invalid substring range. start: ${start}, end: ${end}`);
  const s = toNumberIndex(start);
  const e = toNumberIndex(end);
  if (s < 0 || s > runes.length) throw new CelGoError(`index out of range: ${start}`);
  if (e < 0 || e > runes.length) throw new CelGoError(`index out of range: ${end}`);
  return runes.slice(s, e).join('');
}

// cel-go ext/strings.go: indexOfOffset
function indexOfOffset(str: string, sub: string, offset: bigint): bigint {
  if (sub === '') return offset;
  const runes = runesOf(str);
  const subr = runesOf(sub);
  const off = toNumberIndex(offset);
  if (off < 0) throw new CelGoError(`index out of range: ${offset}`);
  if (off >= runes.length) return -1n;
  for (let i = off; i < runes.length - (subr.length - 1); i++) {
    let found = true;
    for (let j = 0; j < subr.length; j++) {
      if (runes[i + j] !== subr[j]) {
        found = false;
        break;
      }
    }
    if (found) return BigInt(i);
  }
  return -1n;
}

// cel-go ext/strings.go: lastIndexOf, lastIndexOfOffset
function lastIndexOf(str: string, sub: string): bigint {
  const runes = runesOf(str);
  if (sub === '') return BigInt(runes.length);
  if (str.length < sub.length) return -1n;
  return lastIndexOfOffset(str, sub, BigInt(runes.length - 1));
}

function lastIndexOfOffset(str: string, sub: string, offset: bigint): bigint {
  if (sub === '') return offset;
  const runes = runesOf(str);
  const subr = runesOf(sub);
  let off = toNumberIndex(offset);
  if (off < 0) throw new CelGoError(`index out of range: ${offset}`);
  if (off >= runes.length) return -1n;
  if (off > runes.length - subr.length) off = runes.length - subr.length;
  for (let i = off; i >= 0; i--) {
    let found = true;
    for (let j = 0; j < subr.length; j++) {
      if (runes[i + j] !== subr[j]) {
        found = false;
        break;
      }
    }
    if (found) return BigInt(i);
  }
  return -1n;
}

// cel-go ext/strings.go: lowerASCII / upperASCII change ASCII letters only.
function lowerAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function upperAscii(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

// Go strings.SplitN: n < 0 means all; n == 0 means none; an empty separator splits runes.
function splitN(s: string, sep: string, n: bigint): string[] {
  if (n === 0n) return [];
  const limit = n < 0n ? Infinity : toNumberIndex(n);
  if (sep === '') {
    const runes = runesOf(s);
    if (runes.length <= limit) return runes;
    const head = runes.slice(0, limit - 1);
    head.push(runes.slice(limit - 1).join(''));
    return head;
  }
  const parts = s.split(sep);
  if (parts.length <= limit) return parts;
  const head = parts.slice(0, limit - 1);
  head.push(parts.slice(limit - 1).join(sep));
  return head;
}

// ---------------------------------------------------------------------------------------------
// Conversions with cel-go's rules.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go strconv.ParseInt(s, 10, 64): optional sign, decimal digits, and an underscore-free body. */
export function parseGoInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

// cel-go common/types/string.go: String.ConvertToType(IntType)
function stringToInt(s: string): bigint {
  const v = parseGoInt64(s);
  if (v === undefined) throw new CelGoError("type conversion error from 'string' to 'int'");
  return v;
}

// cel-go common/types/double.go: Double.ConvertToType(IntType) rejects values outside int64.
function doubleToInt(d: number): bigint {
  if (!Number.isFinite(d) || d <= -9223372036854775808 || d >= 9223372036854775807) throw new CelGoError('integer overflow');
  return BigInt(Math.trunc(d));
}

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Go time.ParseDuration, in nanoseconds; `undefined` when Go rejects the text. */
export function parseGoDuration(orig: string): bigint | undefined {
  // time/format.go: ParseDuration
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let d = 0n;
  const limit = 1n << 63n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) return undefined;
    let i = 0;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
    const intDigits = s.slice(0, i);
    if (intDigits !== '' && BigInt(intDigits) > limit) return undefined; // leadingInt overflow
    let v = intDigits === '' ? 0n : BigInt(intDigits);
    const pre = intDigits !== '';
    s = s.slice(i);
    let frac = '';
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      while (j < s.length && s[j]! >= '0' && s[j]! <= '9') j++;
      frac = s.slice(0, j);
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return undefined;
    let u = 0;
    while (u < s.length && s[u] !== '.' && !(s[u]! >= '0' && s[u]! <= '9')) u++;
    if (u === 0) return undefined;
    const unit = UNIT_NS[s.slice(0, u)];
    if (unit === undefined) return undefined;
    s = s.slice(u);
    if (v > limit / unit) return undefined;
    v *= unit;
    if (frac !== '') {
      // Go keeps at most the digits that fit before overflow and scales with float64.
      let f = 0n;
      let scale = 1;
      let overflow = false;
      for (const ch of frac) {
        if (overflow) continue;
        if (f > (1n << 63n) / 10n) {
          overflow = true;
          continue;
        }
        const next = f * 10n + BigInt(ch.charCodeAt(0) - 48);
        if (next > 1n << 63n) {
          overflow = true;
          continue;
        }
        f = next;
        scale *= 10;
      }
      if (f > 0n) {
        v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
        if (v > limit) return undefined;
      }
    }
    d += v;
    if (d > limit) return undefined;
  }
  if (neg) return -d;
  if (d > limit - 1n) return undefined;
  return d;
}

// ---------------------------------------------------------------------------------------------
// RE2 for matches(): compiled once per distinct pattern.

const regexCache = new Map<string, Re2Pattern | { error: string }>();
const REGEX_CACHE_LIMIT = 512;

function re2(pattern: string): Re2Pattern {
  let r = regexCache.get(pattern);
  if (r === undefined) {
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    r = compileRe2(pattern);
    regexCache.set(pattern, r);
  }
  // cel-go returns Go's regexp compile error text; RE2's own text is the closest available.
  if ('error' in r) throw new CelGoError(`error parsing regexp: ${r.error}`);
  return r;
}

/** CEL `matches`: true when the RE2 pattern matches anywhere in the string (cel-go semantics). */
export function celMatches(s: string, pattern: string): boolean {
  return re2(pattern).search(s);
}

// ---------------------------------------------------------------------------------------------
// Go net/url, ported for the Kubernetes URL library (k8s.io/apiserver/pkg/cel/library/urls.go).

type UrlEncoding = 'path' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

class UrlParseError extends Error {}

/** The parsed URL value that `url()` returns (apiservercel.URL). */
export class KubernetesUrl {
  constructor(
    readonly scheme: string,
    readonly opaque: string,
    readonly host: string,
    readonly path: string,
    readonly rawPath: string,
    readonly rawQuery: string,
  ) {}

  // net/url: URL.Hostname / URL.Port use splitHostPort.
  hostname(): string {
    return splitHostPort(this.host)[0];
  }

  port(): string {
    return splitHostPort(this.host)[1];
  }

  // net/url: URL.EscapedPath
  escapedPath(): string {
    if (this.rawPath !== '' && validEncoded(this.rawPath, 'path')) {
      try {
        if (unescape(this.rawPath, 'path') === this.path) return this.rawPath;
      } catch {
        // fall through to escaping
      }
    }
    if (this.path === '*') return '*';
    return escape(this.path, 'path');
  }

  // net/url: URL.Query (ParseQuery, ignoring malformed pairs)
  query(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    let q = this.rawQuery;
    while (q !== '') {
      const amp = q.indexOf('&');
      let key = amp < 0 ? q : q.slice(0, amp);
      q = amp < 0 ? '' : q.slice(amp + 1);
      if (key.includes(';') || key === '') continue;
      const eq = key.indexOf('=');
      let value = eq < 0 ? '' : key.slice(eq + 1);
      key = eq < 0 ? key : key.slice(0, eq);
      try {
        key = unescape(key, 'queryComponent');
        value = unescape(value, 'queryComponent');
      } catch {
        continue;
      }
      const list = m.get(key);
      if (list) list.push(value);
      else m.set(key, [value]);
    }
    return m;
  }
}

function ishex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function unhex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

function goQuoteAscii(s: string): string {
  return JSON.stringify(s);
}

// net/url: shouldEscape
function shouldEscape(c: number, mode: UrlEncoding): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return false;
  const ch = String.fromCharCode(c);
  if (mode === 'host' || mode === 'zone') {
    if ("!$&'()*+,;=:[]<>\"".includes(ch)) return false;
  }
  if ('-_.~'.includes(ch)) return false;
  if ('$&+,/:;=?@'.includes(ch)) {
    switch (mode) {
      case 'path':
        return ch === '?';
      case 'userPassword':
        return ch === '@' || ch === '/' || ch === '?' || ch === ':';
      case 'queryComponent':
        return true;
      case 'fragment':
        return false;
      default:
        break;
    }
  }
  if (mode === 'fragment' && '!()*'.includes(ch)) return false;
  return true;
}

// net/url: unescape, over UTF-8 bytes.
function unescape(s: string, mode: UrlEncoding): string {
  const b = Buffer.from(s, 'utf8');
  let n = 0;
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c === 0x25) {
      n++;
      if (i + 2 >= b.length || !ishex(b[i + 1]!) || !ishex(b[i + 2]!)) {
        const bad = b.subarray(i, Math.min(i + 3, b.length)).toString('latin1');
        throw new UrlParseError(`invalid URL escape ${goQuoteAscii(bad)}`);
      }
      const seq = b.subarray(i, i + 3).toString('latin1');
      if (mode === 'host' && unhex(b[i + 1]!) < 8 && seq !== '%25') throw new UrlParseError(`invalid URL escape ${goQuoteAscii(seq)}`);
      if (mode === 'zone') {
        const v = (unhex(b[i + 1]!) << 4) | unhex(b[i + 2]!);
        if (seq !== '%25' && v !== 0x20 && shouldEscape(v, 'host')) throw new UrlParseError(`invalid URL escape ${goQuoteAscii(seq)}`);
      }
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && c < 0x80 && shouldEscape(c, mode)) {
        throw new UrlParseError(`invalid character ${goQuoteAscii(String.fromCharCode(c))} in host name`);
      }
      i++;
    }
  }
  if (n === 0 && !(mode === 'queryComponent' && s.includes('+'))) return s;
  const out: number[] = [];
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c === 0x25) {
      out.push((unhex(b[i + 1]!) << 4) | unhex(b[i + 2]!));
      i += 3;
    } else if (c === 0x2b && mode === 'queryComponent') {
      out.push(0x20);
      i++;
    } else {
      out.push(c);
      i++;
    }
  }
  return Buffer.from(out).toString('utf8');
}

// net/url: escape
function escape(s: string, mode: UrlEncoding): string {
  const b = Buffer.from(s, 'utf8');
  let out = '';
  for (const c of b) {
    if (shouldEscape(c, mode)) {
      if (c === 0x20 && mode === 'queryComponent') out += '+';
      else out += '%' + c.toString(16).toUpperCase().padStart(2, '0');
    } else out += String.fromCharCode(c);
  }
  return out;
}

// net/url: validEncoded
function validEncoded(s: string, mode: UrlEncoding): boolean {
  const b = Buffer.from(s, 'utf8');
  for (const c of b) {
    const ch = String.fromCharCode(c);
    if ("!$&'()*+,;=:@[]%".includes(ch)) continue;
    if (shouldEscape(c, mode)) return false;
  }
  return true;
}

// net/url: validOptionalPort
function validOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port[0] !== ':') return false;
  for (let i = 1; i < port.length; i++) {
    const c = port.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// net/url: splitHostPort
function splitHostPort(hostPort: string): [string, string] {
  let host = hostPort;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && validOptionalPort(host.slice(colon))) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return [host, port];
}

// net/url: parseHost, including the bracketed-IPv6 check added in Go 1.25.2 / 1.24.8.
function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlParseError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) throw new UrlParseError(`invalid port ${goQuoteAscii(colonPort)} after host`);
    const zone = host.slice(0, i).indexOf('%25');
    let literal: string;
    let result: string | undefined;
    if (zone >= 0) {
      const host1 = unescape(host.slice(0, zone), 'host');
      const host2 = unescape(host.slice(zone, i), 'zone');
      const host3 = unescape(host.slice(i), 'host');
      literal = host1.slice(1);
      result = host1 + host2 + host3;
    } else {
      literal = host.slice(1, i);
    }
    // Only an IPv6 address may be bracketed (IPv4-mapped IPv6 is allowed).
    if (!isIPv6(literal)) throw new UrlParseError(`invalid host: ParseAddr(${goQuoteAscii(literal)}): invalid IP-literal`);
    if (result !== undefined) return result;
  } else {
    const i = host.lastIndexOf(':');
    if (i !== -1) {
      const colonPort = host.slice(i);
      if (!validOptionalPort(colonPort)) throw new UrlParseError(`invalid port ${goQuoteAscii(colonPort)} after host`);
    }
  }
  return unescape(host, 'host');
}

// net/url: validUserinfo
function validUserinfo(s: string): boolean {
  for (const ch of s) {
    if (/[A-Za-z0-9]/.test(ch)) continue;
    if ("-._:~!$&'()*+,;=%@".includes(ch)) continue;
    return false;
  }
  return true;
}

// net/url: parseAuthority (returns the host; user info is validated and discarded)
function parseAuthority(authority: string): string {
  const i = authority.lastIndexOf('@');
  const host = parseHost(i < 0 ? authority : authority.slice(i + 1));
  if (i < 0) return host;
  const userinfo = authority.slice(0, i);
  if (!validUserinfo(userinfo)) throw new UrlParseError('net/url: invalid userinfo');
  const colon = userinfo.indexOf(':');
  if (colon < 0) unescape(userinfo, 'userPassword');
  else {
    unescape(userinfo.slice(0, colon), 'userPassword');
    unescape(userinfo.slice(colon + 1), 'userPassword');
  }
  return host;
}

// net/url: getScheme
function getScheme(rawURL: string): [string, string] {
  for (let i = 0; i < rawURL.length; i++) {
    const c = rawURL.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) continue;
    if ((c >= 48 && c <= 57) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return ['', rawURL];
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) throw new UrlParseError('missing protocol scheme');
      return [rawURL.slice(0, i), rawURL.slice(i + 1)];
    }
    return ['', rawURL];
  }
  return ['', rawURL];
}

function hasCtlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

// net/url: parse
function parseUrl(rawURL: string, viaRequest: boolean): KubernetesUrl {
  if (hasCtlByte(rawURL)) throw new UrlParseError('net/url: invalid control character in URL');
  if (rawURL === '' && viaRequest) throw new UrlParseError('empty url');
  if (rawURL === '*') return new KubernetesUrl('', '', '', '*', '', '');
  let [scheme, rest] = getScheme(rawURL);
  scheme = scheme.toLowerCase();
  let rawQuery = '';
  if (rest.endsWith('?') && rest.split('?').length === 2) {
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf('?');
    if (q >= 0) {
      rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return new KubernetesUrl(scheme, rest, '', '', '', rawQuery);
    if (viaRequest) throw new UrlParseError('invalid URI for request');
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    if (segment.includes(':')) throw new UrlParseError('first path segment in URL cannot contain colon');
  }
  let host = '';
  if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    host = parseAuthority(authority);
  }
  // url.setPath: RawPath is kept only when it differs from the default encoding.
  const path = unescape(rest, 'path');
  const rawPath = escape(path, 'path') === rest ? '' : rest;
  return new KubernetesUrl(scheme, '', host, path, rawPath, rawQuery);
}

function urlError(op: string, raw: string, e: unknown): string {
  return `${op} ${JSON.stringify(raw)}: ${(e as Error).message}`;
}

// net/url: ParseRequestURI
function parseRequestUri(raw: string): KubernetesUrl {
  try {
    return parseUrl(raw, true);
  } catch (e) {
    if (e instanceof UrlParseError) throw new UrlParseError(urlError('parse', raw, e));
    throw e;
  }
}

// net/url: Parse (fragment cut off and validated)
function parseFullUrl(raw: string): KubernetesUrl {
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  let parsed: KubernetesUrl;
  try {
    parsed = parseUrl(u, false);
  } catch (e) {
    if (e instanceof UrlParseError) throw new UrlParseError(urlError('parse', u, e));
    throw e;
  }
  if (hash >= 0) {
    try {
      unescape(raw.slice(hash + 1), 'fragment');
    } catch (e) {
      throw new UrlParseError(urlError('parse', raw, e));
    }
  }
  return parsed;
}

/** Kubernetes `isURL(string)`: url.ParseRequestURI succeeds. */
export function isUrl(s: string): boolean {
  try {
    parseRequestUri(s);
    return true;
  } catch (e) {
    if (e instanceof UrlParseError) return false;
    throw e;
  }
}

/** Kubernetes `url(string)`: ParseRequestURI must succeed, the value is url.Parse's. */
export function toUrl(s: string): KubernetesUrl {
  try {
    parseRequestUri(s);
    return parseFullUrl(s);
  } catch (e) {
    if (e instanceof UrlParseError) throw new CelGoError(`URL parse error during conversion from string: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Registration.

type DurationCtor = new (seconds: bigint | number, nanos?: number) => unknown;

/** Registers the Kubernetes library functions and the cel-go-compatible overrides. */
export function registerKubernetesLibrary(env: Environment, durationCtor: DurationCtor): void {
  const makeDuration = (ns: bigint): unknown => {
    const seconds = ns / 1_000_000_000n;
    const nanos = Number(ns % 1_000_000_000n);
    return new durationCtor(seconds, nanos);
  };

  // No fields: as in Kubernetes, a URL is read only through its functions.
  env.registerType('kubernetes.URL', { ctor: KubernetesUrl as unknown as new (...args: unknown[]) => unknown, fields: {} });
  env
    .registerFunction('url(string): kubernetes.URL', (s: string) => toUrl(s))
    .registerFunction('isURL(string): bool', (s: string) => isUrl(s))
    .registerFunction('kubernetes.URL.getScheme(): string', (u: KubernetesUrl) => u.scheme)
    .registerFunction('kubernetes.URL.getHost(): string', (u: KubernetesUrl) => u.host)
    .registerFunction('kubernetes.URL.getHostname(): string', (u: KubernetesUrl) => u.hostname())
    .registerFunction('kubernetes.URL.getPort(): string', (u: KubernetesUrl) => u.port())
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: KubernetesUrl) => u.escapedPath())
    .registerFunction('kubernetes.URL.getQuery(): map<string, list<string>>', (u: KubernetesUrl) => u.query());

  env
    .registerFunction('string.__k8s_matches(string): bool', (s: string, p: string) => celMatches(s, p))
    .registerFunction('__k8s_matches(string, string): bool', (s: string, p: string) => celMatches(s, p))
    .registerFunction('__k8s_int(int): int', (v: bigint) => v)
    .registerFunction('__k8s_int(uint): int', (v: { valueOf(): bigint }) => {
      const x = v.valueOf();
      if (x > INT64_MAX) throw new CelGoError('integer overflow');
      return x;
    })
    .registerFunction('__k8s_int(double): int', (v: number) => doubleToInt(v))
    .registerFunction('__k8s_int(string): int', (v: string) => stringToInt(v))
    .registerFunction('__k8s_int(google.protobuf.Timestamp): int', (d: Date) => BigInt(Math.floor(d.getTime() / 1000)))
    .registerFunction('__k8s_duration(string): google.protobuf.Duration', (s: string) => {
      const ns = parseGoDuration(s);
      if (ns === undefined) throw new CelGoError("type conversion error from 'string' to 'google.protobuf.Duration'");
      return makeDuration(ns);
    })
    .registerFunction('__k8s_duration(google.protobuf.Duration): google.protobuf.Duration', (d: unknown) => d)
    .registerFunction('string.__k8s_substring(int): string', (s: string, a: bigint) => substr(s, a))
    .registerFunction('string.__k8s_substring(int, int): string', (s: string, a: bigint, b: bigint) => substrRange(s, a, b))
    .registerFunction('string.__k8s_indexOf(string): int', (s: string, x: string) => indexOfOffset(s, x, 0n))
    .registerFunction('string.__k8s_indexOf(string, int): int', (s: string, x: string, o: bigint) => indexOfOffset(s, x, o))
    .registerFunction('string.__k8s_lastIndexOf(string): int', (s: string, x: string) => lastIndexOf(s, x))
    .registerFunction('string.__k8s_lastIndexOf(string, int): int', (s: string, x: string, o: bigint) => lastIndexOfOffset(s, x, o))
    .registerFunction('string.__k8s_lowerAscii(): string', (s: string) => lowerAscii(s))
    .registerFunction('string.__k8s_upperAscii(): string', (s: string) => upperAscii(s))
    .registerFunction('string.__k8s_split(string): list<string>', (s: string, sep: string) => splitN(s, sep, -1n))
    .registerFunction('string.__k8s_split(string, int): list<string>', (s: string, sep: string, n: bigint) => splitN(s, sep, n));
}
