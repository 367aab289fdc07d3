/**
 * An endpoint as the data plane sees it at run time: where to send, its labels, and the
 * counters that load balancing and outlier detection read. One object per endpoint per
 * cluster, kept across snapshot swaps while the endpoint stays, so counters survive.
 */
export interface EndpointState {
  /** `address:port`, unique within a cluster. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** `region/zone/subzone`, or '' when unknown. */
  readonly locality: string;
  /** Relative load-balancing weight (>= 1). */
  readonly weight: number;
  /** Service account of the workload (secure naming). */
  readonly serviceAccount?: string | undefined;
  /** `istio` when the endpoint takes Istio mTLS (auto-mTLS), else `disabled` (policy decides). */
  readonly tlsMode: string;
  /** Requests in flight to this endpoint (LEAST_REQUEST reads it). */
  active: number;
  /** False while outlier detection has it ejected. */
  healthy: boolean;
  /** Monotonic ms when the endpoint joined the cluster (warmup / slow start). */
  addedAt: number;
}

export function createEndpointState(init: { address: string; port: number; labels?: Record<string, string>; locality?: string; weight?: number; serviceAccount?: string; tlsMode?: string }, now: number): EndpointState {
  return {
    key: `${init.address.includes(':') ? `[${init.address}]` : init.address}:${init.port}`,
    address: init.address,
    port: init.port,
    labels: init.labels ?? {},
    locality: init.locality ?? '',
    weight: init.weight && init.weight > 0 ? init.weight : 1,
    serviceAccount: init.serviceAccount,
    tlsMode: init.tlsMode ?? 'disabled',
    active: 0,
    healthy: true,
    addedAt: now,
  };
}

/** What a load balancer is asked for one pick. */
export interface PickContext {
  /** Consistent-hash key of the request (header, cookie, source IP or query value), if the policy hashes. */
  hashKey?: string | undefined;
  /** Hosts already tried by this request: avoided when another host exists (retry host predicate). */
  exclude?: ReadonlySet<EndpointState> | undefined;
  /** Uniform [0, 1) source; injectable so tests are deterministic. */
  random: () => number;
  /** Monotonic ms. */
  now: number;
}

export interface LoadBalancer {
  /** Chooses an endpoint among the cluster's, or undefined when none is usable (503 UH). */
  pick(ctx: PickContext): EndpointState | undefined;
}
