/**
 * RING_HASH (Ketama) as Envoy builds and searches it (`RingHashLoadBalancer::Ring`):
 * every host gets `ceil(scale × normalizedWeight)` points (running sums keep the total
 * stable), point i of a host hashes `"<address:port>_<i>"` with XXH64, the points are sorted,
 * and a request hash selects the first point at or after it (wrapping around). With equal
 * weights and N hosts the ring has `ceil(minimumRingSize / N) × N` points.
 *
 * Same hash function, same point keys and same search as Envoy, so a key maps to the same
 * endpoint here as behind an Envoy sidecar over the same healthy endpoints.
 */
import type { EndpointState } from '../endpoint.js';
import { xxHash64, type U64 } from './xxhash64.js';

/** Envoy's default `maximum_ring_size` (Istio does not set it). */
export const MAX_RING_SIZE = 8 * 1024 * 1024;

/** A host with its normalized weight (weights of a table sum to at most 1). */
export interface WeightedHost {
  host: EndpointState;
  weight: number;
}

/** A consistent-hash lookup structure over one priority level's hosts. */
export interface HashTable {
  /**
   * The host for a 64-bit hash. `attempt` > 0 is a host-selection retry (the previous pick
   * was rejected, e.g. already tried): each algorithm then moves to another slot the way
   * Envoy does.
   */
  chooseHost(hi: number, lo: number, attempt: number): EndpointState | undefined;
}

export class RingHashTable implements HashTable {
  private readonly hashHi: Uint32Array;
  private readonly hashLo: Uint32Array;
  private readonly hosts: EndpointState[];

  constructor(weighted: readonly WeightedHost[], minRingSize: number, maxRingSize = MAX_RING_SIZE) {
    if (weighted.length === 0) {
      this.hashHi = new Uint32Array(0);
      this.hashLo = new Uint32Array(0);
      this.hosts = [];
      return;
    }
    let minWeight = 1;
    for (const w of weighted) minWeight = Math.min(minWeight, w.weight);
    // Scale so the lightest host gets a whole number of points (capped at the maximum).
    const scale = Math.min(Math.ceil(minWeight * minRingSize) / minWeight, maxRingSize);
    const his: number[] = [];
    const los: number[] = [];
    const owners: EndpointState[] = [];
    const h: U64 = { hi: 0, lo: 0 };
    let current = 0;
    let target = 0;
    for (const { host, weight } of weighted) {
      target += scale * weight;
      for (let i = 0; current < target; i++, current++) {
        xxHash64(`${host.key}_${i}`, 0, h);
        his.push(h.hi);
        los.push(h.lo);
        owners.push(host);
      }
    }
    const order = owners.map((_, i) => i);
    order.sort((a, b) => his[a]! - his[b]! || los[a]! - los[b]!);
    this.hashHi = Uint32Array.from(order, (i) => his[i]!);
    this.hashLo = Uint32Array.from(order, (i) => los[i]!);
    this.hosts = order.map((i) => owners[i]!);
  }

  get size(): number {
    return this.hosts.length;
  }

  chooseHost(hi: number, lo: number, attempt: number): EndpointState | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    const H = this.hashHi;
    const L = this.hashLo;
    // Ketama search, ported with its signed low/high bounds (ring_hash_lb.cc: Ring::chooseHost).
    let low = 0;
    let high = n;
    let mid = 0;
    for (;;) {
      mid = Math.floor((low + high) / 2);
      if (mid === n) {
        mid = 0;
        break;
      }
      const mHi = H[mid]!, mLo = L[mid]!;
      const atOrBelowMid = hi < mHi || (hi === mHi && lo <= mLo);
      const aboveMid1 = mid === 0 ? hi > 0 || lo > 0 : hi > H[mid - 1]! || (hi === H[mid - 1]! && lo > L[mid - 1]!);
      if (atOrBelowMid && aboveMid1) break;
      if (!atOrBelowMid) low = mid + 1;
      else high = mid - 1;
      if (low > high) {
        mid = 0;
        break;
      }
    }
    // A retry behaves as if the host were not on the ring: the next point (which may still
    // belong to the same host, as in Envoy).
    if (attempt > 0) mid = (mid + attempt) % n;
    return this.hosts[mid];
  }
}
