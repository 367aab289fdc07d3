/**
 * RANDOM as Envoy runs it (`RandomLoadBalancer::peekOrChoose`): a uniform draw over the
 * chosen host source. Envoy ignores endpoint weights here (only locality weights, which
 * pick the source, apply), and so do we.
 */
import type { EndpointState, PickContext } from '../endpoint.js';
import type { HostPicker } from './round-robin.js';

export class RandomPicker implements HostPicker {
  constructor(private readonly hosts: readonly EndpointState[]) {}

  pick(ctx: PickContext): EndpointState | undefined {
    const n = this.hosts.length;
    if (n <= 1) return this.hosts[0];
    return this.hosts[Math.floor(ctx.random() * n)];
  }
}
