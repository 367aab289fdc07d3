/**
 * XXH64 (xxHash, 64-bit) of a string's UTF-8 bytes — the hash Envoy uses for consistent
 * hashing (`HashUtil::xxHash64`: request hash keys, ring points, Maglev offsets/skips). Using
 * the same function and the same inputs makes a key land on the same endpoint as it would
 * behind an Envoy sidecar with the same endpoint set.
 *
 * JavaScript has no 64-bit integer that is cheap to use (BigInt allocates on every
 * operation), so the arithmetic runs on (hi, lo) pairs of 32-bit halves passed through a
 * scratch register array: hashing a request key allocates nothing (about 0.2 µs for a
 * 20-byte key).
 */

/** A 64-bit value as two unsigned 32-bit halves. */
export interface U64 {
  hi: number;
  lo: number;
}

// Halves are kept as signed int32 inside (`| 0`): on 64-bit V8 every int32 is a small
// integer, while a uint32 above 2³¹ is a boxed heap number whenever it crosses a call.
const P1H = 0x9e3779b1 | 0, P1L = 0x85ebca87 | 0;
const P2H = 0xc2b2ae3d | 0, P2L = 0x27d4eb4f | 0;
const P3H = 0x165667b1 | 0, P3L = 0x9e3779f9 | 0;
const P4H = 0x85ebca77 | 0, P4L = 0xc2b2ae63 | 0;
const P5H = 0x27d4eb2f | 0, P5L = 0x165667c5 | 0;

// Result registers of the helpers below (a typed array: writing a module `let` would box).
const R = new Int32Array(2);

function add(aH: number, aL: number, bH: number, bL: number): void {
  const lo = (aL >>> 0) + (bL >>> 0);
  R[1] = lo | 0;
  R[0] = (aH + bH + (lo > 0xffffffff ? 1 : 0)) | 0;
}

/**
 * Low 64 bits of a × b: the full 64-bit product of the low halves (on 16-bit pieces, so
 * every partial product is exact in a double) plus the cross terms, whose low 32 bits
 * `Math.imul` gives directly.
 */
function mul(aH: number, aL: number, bH: number, bL: number): void {
  const a0 = aL & 0xffff, a1 = aL >>> 16, b0 = bL & 0xffff, b1 = bL >>> 16;
  const mid = a0 * b1 + a1 * b0;
  // `& 0xffff` on a value up to 2³³ still yields its low 16 bits (ToInt32 wraps mod 2³²);
  // `% 65536` on a double would be a slow fmod.
  const lo = a0 * b0 + (mid & 0xffff) * 65536;
  R[1] = lo | 0;
  R[0] = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(lo / 4294967296) + Math.imul(aH, bL) + Math.imul(aL, bH)) | 0;
}

/** Rotate left by n, 0 < n < 32 (XXH64 only rotates by 1, 7, 11, 12, 18, 23, 27, 31). */
function rotl(aH: number, aL: number, n: number): void {
  R[0] = (aH << n) | (aL >>> (32 - n));
  R[1] = (aL << n) | (aH >>> (32 - n));
}

/** XXH64_round: rotl(acc + input × P2, 31) × P1. */
function round(accH: number, accL: number, inH: number, inL: number): void {
  mul(inH, inL, P2H, P2L);
  add(accH, accL, R[0]!, R[1]!);
  rotl(R[0]!, R[1]!, 31);
  mul(R[0]!, R[1]!, P1H, P1L);
}

/** XXH64_mergeRound: (acc ^ round(0, val)) × P1 + P4. */
function mergeRound(accH: number, accL: number, vH: number, vL: number): void {
  round(0, 0, vH, vL);
  mul(accH ^ R[0]!, accL ^ R[1]!, P1H, P1L);
  add(R[0]!, R[1]!, P4H, P4L);
}

let buf = new Uint8Array(256);

/** UTF-8 encodes `s` into the scratch buffer (lone surrogates become U+FFFD, as TextEncoder does); returns the length. */
function encode(s: string): number {
  if (buf.length < s.length * 3) buf = new Uint8Array(s.length * 3 + 64);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[n++] = c;
    } else if (c < 0x800) {
      buf[n++] = 0xc0 | (c >> 6);
      buf[n++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[n++] = 0xf0 | (c >> 18);
          buf[n++] = 0x80 | ((c >> 12) & 0x3f);
          buf[n++] = 0x80 | ((c >> 6) & 0x3f);
          buf[n++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      buf[n++] = 0xe0 | (c >> 12);
      buf[n++] = 0x80 | ((c >> 6) & 0x3f);
      buf[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

function read32(p: number): number {
  return buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
}

/**
 * XXH64 of `input` (UTF-8) with a small non-negative integer seed (Envoy uses 0 and, for
 * Maglev skips, 1), written into `out`. Allocation-free.
 */
export function xxHash64(input: string, seed: number, out: U64): U64 {
  const len = encode(input);
  const sH = Math.floor(seed / 4294967296) | 0;
  const sL = seed | 0;
  let p = 0;
  let hH: number, hL: number;
  if (len >= 32) {
    add(sH, sL, P1H, P1L);
    add(R[0]!, R[1]!, P2H, P2L);
    let v1H = R[0]!, v1L = R[1]!;
    add(sH, sL, P2H, P2L);
    let v2H = R[0]!, v2L = R[1]!;
    let v3H = sH, v3L = sL;
    // seed − P1 = seed + (two's complement of P1).
    add(~P1H, ~P1L, 0, 1);
    add(sH, sL, R[0]!, R[1]!);
    let v4H = R[0]!, v4L = R[1]!;
    const limit = len - 32;
    do {
      round(v1H, v1L, read32(p + 4), read32(p));
      v1H = R[0]!; v1L = R[1]!;
      round(v2H, v2L, read32(p + 12), read32(p + 8));
      v2H = R[0]!; v2L = R[1]!;
      round(v3H, v3L, read32(p + 20), read32(p + 16));
      v3H = R[0]!; v3L = R[1]!;
      round(v4H, v4L, read32(p + 28), read32(p + 24));
      v4H = R[0]!; v4L = R[1]!;
      p += 32;
    } while (p <= limit);
    rotl(v1H, v1L, 1);
    let aH = R[0]!, aL = R[1]!;
    rotl(v2H, v2L, 7);
    add(aH, aL, R[0]!, R[1]!);
    aH = R[0]!; aL = R[1]!;
    rotl(v3H, v3L, 12);
    add(aH, aL, R[0]!, R[1]!);
    aH = R[0]!; aL = R[1]!;
    rotl(v4H, v4L, 18);
    add(aH, aL, R[0]!, R[1]!);
    mergeRound(R[0]!, R[1]!, v1H, v1L);
    mergeRound(R[0]!, R[1]!, v2H, v2L);
    mergeRound(R[0]!, R[1]!, v3H, v3L);
    mergeRound(R[0]!, R[1]!, v4H, v4L);
    hH = R[0]!; hL = R[1]!;
  } else {
    add(sH, sL, P5H, P5L);
    hH = R[0]!; hL = R[1]!;
  }
  add(hH, hL, 0, len);
  hH = R[0]!; hL = R[1]!;
  while (p + 8 <= len) {
    round(0, 0, read32(p + 4), read32(p));
    rotl(hH ^ R[0]!, hL ^ R[1]!, 27);
    mul(R[0]!, R[1]!, P1H, P1L);
    add(R[0]!, R[1]!, P4H, P4L);
    hH = R[0]!; hL = R[1]!;
    p += 8;
  }
  if (p + 4 <= len) {
    mul(0, read32(p), P1H, P1L);
    rotl(hH ^ R[0]!, hL ^ R[1]!, 23);
    mul(R[0]!, R[1]!, P2H, P2L);
    add(R[0]!, R[1]!, P3H, P3L);
    hH = R[0]!; hL = R[1]!;
    p += 4;
  }
  while (p < len) {
    mul(0, buf[p]!, P5H, P5L);
    rotl(hH ^ R[0]!, hL ^ R[1]!, 11);
    mul(R[0]!, R[1]!, P1H, P1L);
    hH = R[0]!; hL = R[1]!;
    p++;
  }
  // Avalanche.
  hL ^= hH >>> 1; // h ^= h >> 33
  mul(hH, hL, P2H, P2L);
  hH = R[0]!; hL = R[1]!;
  hL ^= (hL >>> 29) | (hH << 3); // h ^= h >> 29
  hH ^= hH >>> 29;
  mul(hH, hL, P3H, P3L);
  hH = R[0]!; hL = R[1]!;
  hL ^= hH; // h ^= h >> 32
  out.hi = hH >>> 0;
  out.lo = hL >>> 0;
  return out;
}

/** `(hi·2³² + lo) mod m` for 0 < m ≤ 2²⁶ (every intermediate stays an exact double). */
export function mod64(hi: number, lo: number, m: number): number {
  return (((hi % m) * (4294967296 % m)) + lo) % m;
}

/** The hash as a BigInt (tests, diagnostics). */
export function toBigInt(v: U64): bigint {
  return (BigInt(v.hi) << 32n) | BigInt(v.lo);
}
