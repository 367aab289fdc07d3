/**
 * The part of the Kubernetes CEL environment that Istio's CRD rules need and that
 * @marcbachmann/cel-js does not provide with Kubernetes' (cel-go's) semantics:
 *
 * - the URL library (`url()`, `isURL()`, `getScheme()`...), which Kubernetes builds on Go's
 *   net/url (ported in go-compat.ts), so that exactly the URLs Go accepts are accepted;
 * - `matches()` with RE2 (Go's regexp), partial match, never JavaScript's RegExp;
 * - `int()` and `duration()` with Go's `strconv.ParseInt` / `time.ParseDuration` syntax and
 *   cel-go's "type conversion error" wording;
 * - the strings extension (`substring`, `indexOf`, `lowerAscii`, `split`...) counting Unicode
 *   code points, as cel-go does, instead of UTF-16 units.
 *
 * cel-js's own overloads for these names cannot be replaced in an environment, so rule text
 * is rewritten (outside string literals) to call the `__k8s_*` functions registered here.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { compileRe2, type Re2Pattern } from '../util/regex.js';
import { GoUrl, goUrlParse, goUrlParseRequestURI, parseGoDuration, parseGoInt64 } from './go-compat.js';

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

/** True when `sub` occurs in `runes` at index `i`. */
function runesAt(runes: readonly string[], sub: readonly string[], i: number): boolean {
  for (let j = 0; j < sub.length; j++) if (runes[i + j] !== sub[j]) return false;
  return true;
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
    if (runesAt(runes, subr, i)) return BigInt(i);
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
    if (runesAt(runes, subr, i)) return BigInt(i);
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

const INT64_MAX = 2n ** 63n - 1n;

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
// The Kubernetes URL library (k8s.io/apiserver/pkg/cel/library/urls.go), on Go's net/url.

/** Kubernetes `isURL(string)`: url.ParseRequestURI succeeds. */
export function isUrl(s: string): boolean {
  return !('error' in goUrlParseRequestURI(s));
}

/** Kubernetes `url(string)`: ParseRequestURI must succeed, the value is url.Parse's. */
export function toUrl(s: string): GoUrl {
  const checked = goUrlParseRequestURI(s);
  const u = 'error' in checked ? checked : goUrlParse(s);
  if ('error' in u) throw new CelGoError(`URL parse error during conversion from string: ${u.error}`);
  return u;
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
  env.registerType('kubernetes.URL', { ctor: GoUrl as unknown as new (...args: unknown[]) => unknown, fields: {} });
  env
    .registerFunction('url(string): kubernetes.URL', (s: string) => toUrl(s))
    .registerFunction('isURL(string): bool', (s: string) => isUrl(s))
    .registerFunction('kubernetes.URL.getScheme(): string', (u: GoUrl) => u.scheme)
    .registerFunction('kubernetes.URL.getHost(): string', (u: GoUrl) => u.host)
    .registerFunction('kubernetes.URL.getHostname(): string', (u: GoUrl) => u.hostname())
    .registerFunction('kubernetes.URL.getPort(): string', (u: GoUrl) => u.port())
    .registerFunction('kubernetes.URL.getEscapedPath(): string', (u: GoUrl) => u.escapedPath())
    .registerFunction('kubernetes.URL.getQuery(): map<string, list<string>>', (u: GoUrl) => u.query());

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
      if (typeof ns !== 'bigint') throw new CelGoError("type conversion error from 'string' to 'google.protobuf.Duration'");
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
