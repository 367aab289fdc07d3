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
  exclude?: HostSet | undefined;
  /** Uniform [0, 1) source; injectable so tests are deterministic. */
  random: () => number;
  /** Monotonic ms. */
  now: number;
}

/** What host selection reads of the hosts to avoid (a Set, or a request's TriedHosts). */
export interface HostSet {
  readonly size: number;
  has(host: EndpointState): boolean;
}

/**
 * The hosts one request has tried, for retries that avoid them (Envoy's previous_hosts
 * predicate), kept by every adapter the same way: the first host in a field and a Set only
 * from the second (most requests make one attempt; a Set per request showed in allocation
 * profiles).
 */
export class TriedHosts implements HostSet {
  private first: EndpointState | undefined;
  private rest: Set<EndpointState> | undefined;

  get size(): number {
    return this.first === undefined ? 0 : 1 + (this.rest?.size ?? 0);
  }

  has(host: EndpointState): boolean {
    return host === this.first || (this.rest !== undefined && this.rest.has(host));
  }

  add(host: EndpointState): void {
    if (this.first === undefined) this.first = host;
    else if (host !== this.first) (this.rest ??= new Set()).add(host);
  }
}

export interface LoadBalancer {
  /** Chooses an endpoint among the cluster's, or undefined when none is usable (503 UH). */
  pick(ctx: PickContext): EndpointState | undefined;
}
