/**
 * LEAST_REQUEST as Envoy runs it (`LeastRequestLoadBalancer`, Istio's default algorithm):
 * - equal weights and no host warming up: power of two choices — two hosts drawn uniformly
 *   (with replacement, `choice_count` 2), the one with fewer active requests wins, the first
 *   draw wins ties (`unweightedHostPickNChoices`);
 * - otherwise: the EDF schedule with the dynamic weight
 *   `weight / (active + 1)^active_request_bias` (bias 1.0, Istio does not set it), scaled by
 *   slow start (`hostWeight`). As in Envoy, an entry's weight is taken when it is
 *   (re)scheduled, so it reflects the load at its previous pick.
 */
import type { EndpointState, PickContext } from '../endpoint.js';
import { EdfScheduler, weightsEqual, type HostPicker, type PickerEnv } from './round-robin.js';

/** Envoy's default `choice_count`. */
export const CHOICE_COUNT = 2;

export class LeastRequestPicker implements HostPicker {
  private edf: EdfScheduler<EndpointState> | null = null;
  private readonly equal: boolean;
  private now = 0;
  private readonly weightOf = (h: EndpointState): number => {
    const w = h.weight / (h.active + 1);
    return this.env.slowStart ? this.env.slowStart.scale(w, h, this.now) : w;
  };

  constructor(
    private readonly hosts: readonly EndpointState[],
    private readonly env: PickerEnv,
  ) {
    this.equal = weightsEqual(hosts);
  }

  pick(ctx: PickContext): EndpointState | undefined {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    if (this.equal && !this.env.slowStart?.active(ctx.now)) {
      let candidate = hosts[Math.floor(ctx.random() * n)]!;
      for (let c = 1; c < CHOICE_COUNT; c++) {
        const sampled = hosts[Math.floor(ctx.random() * n)]!;
        if (sampled.active < candidate.active) candidate = sampled;
      }
      return candidate;
    }
    this.now = ctx.now;
    this.edf ??= new EdfScheduler(hosts, hosts.map(this.weightOf), this.env.seed);
    return this.edf.pickAndAdd(this.weightOf);
  }
}
