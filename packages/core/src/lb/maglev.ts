/**
 * MAGLEV as Envoy builds it (`MaglevTable::constructMaglevTableInternal`,
 * `OriginalMaglevTable::constructImplementationInternals`): hosts sorted by address, each
 * with offset `XXH64(key) mod M` and skip `XXH64(key, seed 1) mod (M − 1) + 1`; the table is
 * filled round by round, a host taking a turn when its accumulated weight allows
 * (`iteration × weight ≥ target`), so a host's share of the M slots follows its weight.
 * Lookup is `table[hash mod M]`; a host-selection retry XORs the hash with
 * `2⁶⁴ − attempt` as Envoy does.
 */
import type { EndpointState } from '../endpoint.js';
import type { HashTable, WeightedHost } from './ring-hash.js';
import { mod64, xxHash64, type U64 } from './xxhash64.js';

/** Envoy's default (and Istio's) table size. */
export const DEFAULT_TABLE_SIZE = 65537;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export class MaglevTable implements HashTable {
  readonly tableSize: number;
  private readonly table: Int32Array;
  private readonly hosts: EndpointState[];

  /**
   * @param tableSize must be prime (Istio's validation and Envoy both insist); anything else
   *   falls back to 65537, because a composite size could leave slots unreachable.
   */
  constructor(weighted: readonly WeightedHost[], tableSize = DEFAULT_TABLE_SIZE) {
    const m = isPrime(tableSize) ? tableSize : DEFAULT_TABLE_SIZE;
    this.tableSize = m;
    if (weighted.length === 0) {
      this.table = new Int32Array(0);
      this.hosts = [];
      return;
    }
    let maxWeight = 0;
    for (const w of weighted) maxWeight = Math.max(maxWeight, w.weight);
    // Stable order (by hash key) so the same host set always yields the same table.
    const sorted = [...weighted].sort((a, b) => (a.host.key < b.host.key ? -1 : a.host.key > b.host.key ? 1 : 0));
    const h: U64 = { hi: 0, lo: 0 };
    const n = sorted.length;
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const target = new Float64Array(n);
    const weight = new Float64Array(n);
    this.hosts = sorted.map((w, i) => {
      xxHash64(w.host.key, 0, h);
      offset[i] = mod64(h.hi, h.lo, m);
      xxHash64(w.host.key, 1, h);
      skip[i] = mod64(h.hi, h.lo, m - 1) + 1;
      weight[i] = w.weight;
      return w.host;
    });
    const table = new Int32Array(m).fill(-1);
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let i = 0; i < n && filled < m; i++) {
        // A host with the maximum weight takes a slot every round, one with a third of it
        // every third round.
        if (iteration * weight[i]! < target[i]!) continue;
        target[i] = target[i]! + maxWeight;
        let c = (offset[i]! + skip[i]! * next[i]!) % m;
        while (table[c] !== -1) {
          next[i] = next[i]! + 1;
          c = (offset[i]! + skip[i]! * next[i]!) % m;
        }
        table[c] = i;
        next[i] = next[i]! + 1;
        filled++;
      }
    }
    this.table = table;
  }

  /** Slots owned by `host` (tests, diagnostics). */
  slotsOf(host: EndpointState): number {
    const i = this.hosts.indexOf(host);
    let count = 0;
    for (const t of this.table) if (t === i) count++;
    return count;
  }

  chooseHost(hi: number, lo: number, attempt: number): EndpointState | undefined {
    if (this.hosts.length === 0) return undefined;
    if (attempt > 0) {
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ (0x100000000 - attempt)) >>> 0;
    }
    return this.hosts[this.table[mod64(hi, lo, this.tableSize)]!];
  }
}
