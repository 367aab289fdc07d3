/**
 * The Go standard-library ports in go-compat.ts, at the points where earlier copies of them
 * disagreed with Go (strconv/quote.go, time/format.go, net/netip/netip.go, net/url/url.go).
 */
import { describe, expect, it } from 'vitest';
import { goFloat, goParseAddr, goParsePrefix, goQuote, goUrlParse, goUrlParseRequestURI, parseGoDuration } from '../src/validate/go-compat.js';
import { validatePercentage } from '../src/validate/semantic/common.js';
import { validateIPs } from '../src/validate/semantic/security-common.js';

const err = (r: unknown): string => (typeof r === 'object' && r !== null && 'error' in r ? String(r.error) : 'ok');

describe('strconv.Quote', () => {
  it('uses the short escapes for \\a \\b \\f \\v and \\x for other control bytes', () => {
    expect(goQuote('\x07\b\f\v\x01\x7f')).toBe('"\\a\\b\\f\\v\\x01\\x7f"');
  });
  it('keeps printable runes and escapes the others as \\u / \\U', () => {
    expect(goQuote('é日😀')).toBe('"é日😀"');
    expect(goQuote('a\u00a0b\u200bc')).toBe('"a\\u00a0b\\u200bc"');
    expect(goQuote('\u{e0001}')).toBe('"\\U000e0001"');
  });
  it('quotes invalid UTF-8 byte by byte', () => {
    expect(goQuote(Buffer.from([0x25, 0xc3]))).toBe('"%\\xc3"');
  });
});

describe('fmt %v of a float64', () => {
  it('switches to exponent form from 1e+06, as strconv.FormatFloat(f, g, -1) does', () => {
    expect(goFloat(999999)).toBe('999999');
    expect(goFloat(1e6)).toBe('1e+06');
    expect(goFloat(1.5e21)).toBe('1.5e+21');
    expect(validatePercentage({ value: 2.5e6 })).toBe('percentage 2.5e+06 is neither 0.0, nor in range [0.0001, 100.0]');
  });
});

describe('time.ParseDuration', () => {
  it('accepts the smallest int64 duration and rejects one more', () => {
    expect(parseGoDuration('-9223372036854775808ns')).toBe(-(2n ** 63n));
    expect(err(parseGoDuration('9223372036854775808ns'))).toBe('time: invalid duration "9223372036854775808ns"');
    expect(parseGoDuration('9223372036854775807ns')).toBe(2n ** 63n - 1n);
  });
  it('keeps every fraction digit that fits in uint64, as leadingFraction does', () => {
    expect(parseGoDuration('0.0000000000000000001h')).toBe(0n);
    expect(parseGoDuration('1.0000000000000000001s')).toBe(1_000_000_000n);
    // 18 nines are kept; float64(999999999999999999) rounds to 1e18, so Go also yields 2s.
    expect(parseGoDuration('1.999999999999999999999999s')).toBe(2_000_000_000n);
  });
  it('quotes like time.quote: non-ASCII bytes as \\x', () => {
    expect(err(parseGoDuration('1é'))).toBe('time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"');
  });
});

describe('net/netip', () => {
  it('adds the unparsed rest, as parseAddrError does', () => {
    expect(err(goParseAddr('1..2.3'))).toBe('ParseAddr("1..2.3"): IPv4 field must have at least one digit (at ".2.3")');
    expect(err(goParseAddr('12345::'))).toBe('ParseAddr("12345::"): each group must have 4 or less digits (at "12345::")');
    expect(err(goParseAddr('::ffff:1.2.3.04'))).toBe('ParseAddr("::ffff:1.2.3.04"): IPv4 field has octet with leading zero');
  });
  it('reports an out-of-int range prefix length as bad bits, like strconv.Atoi', () => {
    expect(err(goParsePrefix('10.0.0.0/99999999999999999999'))).toBe('netip.ParsePrefix("10.0.0.0/99999999999999999999"): bad bits after slash: "99999999999999999999"');
  });
  it('reaches AuthorizationPolicy ipBlocks messages', () => {
    expect(validateIPs(['1..2.3/8'])).toEqual([{ index: 0, message: 'bad CIDR range (1..2.3/8): netip.ParsePrefix("1..2.3/8"): ParseAddr("1..2.3"): IPv4 field must have at least one digit (at ".2.3")' }]);
  });
});

describe('net/url', () => {
  it('checks a bracketed host with its zone, after unescaping', () => {
    expect(goUrlParse('http://[fe80::1%25en0]:8080/p')).toMatchObject({ host: '[fe80::1%en0]:8080' });
    expect(err(goUrlParse('http://[fe80::1%25]/'))).toBe('parse "http://[fe80::1%25]/": invalid host: ParseAddr("fe80::1%"): zone must be a non-empty string');
    expect(err(goUrlParse('http://[1.2.3.4]/'))).toBe('parse "http://[1.2.3.4]/": invalid IP-literal');
    expect(err(goUrlParse('http://[::ffff:1.2.3.4]/'))).toBe('ok');
    expect(err(goUrlParse('http://[example.com]/'))).toBe('parse "http://[example.com]/": invalid host: ParseAddr("example.com"): unexpected character (at "example.com")');
  });
  it('reads %-escapes as bytes', () => {
    expect(err(goUrlParse('http://h/%aé'))).toBe('parse "http://h/%aé": invalid URL escape "%a\\xc3"');
    expect(err(goUrlParse('http://h/%é'))).toBe('parse "http://h/%é": invalid URL escape "%é"');
    expect(err(goUrlParse('http://h/%zz'))).toBe('parse "http://h/%zz": invalid URL escape "%zz"');
  });
  it('keeps the unescaped host, port and path', () => {
    const u = goUrlParseRequestURI('https://ex%C3%A9mple.com:8443/a%20b?x=1');
    expect(u).toMatchObject({ scheme: 'https', host: 'exémple.com:8443', path: '/a b', rawQuery: 'x=1' });
    if ('error' in u) return;
    expect([u.hostname(), u.port(), u.escapedPath()]).toEqual(['exémple.com', '8443', '/a%20b']);
  });
});
