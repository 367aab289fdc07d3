import { describe, expect, it } from 'vitest';
import { mulberry32 } from './support/random.js';
import { createEndpointState, type EndpointState, type PickContext } from '../src/endpoint.js';
import { createLoadBalancer } from '../src/lb/index.js';
import { isPrime, MaglevTable } from '../src/lb/maglev.js';
import { RingHashTable, type WeightedHost } from '../src/lb/ring-hash.js';
import { mod64, toBigInt, xxHash64, type U64 } from '../src/lb/xxhash64.js';

function hosts(n: number, weight = 1, from = 0): EndpointState[] {
  return Array.from({ length: n }, (_, i) => createEndpointState({ address: `10.0.${(from + i) >> 8}.${(from + i) & 255}`, port: 8080, weight }, 0));
}

const equal = (eps: EndpointState[]): WeightedHost[] => eps.map((host) => ({ host, weight: 1 / eps.length }));

/** XXH64 straight from the specification, on BigInt, as an independent reference. */
function referenceXxh64(input: string, seed = 0n): bigint {
  const M = (1n << 64n) - 1n;
  const P1 = 11400714785074694791n, P2 = 14029467366897019727n, P3 = 1609587929392839161n, P4 = 9650029242287828579n, P5 = 2870177450012600261n;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (64n - r))) & M;
  const round = (acc: bigint, v: bigint) => (rotl((acc + v * P2) & M, 31n) * P1) & M;
  const merge = (acc: bigint, v: bigint) => (((acc ^ round(0n, v)) * P1) + P4) & M;
  const b = new TextEncoder().encode(input);
  const r64 = (p: number) => { let v = 0n; for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]!); return v; };
  const r32 = (p: number) => { let v = 0n; for (let i = 3; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]!); return v; };
  let p = 0;
  let h: bigint;
  if (b.length >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    while (p + 32 <= b.length) {
      v1 = round(v1, r64(p)); v2 = round(v2, r64(p + 8)); v3 = round(v3, r64(p + 16)); v4 = round(v4, r64(p + 24));
      p += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(b.length)) & M;
  for (; p + 8 <= b.length; p += 8) h = ((rotl(h ^ round(0n, r64(p)), 27n) * P1) + P4) & M;
  if (p + 4 <= b.length) { h = ((rotl(h ^ ((r32(p) * P1) & M), 23n) * P2) + P3) & M; p += 4; }
  for (; p < b.length; p++) h = (rotl(h ^ ((BigInt(b[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n; h = (h * P2) & M; h ^= h >> 29n; h = (h * P3) & M; h ^= h >> 32n;
  return h;
}

const out: U64 = { hi: 0, lo: 0 };
const xxh = (s: string, seed = 0) => toBigInt(xxHash64(s, seed, out));

describe('xxHash64', () => {
  it('matches published XXH64 values', () => {
    expect(xxh('')).toBe(0xef46db3751d8e999n);
    expect(xxh('a')).toBe(0xd24ec4f1a98c6e5bn);
    expect(xxh('abc')).toBe(0x44bc2cf5ad770999n);
    expect(xxh('Nobody inspects the spammish repetition')).toBe(0xfbcea83c8a378bf1n);
  });

  it('agrees with a BigInt reference for every length 0..200, multi-byte text and seed 1', () => {
    const rnd = mulberry32(7);
    const alphabet = 'abcXYZ019_-:/.[]é€😀';
    for (let len = 0; len <= 200; len++) {
      let s = '';
      for (let i = 0; i < len; i++) s += [...alphabet][Math.floor(rnd() * [...alphabet].length)];
      expect(xxh(s)).toBe(referenceXxh64(s));
      expect(xxh(s, 1)).toBe(referenceXxh64(s, 1n));
    }
  });

  it('reduces 64-bit values modulo m exactly', () => {
    for (const [hi, lo, m] of [[0xffffffff, 0xffffffff, 65537], [0x12345678, 0x9abcdef0, 100], [0xdeadbeef, 1, 4999999]] as const) {
      expect(mod64(hi, lo, m)).toBe(Number(((BigInt(hi) << 32n) | BigInt(lo)) % BigInt(m)));
    }
  });
});

type Table = { chooseHost(hi: number, lo: number, attempt: number): EndpointState | undefined };

/** Fractions of keys whose host changes between two tables, in all and towards `joined`. */
function remapped(a: Table, b: Table, keys: number, joined?: EndpointState): { moved: number; toJoined: number } {
  let moved = 0;
  let toJoined = 0;
  for (let k = 0; k < keys; k++) {
    xxHash64(`user-${k}`, 0, out);
    const after = b.chooseHost(out.hi, out.lo, 0);
    if (a.chooseHost(out.hi, out.lo, 0) !== after) {
      moved++;
      if (after === joined) toJoined++;
    }
  }
  return { moved: moved / keys, toJoined: toJoined / keys };
}

describe('ring hash', () => {
  it('gives each of N equal hosts ceil(minRingSize / N) points', () => {
    expect(new RingHashTable(equal(hosts(3)), 1024).size).toBe(342 * 3);
    expect(new RingHashTable(equal(hosts(4)), 1024).size).toBe(1024);
    expect(new RingHashTable([], 1024).size).toBe(0);
    expect(new RingHashTable([], 1024).chooseHost(1, 2, 0)).toBeUndefined();
  });

  it('maps the same key to the same host, including across rebuilds', () => {
    const eps = hosts(5);
    const a = new RingHashTable(equal(eps), 1024);
    const b = new RingHashTable(equal([...eps].reverse()), 1024);
    for (let k = 0; k < 500; k++) {
      xxHash64(`session-${k}`, 0, out);
      const h = a.chooseHost(out.hi, out.lo, 0);
      expect(h).toBeDefined();
      expect(a.chooseHost(out.hi, out.lo, 0)).toBe(h);
      expect(b.chooseHost(out.hi, out.lo, 0)).toBe(h);
    }
  });

  it('sends about 1/(N+1) of the keys to a host joining N, moving few others', () => {
    const ten = hosts(10);
    const joined = hosts(1, 1, 10)[0]!;
    const { moved, toJoined } = remapped(new RingHashTable(equal(ten), 1024), new RingHashTable(equal([...ten, joined]), 1024), 20000, joined);
    // Ideal 1/11 ≈ 9 % to the new host. Each old host also drops from 103 to 94 points, so
    // (as in Envoy) some keys shift between old hosts too.
    expect(toJoined).toBeGreaterThan(0.05);
    expect(toJoined).toBeLessThan(0.13);
    expect(moved).toBeLessThan(0.22);
  });

  it('gives a 1:3 weighted pair 256 and 768 of 1024 points and about 25/75 of the keys', () => {
    const [a, b] = hosts(2) as [EndpointState, EndpointState];
    const ring = new RingHashTable([{ host: a, weight: 0.25 }, { host: b, weight: 0.75 }], 65536);
    expect(ring.size).toBe(65536);
    let toA = 0;
    const n = 20000;
    for (let k = 0; k < n; k++) {
      xxHash64(`k${k}`, 0, out);
      if (ring.chooseHost(out.hi, out.lo, 0) === a) toA++;
    }
    // 6σ of the binomial plus the ring's own arc-length unevenness.
    expect(Math.abs(toA / n - 0.25)).toBeLessThan(6 * Math.sqrt(0.1875 / n) + 0.02);
  });

  it('moves to the next ring point on a host-selection retry', () => {
    const ring = new RingHashTable(equal(hosts(3)), 16);
    xxHash64('x', 0, out);
    const first = ring.chooseHost(out.hi, out.lo, 0);
    const seen = new Set<EndpointState | undefined>();
    for (let attempt = 0; attempt < 48; attempt++) seen.add(ring.chooseHost(out.hi, out.lo, attempt));
    expect(seen.size).toBe(3);
    expect(ring.chooseHost(out.hi, out.lo, 48)).toBe(first);
  });
});

describe('maglev', () => {
  it('knows its primes and falls back to 65537 for a composite size', () => {
    expect(isPrime(65537)).toBe(true);
    expect(isPrime(65536)).toBe(false);
    expect(new MaglevTable(equal(hosts(2)), 1000).tableSize).toBe(65537);
    expect(new MaglevTable(equal(hosts(2)), 251).tableSize).toBe(251);
  });

  it('spreads equal hosts evenly over the table and keeps keys stable', () => {
    const eps = hosts(7);
    const t = new MaglevTable(equal(eps), 65537);
    for (const e of eps) expect(Math.abs(t.slotsOf(e) - 65537 / 7)).toBeLessThanOrEqual(1);
    const again = new MaglevTable(equal([...eps].reverse()), 65537);
    expect(remapped(t, again, 2000).moved).toBe(0);
  });

  it('follows 1:3 weights in its slots', () => {
    const [a, b] = hosts(2) as [EndpointState, EndpointState];
    const t = new MaglevTable([{ host: a, weight: 0.25 }, { host: b, weight: 0.75 }], 65537);
    expect(Math.abs(t.slotsOf(a) / 65537 - 0.25)).toBeLessThan(0.001);
  });

  it('remaps about 1/N of the keys when one host joins N', () => {
    const ten = hosts(10);
    const joined = hosts(1, 1, 10)[0]!;
    const { moved, toJoined } = remapped(new MaglevTable(equal(ten)), new MaglevTable(equal([...ten, joined])), 20000, joined);
    expect(toJoined).toBeGreaterThan(0.06);
    expect(toJoined).toBeLessThan(0.12);
    // Maglev's disruption beyond the joining host stays small.
    expect(moved - toJoined).toBeLessThan(0.02);
  });

  it('changes the slot on a host-selection retry', () => {
    const t = new MaglevTable(equal(hosts(5)), 65537);
    xxHash64('y', 0, out);
    const seen = new Set<EndpointState | undefined>();
    for (let attempt = 0; attempt <= 5; attempt++) seen.add(t.chooseHost(out.hi, out.lo, attempt));
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('consistent-hash load balancers', () => {
  const ctx = (hashKey: string | undefined, random = mulberry32(1), exclude?: Set<EndpointState>): PickContext => ({ hashKey, random, now: 0, exclude });

  for (const algorithm of ['RING_HASH', 'MAGLEV'] as const) {
    const policy = { kind: 'consistentHash' as const, algorithm, tableSize: algorithm === 'MAGLEV' ? 65537 : 1024, key: { httpHeaderName: 'x-user' } };

    it(`${algorithm}: same key, same endpoint; missing key falls back to random`, () => {
      const eps = hosts(4);
      const lb = createLoadBalancer(policy, eps, { seed: 1 });
      const first = lb.pick(ctx('alice'));
      for (let i = 0; i < 50; i++) expect(lb.pick(ctx('alice', mulberry32(i)))).toBe(first);
      const counts = new Map<EndpointState | undefined, number>();
      const rnd = mulberry32(99);
      for (let i = 0; i < 4000; i++) {
        const h = lb.pick(ctx(undefined, rnd));
        counts.set(h, (counts.get(h) ?? 0) + 1);
      }
      expect(counts.size).toBe(4);
      for (const c of counts.values()) expect(Math.abs(c - 1000)).toBeLessThan(6 * Math.sqrt(4000 * 0.25 * 0.75) + 150);
    });

    it(`${algorithm}: avoids already-tried hosts and skips ejected ones`, () => {
      const eps = hosts(3);
      const lb = createLoadBalancer(policy, eps, { seed: 1 });
      for (let k = 0; k < 100; k++) {
        const first = lb.pick(ctx(`k${k}`))!;
        const second = lb.pick(ctx(`k${k}`, mulberry32(k), new Set([first])))!;
        expect(second).not.toBe(first);
        const third = lb.pick(ctx(`k${k}`, mulberry32(k), new Set([first, second])))!;
        expect(new Set([first, second, third]).size).toBe(3);
      }
      // Health flipped without telling anyone: the balancer notices on the first bad pick.
      const victim = lb.pick(ctx('bob'))!;
      victim.healthy = false;
      expect(lb.pick(ctx('bob'))).not.toBe(victim);
      for (let k = 0; k < 200; k++) expect(lb.pick(ctx(`k${k}`))).not.toBe(victim);
    });
  }
});
