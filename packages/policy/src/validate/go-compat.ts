/**
 * The Go standard-library functions whose exact acceptance and error text Istio's webhook (and
 * Kubernetes' CEL library) inherit, ported once for every validator: strconv (Quote, ParseBool,
 * ParseInt), fmt's `%v` for floats, time.ParseDuration, net/netip (ParseAddr, ParsePrefix) and
 * net/url (Parse, ParseRequestURI). Users search for the error text they saw from
 * `kubectl apply`, so each error reads exactly as Go prints it.
 */

// ---------------------------------------------------------------------------------------------
// strconv.Quote and fmt.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const QUOTE_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x0b, '\\v'],
  [0x22, '\\"'],
  [0x5c, '\\\\'],
]);

/** utf8.DecodeRune: the code point and width at `i`, or -1 (width 1) for an invalid sequence. */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const c0 = b[i]!;
  if (c0 < 0x80) return [c0, 1];
  const cont = (j: number, lo = 0x80, hi = 0xbf): number => {
    const c = b[i + j];
    return c !== undefined && c >= lo && c <= hi ? c & 0x3f : -1;
  };
  if (c0 >= 0xc2 && c0 < 0xe0) {
    const c1 = cont(1);
    if (c1 >= 0) return [((c0 & 0x1f) << 6) | c1, 2];
  } else if (c0 >= 0xe0 && c0 < 0xf0) {
    const c1 = cont(1, c0 === 0xe0 ? 0xa0 : 0x80, c0 === 0xed ? 0x9f : 0xbf);
    const c2 = c1 >= 0 ? cont(2) : -1;
    if (c2 >= 0) return [((c0 & 0x0f) << 12) | (c1 << 6) | c2, 3];
  } else if (c0 >= 0xf0 && c0 < 0xf5) {
    const c1 = cont(1, c0 === 0xf0 ? 0x90 : 0x80, c0 === 0xf4 ? 0x8f : 0xbf);
    const c2 = c1 >= 0 ? cont(2) : -1;
    const c3 = c2 >= 0 ? cont(3) : -1;
    if (c3 >= 0) return [((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4];
  }
  return [-1, 1];
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/**
 * strconv.Quote (fmt's `%q`) over the UTF-8 bytes of `s`: Go escapes, `\xNN` for control and
 * invalid bytes, `\u`/`\U` for runes strconv.IsPrint rejects. Bytes are accepted because net/url
 * quotes byte slices that can cut a multi-byte character.
 */
export function goQuote(s: string | Uint8Array): string {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  let out = '"';
  for (let i = 0; i < b.length; ) {
    const [r, width] = decodeRune(b, i);
    i += width;
    if (r < 0) {
      out += `\\x${hex(b[i - 1]!, 2)}`;
      continue;
    }
    const esc = QUOTE_ESCAPES.get(r);
    if (esc !== undefined) out += esc;
    else if (r < 0x20 || r === 0x7f) out += `\\x${hex(r, 2)}`;
    else if (r < 0x7f || PRINTABLE.test(String.fromCodePoint(r))) out += String.fromCodePoint(r);
    else if (r < 0x10000) out += `\\u${hex(r, 4)}`;
    else out += `\\U${hex(r, 8)}`;
  }
  return out + '"';
}

/** At most this many characters of an input value are shown in a diagnostic message. */
export const MAX_SHOWN_VALUE = 200;

/** `s` cut after `max` UTF-16 units, never inside a surrogate pair; `undefined` when it is not longer. */
function cut(s: string, max: number): string | undefined {
  if (s.length <= max) return undefined;
  const end = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return s.slice(0, end);
}

function characters(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * How a diagnostic message quotes a value taken from the input: Go's `%q` (strconv.Quote, so
 * control characters, line breaks and invalid text are escaped and the message stays one line),
 * cut after `max` characters with the full length told: `"xxxx…" (1048576 characters)`.
 * Values up to `max` characters read exactly as Go prints them.
 */
export function quoteValue(value: string, max = MAX_SHOWN_VALUE): string {
  const head = cut(value, max);
  if (head === undefined) return goQuote(value);
  return `${goQuote(head).slice(0, -1)}…" (${characters(value)} characters)`;
}

/**
 * Text that is already escaped (JSON, a Go `%v` of a list or map) cut after `max` characters,
 * with the full length told: `{"a":"xxxx…"… (1048576 characters)`.
 */
export function clipShown(text: string, max = MAX_SHOWN_VALUE): string {
  const head = cut(text, max);
  return head === undefined ? text : `${head}… (${characters(text)} characters)`;
}

/** Characters that would break a one-line message or hide what it shows. */
const UNSAFE_BARE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\uFFFD]/u;

/**
 * A value taken from the input where the message shows it bare (Go's `%s`/`%v`): as it is when
 * it is at most `max` characters of printable text, else quoted as `quoteValue` does.
 */
export function showValue(value: string, max = MAX_SHOWN_VALUE): string {
  return value.length <= max && !UNSAFE_BARE.test(value) ? value : quoteValue(value, max);
}

/** At most this many characters in a whole diagnostic message (a backstop: values are cut first). */
export const MAX_MESSAGE_LENGTH = 1000;

/**
 * A whole message made safe to show on one line: line breaks and other control characters
 * escaped, and cut to `max` characters (the start and the end kept: the end usually says
 * what rule was broken). For messages assembled from parts that were not quoted one by one.
 */
export function boundMessage(message: string, max = MAX_MESSAGE_LENGTH): string {
  // eslint-disable-next-line no-control-regex
  let m = message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${hex(c.charCodeAt(0), 4)}`));
  if (m.length > max) {
    const tail = Math.floor(max / 4);
    const head = cut(m, max - tail - 1) ?? m;
    let end = m.length - tail;
    if (m.charCodeAt(end) >= 0xdc00 && m.charCodeAt(end) <= 0xdfff) end++;
    m = `${head}…${m.slice(end)}`;
  }
  return m;
}

/** fmt's `%v` for a float64 (strconv 'g', shortest: exponent form below 1e-04 and from 1e+06). */
export function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-])(\d+)$/.exec(f.toExponential());
  if (!m) return String(f);
  const exp = Number(m[5]) * (m[4] === '-' ? -1 : 1);
  if (exp < -4 || exp >= 6) {
    const digits = m[3] ? `${m[2]}.${m[3]}` : m[2]!;
    return `${m[1]}${digits}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(f);
}

/** fmt's `%f` (six decimals). */
export function goFixed(f: number): string {
  return f.toFixed(6);
}

/** fmt's `%v` for a `[]string`: `[a b c]`. */
export function goStringList(xs: readonly unknown[]): string {
  return `[${xs.map((x) => String(x)).join(' ')}]`;
}

// ---------------------------------------------------------------------------------------------
// strconv parsing.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64): optional sign and decimal digits (no underscores), in int64 range. */
export function parseGoInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** strconv.Atoi (ParseInt with 64 bits), as a number; `undefined` where Go returns an error. */
export function goAtoi(s: string): number | undefined {
  const v = parseGoInt64(s);
  return v === undefined ? undefined : Number(v);
}

/** strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// time.ParseDuration (also what golang/protobuf jsonpb uses to decode google.protobuf.Duration).

const UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const TWO_63 = 1n << 63n;

/** time.quote: unlike strconv.Quote, escapes every non-ASCII and control byte as `\xNN`. */
function timeQuote(s: string): string {
  let out = '"';
  for (const c of Buffer.from(s, 'utf8')) {
    if (c >= 0x80 || c < 0x20) out += `\\x${hex(c, 2)}`;
    else if (c === 0x22 || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** time.ParseDuration, in nanoseconds; or Go's error text. */
export function parseGoDuration(orig: string): bigint | { error: string } {
  const invalid = { error: `time: invalid duration ${timeQuote(orig)}` };
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return invalid;
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return invalid;
    // leadingInt: fails once the value passes 1<<63 (the value only grows, so check at the end).
    let i = 0;
    while (isDigit(s[i])) i++;
    const pre = i > 0;
    let v = pre ? BigInt(s.slice(0, i)) : 0n;
    if (v > TWO_63) return invalid;
    s = s.slice(i);
    // leadingFraction: keeps the digits that fit before overflow, then scales with float64.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      for (; isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > INT64_MAX / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > TWO_63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) return invalid;
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) return { error: `time: missing unit in duration ${timeQuote(orig)}` };
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) return { error: `time: unknown unit ${timeQuote(unitName)} in duration ${timeQuote(orig)}` };
    if (v > TWO_63 / unit) return invalid;
    v *= unit;
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > TWO_63) return invalid;
    }
    d += v;
    if (d > TWO_63) return invalid;
  }
  if (neg) return -d;
  if (d > INT64_MAX) return invalid;
  return d;
}

// ---------------------------------------------------------------------------------------------
// net/netip. Stricter than most parsers (and than Node's net.isIP): IPv4 octets may not have
// leading zeros, IPv6 may carry a zone (`fe80::1%eth0`) as an address but not in a prefix, and
// prefix lengths may not have leading zeros or a sign.

export interface GoAddr {
  family: 4 | 6;
  zone: string;
}

/** netip's parseAddrError text. */
function addrError(input: string, msg: string, at = ''): { error: string } {
  return { error: `ParseAddr(${quoteValue(input)}): ${msg}${at === '' ? '' : ` (at ${quoteValue(at)})`}` };
}

/** netip.parseIPv4Fields over `input[off:end]`; errors name the whole input. */
function parseIPv4Fields(input: string, off: number, end: number): { error: string } | undefined {
  const s = input.slice(off, end);
  let val = 0;
  let pos = 0;
  let digLen = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c >= '0' && c <= '9') {
      if (digLen === 1 && val === 0) return addrError(input, 'IPv4 field has octet with leading zero');
      val = val * 10 + (c.charCodeAt(0) - 48);
      digLen++;
      if (val > 255) return addrError(input, 'IPv4 field has value >255');
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') return addrError(input, 'IPv4 field must have at least one digit', s.slice(i));
      if (pos === 3) return addrError(input, 'IPv4 address too long');
      pos++;
      val = 0;
      digLen = 0;
    } else {
      return addrError(input, 'unexpected character', s.slice(i));
    }
  }
  if (pos < 3) return addrError(input, 'IPv4 address too short');
  return undefined;
}

function ishex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** The value of a hex digit's character code (`ishex(c)` must hold). */
function unhex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

/** netip.parseIPv6. */
function parseIPv6(input: string): GoAddr | { error: string } {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct !== -1) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return addrError(input, 'zone must be a non-empty string');
  }
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return { family: 6, zone };
  }
  let i = 0; // bytes of the address filled
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const c = s.charCodeAt(off);
      if (!ishex(c)) break;
      acc = acc * 16 + unhex(c);
      if (off > 3) return addrError(input, 'each group must have 4 or less digits', s);
      if (acc > 0xffff) return addrError(input, 'IPv6 field has value >=2^16', s);
    }
    if (off === 0) return addrError(input, 'each colon-separated field must have at least one digit', s);
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) return addrError(input, 'embedded IPv4 address must replace the final 2 fields of the address', s);
      if (i + 4 > 16) return addrError(input, 'too many hex fields to fit an embedded IPv4 at the end of the address', s);
      const end = input.length - (zone.length > 0 ? zone.length + 1 : 0);
      const err = parseIPv4Fields(input, end - s.length, end);
      if (err) return err;
      s = '';
      i += 4;
      break;
    }
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ':') return addrError(input, 'unexpected character, want colon', s);
    if (s.length === 1) return addrError(input, 'colon must be followed by more characters', s);
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return addrError(input, 'multiple :: in address', s);
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return addrError(input, 'trailing garbage after address', s);
  if (i < 16) {
    if (ellipsis < 0) return addrError(input, 'address string too short');
  } else if (ellipsis >= 0) {
    return addrError(input, 'the :: must expand to at least one field of zeros');
  }
  return { family: 6, zone };
}

/** netip.ParseAddr: an IPv4 or IPv6 address (IPv6 may carry a zone); or Go's error text. */
export function goParseAddr(s: string): GoAddr | { error: string } {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') return parseIPv4Fields(s, 0, s.length) ?? { family: 4, zone: '' };
    if (c === ':') return parseIPv6(s);
    if (c === '%') return addrError(s, 'missing IPv6 address');
  }
  return addrError(s, 'unable to parse IP');
}

/** netip.ParsePrefix: `addr/bits`, no zone, bits without sign or leading zero; or Go's error text. */
export function goParsePrefix(s: string): { family: 4 | 6; bits: number } | { error: string } {
  const fail = (msg: string): { error: string } => ({ error: `netip.ParsePrefix(${quoteValue(s)}): ${msg}` });
  const slash = s.lastIndexOf('/');
  if (slash < 0) return fail("no '/'");
  const addr = goParseAddr(s.slice(0, slash));
  if ('error' in addr) return fail(addr.error);
  if (addr.family === 6 && addr.zone !== '') return fail('IPv6 zones cannot be present in a prefix');
  const bitsStr = s.slice(slash + 1);
  // strconv.Atoi would accept a sign and leading zeros; ParsePrefix does not.
  if (bitsStr.length > 1 && (bitsStr[0]! < '1' || bitsStr[0]! > '9')) return fail(`bad bits after slash: ${quoteValue(bitsStr)}`);
  const bits = goAtoi(bitsStr);
  if (bits === undefined) return fail(`bad bits after slash: ${quoteValue(bitsStr)}`);
  if (bits < 0 || bits > (addr.family === 4 ? 32 : 128)) return fail('prefix length out of range');
  return { family: addr.family, bits };
}

// ---------------------------------------------------------------------------------------------
// net/url.

type UrlEncoding = 'path' | 'host' | 'zone' | 'userPassword' | 'queryComponent' | 'fragment';

/** A net/url parse failure; the message is the unwrapped error (without `parse "<url>": `). */
class UrlError extends Error {}

/** A parsed URL with the parts of Go's url.URL that Istio and Kubernetes read. */
export class GoUrl {
  constructor(
    readonly scheme: string,
    readonly opaque: string,
    readonly host: string,
    readonly path: string,
    readonly rawPath: string,
    readonly rawQuery: string,
  ) {}

  /** URL.Hostname. */
  hostname(): string {
    return splitHostPort(this.host)[0];
  }

  /** URL.Port. */
  port(): string {
    return splitHostPort(this.host)[1];
  }

  /** URL.EscapedPath. */
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

  /** URL.Query (ParseQuery, skipping malformed pairs). */
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
      const values = m.get(key);
      if (values) values.push(value);
      else m.set(key, [value]);
    }
    return m;
  }
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

// net/url: unescape, over UTF-8 bytes (a `%` escape is three bytes, not three characters).
function unescape(s: string, mode: UrlEncoding): string {
  const b = Buffer.from(s, 'utf8');
  let n = 0;
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c === 0x25) {
      n++;
      if (i + 2 >= b.length || !ishex(b[i + 1]!) || !ishex(b[i + 2]!)) {
        throw new UrlError(`invalid URL escape ${goQuote(b.subarray(i, Math.min(i + 3, b.length)))}`);
      }
      const seq = b.subarray(i, i + 3);
      const isZoneIntroducer = seq.toString('latin1') === '%25';
      // RFC 3986: a host may %-encode only non-ASCII bytes; RFC 6874 adds %25 for the zone.
      if (mode === 'host' && unhex(b[i + 1]!) < 8 && !isZoneIntroducer) throw new UrlError(`invalid URL escape ${goQuote(seq)}`);
      if (mode === 'zone') {
        const v = (unhex(b[i + 1]!) << 4) | unhex(b[i + 2]!);
        if (!isZoneIntroducer && v !== 0x20 && shouldEscape(v, 'host')) throw new UrlError(`invalid URL escape ${goQuote(seq)}`);
      }
      i += 3;
    } else {
      if ((mode === 'host' || mode === 'zone') && c < 0x80 && shouldEscape(c, mode)) {
        throw new UrlError(`invalid character ${quoteValue(String.fromCharCode(c))} in host name`);
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
  let out = '';
  for (const c of Buffer.from(s, 'utf8')) {
    if (shouldEscape(c, mode)) {
      if (c === 0x20 && mode === 'queryComponent') out += '+';
      else out += '%' + hex(c, 2).toUpperCase();
    } else out += String.fromCharCode(c);
  }
  return out;
}

// net/url: validEncoded
function validEncoded(s: string, mode: UrlEncoding): boolean {
  for (const c of Buffer.from(s, 'utf8')) {
    if ("!$&'()*+,;=:@[]%".includes(String.fromCharCode(c))) continue;
    if (shouldEscape(c, mode)) return false;
  }
  return true;
}

// net/url: validOptionalPort
function validOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port[0] !== ':') return false;
  return /^[0-9]*$/.test(port.slice(1));
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

// net/url: parseHost, with the bracketed-host check of Go 1.25.2 / 1.24.8 (CVE-2025-47912):
// only an IPv6 address (IPv4-mapped included) may be bracketed.
function parseHost(host: string): string {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) throw new UrlError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quoteValue(colonPort)} after host`);
    const unescapedColonPort = unescape(colonPort, 'host');
    const hostname = host.slice(1, i);
    // RFC 6874: `%25` introduces the zone, which may %-encode more than the host may.
    const zone = hostname.indexOf('%25');
    const unescapedHostname = zone >= 0
      ? unescape(hostname.slice(0, zone), 'host') + unescape(hostname.slice(zone), 'zone')
      : unescape(hostname, 'host');
    const addr = goParseAddr(unescapedHostname);
    if ('error' in addr) throw new UrlError(`invalid host: ${addr.error}`);
    if (addr.family === 4) throw new UrlError('invalid IP-literal');
    return `[${unescapedHostname}]${unescapedColonPort}`;
  }
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const colonPort = host.slice(colon);
    if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port ${quoteValue(colonPort)} after host`);
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

// net/url: parseAuthority (returns the host; user info is validated and dropped)
function parseAuthority(authority: string): string {
  const i = authority.lastIndexOf('@');
  const host = parseHost(i < 0 ? authority : authority.slice(i + 1));
  if (i < 0) return host;
  const userinfo = authority.slice(0, i);
  if (!validUserinfo(userinfo)) throw new UrlError('net/url: invalid userinfo');
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
      if (i === 0) throw new UrlError('missing protocol scheme');
      return [rawURL.slice(0, i), rawURL.slice(i + 1)];
    }
    return ['', rawURL];
  }
  return ['', rawURL];
}

// net/url: stringContainsCTLByte
function hasCtlByte(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

// net/url: parse
function parseUrl(rawURL: string, viaRequest: boolean): GoUrl {
  if (hasCtlByte(rawURL)) throw new UrlError('net/url: invalid control character in URL');
  if (rawURL === '' && viaRequest) throw new UrlError('empty url');
  if (rawURL === '*') return new GoUrl('', '', '', '*', '', '');
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
    if (scheme !== '') return new GoUrl(scheme, rest, '', '', '', rawQuery);
    if (viaRequest) throw new UrlError('invalid URI for request');
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    if (segment.includes(':')) throw new UrlError('first path segment in URL cannot contain colon');
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
  return new GoUrl(scheme, '', host, path, rawPath, rawQuery);
}

/** Runs a parse step, turning a UrlError into url.Error's text (`parse "<url>": <reason>`). */
function urlResult<T>(url: string, step: () => T): T | { error: string } {
  try {
    return step();
  } catch (e) {
    if (e instanceof UrlError) return { error: `parse ${quoteValue(url)}: ${e.message}` };
    throw e;
  }
}

/** url.Parse: the fragment is cut off before parsing and then only checked. */
export function goUrlParse(raw: string): GoUrl | { error: string } {
  const hash = raw.indexOf('#');
  const u = hash < 0 ? raw : raw.slice(0, hash);
  const parsed = urlResult(u, () => parseUrl(u, false));
  if ('error' in parsed || hash < 0) return parsed;
  const frag = urlResult(raw, () => unescape(raw.slice(hash + 1), 'fragment'));
  return typeof frag === 'string' ? parsed : frag;
}

/** url.ParseRequestURI: an absolute URI or an absolute path, no fragment. */
export function goUrlParseRequestURI(raw: string): GoUrl | { error: string } {
  return urlResult(raw, () => parseUrl(raw, true));
}
