/**
 * Slow start (Istio `loadBalancer.warmup` / `warmupDurationSecs`) as Envoy applies it to
 * ROUND_ROBIN and LEAST_REQUEST (`EdfLoadBalancerBase::applySlowStartFactor`,
 * `noHostsAreInSlowStart`): a host younger than the window gets its weight scaled by
 * `max(timeFactor^(1/aggression), minimumPercent/100)`, where `timeFactor = age / window`.
 *
 * Envoy starts a host's window when it was added (no active health checking in Istio), which
 * is `EndpointState.addedAt`. Hosts present when the cluster is first built share the same
 * start, so they ramp together and their relative weights are unchanged.
 */
import type { ClusterPolicy } from '@meshwork/policy';
import type { EndpointState } from '../endpoint.js';

export type WarmupConfig = NonNullable<ClusterPolicy['warmup']>;

export class SlowStart {
  private readonly windowMs: number;
  private readonly minWeight: number;
  private readonly aggression: number;
  private latestAddedAt = -Infinity;

  constructor(config: WarmupConfig, endpoints: readonly EndpointState[]) {
    this.windowMs = config.durationMs;
    // Envoy's min_weight_percent is a percent (default 10 %).
    this.minWeight = Math.min(1, Math.max(0, (Number.isFinite(config.minimumPercent) ? config.minimumPercent : 10) / 100));
    // Envoy treats aggression ≤ 0 or NaN as 1.0 (it logs and falls back).
    this.aggression = config.aggression > 0 ? config.aggression : 1;
    for (const e of endpoints) if (e.addedAt > this.latestAddedAt) this.latestAddedAt = e.addedAt;
  }

  /** A zero window disables slow start (Envoy: `isSlowStartEnabled`). */
  get enabled(): boolean {
    return this.windowMs > 0;
  }

  /**
   * True while the most recently added host is inside the window (`!noHostsAreInSlowStart`).
   * While true, even equally weighted hosts go through the EDF scheduler so their
   * scaled weights count.
   */
  active(now: number): boolean {
    return this.windowMs > 0 && now - this.latestAddedAt <= this.windowMs;
  }

  /** `weight` scaled for `host`'s age at `now`. */
  scale(weight: number, host: EndpointState, now: number): number {
    if (!host.healthy) return weight;
    const age = now - host.addedAt;
    if (age >= this.windowMs) return weight;
    const timeFactor = Math.max(1, age) / this.windowMs;
    const f = this.aggression === 1 || timeFactor === 1 ? timeFactor : Math.pow(timeFactor, 1 / this.aggression);
    return weight * Math.max(f, this.minWeight);
  }
}

/** The slow-start helper for a policy, or null when warmup is absent or has a zero window. */
export function slowStartFor(config: WarmupConfig | undefined, endpoints: readonly EndpointState[]): SlowStart | null {
  if (!config || !(config.durationMs > 0)) return null;
  return new SlowStart(config, endpoints);
}
