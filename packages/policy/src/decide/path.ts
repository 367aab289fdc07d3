/**
 * Envoy's path normalisation as Istio configures it (reference §5.6): BASE = RFC 3986
 * dot-segment removal after Envoy's canonicalisation (backslash to slash, `%2E` to `.`,
 * percent-encoded unreserved characters decoded, hex upper-cased); escaped slashes kept.
 * MERGE_SLASHES also merges `//`; DECODE_AND_MERGE_SLASHES also decodes `%2F` and `%5C`.
 * Written by hand because no maintained npm package reproduces Envoy's (Chromium's
 * url_canon) rules; WHATWG URL differs (it does not keep `%2F` semantics the same way).
 */
import type { MeshConfig } from '../mesh.js';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function canonicalEscapes(path: string, decodeSlashes: boolean): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '%' && i + 2 < path.length + 0 && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
      const code = parseInt(path.slice(i + 1, i + 3), 16);
      const ch = String.fromCharCode(code);
      if (code < 0x80 && UNRESERVED.test(ch)) out += ch;
      else if (decodeSlashes && (code === 0x2f || code === 0x5c)) out += '/';
      else out += '%' + path.slice(i + 1, i + 3).toUpperCase();
      i += 2;
    } else if (c === '\\') {
      out += '/';
    } else {
      out += c;
    }
  }
  return out;
}

/** RFC 3986 §5.2.4 remove_dot_segments. */
export function removeDotSegments(path: string): string {
  const input = path.split('/');
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const seg = input[i]!;
    if (seg === '.') {
      if (i === input.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      if (out.length > 1) out.pop();
      if (i === input.length - 1) out.push('');
      continue;
    }
    out.push(seg);
  }
  let res = out.join('/');
  if (!res.startsWith('/')) res = '/' + res;
  return res;
}

/** Splits a request target into path and query (`?` onwards, without the fragment). */
export function splitPathQuery(target: string): { path: string; query: string } {
  const hash = target.indexOf('#');
  const t = hash >= 0 ? target.slice(0, hash) : target;
  const q = t.indexOf('?');
  return q >= 0 ? { path: t.slice(0, q) || '/', query: t.slice(q + 1) } : { path: t || '/', query: '' };
}

/** Normalises a path (no query) under the mesh's `pathNormalization`. */
export function normalizePath(path: string, mode: MeshConfig['pathNormalization'] = 'BASE'): string {
  if (mode === 'NONE') return path;
  // Fast path: nothing to canonicalise (no escapes, backslashes, dot segments or, when
  // merging, double slashes) — the common case on the hot path.
  if (path.indexOf('%') < 0 && path.indexOf('\\') < 0 && path.indexOf('/.') < 0 && path.charCodeAt(0) === 47 && (mode === 'BASE' || path.indexOf('//') < 0)) {
    return path;
  }
  const decode = mode === 'DECODE_AND_MERGE_SLASHES';
  let p = removeDotSegments(canonicalEscapes(path, decode));
  if (mode === 'MERGE_SLASHES' || decode) p = p.replace(/\/{2,}/g, '/');
  return p;
}

/**
 * The first value of one query parameter, decoded, or undefined when absent (`?key` gives
 * ''). Scans the raw query without building a map: the hot path looks up a handful of names.
 */
export function findQueryParam(query: string, name: string): string | undefined {
  if (!query) return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const keyEnd = eq >= 0 && eq < end ? eq : end;
      const rawKey = query.slice(start, keyEnd);
      const key = rawKey.indexOf('%') >= 0 ? safeDecode(rawKey) : rawKey;
      if (key === name) {
        if (keyEnd === end) return '';
        const rawValue = query.slice(keyEnd + 1, end);
        return rawValue.indexOf('%') >= 0 ? safeDecode(rawValue) : rawValue;
      }
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * One cookie's value from a Cookie header, as Envoy's Utility::parseCookieValue reads it:
 * `;`-separated pairs, leading blanks trimmed, surrounding double quotes removed, the first
 * pair of that name wins; undefined when absent.
 */
export function findCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const s = part.replace(/^[ \t]+/, '');
    const eq = s.indexOf('=');
    if (eq < 0 || s.slice(0, eq) !== name) continue;
    const value = s.slice(eq + 1);
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
