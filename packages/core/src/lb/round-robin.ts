/**
 * ROUND_ROBIN as Envoy runs it (`RoundRobinLoadBalancer` on `EdfLoadBalancerBase`): plain
 * rotation from a random start when all weights are equal, an earliest-deadline-first
 * schedule (`EdfScheduler`) when they differ or while hosts warm up.
 *
 * Also home of the pieces the other per-host pickers share: the `HostPicker` contract and
 * the EDF scheduler.
 */
import type { EndpointState, PickContext } from '../endpoint.js';
import type { SlowStart } from './warmup.js';

/** Chooses one host from a fixed list (one Envoy "host source"). */
export interface HostPicker {
  pick(ctx: PickContext): EndpointState | undefined;
}

/** What a picker needs besides its hosts. */
export interface PickerEnv {
  /** Random start for rotations and schedules (Envoy seeds each LB once at creation). */
  seed: number;
  /** Slow start, or null when warmup is off or the algorithm ignores it. */
  slowStart: SlowStart | null;
}

export function weightsEqual(hosts: readonly EndpointState[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== hosts[0]!.weight) return false;
  return true;
}

/**
 * Earliest deadline first (Envoy `EdfScheduler`): each entry's next deadline is the
 * scheduler's current time + 1/weight, ties broken by insertion order (FIFO). Picking
 * re-inserts the entry in place, so a pick allocates nothing.
 */
export class EdfScheduler<T> {
  private readonly items: T[];
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  /** Binary min-heap of entry indices. */
  private readonly heap: Int32Array;
  private now = 0;
  private nextOrder = 0;

  constructor(items: readonly T[], weights: readonly number[], seed = 0) {
    const n = items.length;
    this.items = items.slice();
    this.deadline = new Float64Array(n);
    this.order = new Float64Array(n);
    this.heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.deadline[i] = 1 / weights[i]!;
      this.order[i] = this.nextOrder++;
      this.heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.down(i);
    // Envoy's createWithPicks advances a fresh schedule by a seeded number of picks so
    // that clients do not all start on the same host.
    const picks = n > 0 ? Math.abs(Math.trunc(seed)) % n : 0;
    for (let i = 0; i < picks; i++) {
      const top = this.heap[0]!;
      this.advance(top, weights[top]!);
    }
  }

  get size(): number {
    return this.items.length;
  }

  /** The entry with the earliest deadline; re-scheduled with `weightOf(entry)` (> 0). */
  pickAndAdd(weightOf: (item: T) => number): T | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.heap[0]!;
    const item = this.items[top]!;
    this.advance(top, weightOf(item));
    return item;
  }

  private advance(top: number, weight: number): void {
    this.now = this.deadline[top]!;
    // A non-positive or non-finite weight would stall the schedule; treat it as tiny.
    this.deadline[top] = this.now + 1 / (weight > 0 && Number.isFinite(weight) ? weight : 1e-9);
    this.order[top] = this.nextOrder++;
    this.down(0);
  }

  private less(a: number, b: number): boolean {
    const da = this.deadline[a]!, db = this.deadline[b]!;
    return da < db || (da === db && this.order[a]! < this.order[b]!);
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && this.less(h[r]!, h[l]!) ? r : l;
      if (!this.less(h[m]!, h[i]!)) return;
      const t = h[i]!;
      h[i] = h[m]!;
      h[m] = t;
      i = m;
    }
  }
}

/** RoundRobinLoadBalancer: weighted via EDF when weights differ or hosts warm up. */
export class RoundRobinPicker implements HostPicker {
  private index: number;
  private edf: EdfScheduler<EndpointState> | null = null;
  private readonly equal: boolean;
  private now = 0;
  private readonly weightOf = (h: EndpointState): number => (this.env.slowStart ? this.env.slowStart.scale(h.weight, h, this.now) : h.weight);

  constructor(
    private readonly hosts: readonly EndpointState[],
    private readonly env: PickerEnv,
  ) {
    this.index = hosts.length > 0 ? env.seed % hosts.length : 0;
    this.equal = weightsEqual(hosts);
  }

  pick(ctx: PickContext): EndpointState | undefined {
    const n = this.hosts.length;
    if (n <= 1) return this.hosts[0];
    if (this.equal && !this.env.slowStart?.active(ctx.now)) {
      const h = this.hosts[this.index]!;
      this.index = (this.index + 1) % n;
      return h;
    }
    this.now = ctx.now;
    this.edf ??= new EdfScheduler(this.hosts, this.hosts.map(this.weightOf), this.env.seed);
    return this.edf.pickAndAdd(this.weightOf);
  }
}
