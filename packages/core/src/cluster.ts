/**
 * A cluster is Envoy's unit of upstream state: (service, subset, port) with its merged
 * traffic policy, its endpoints, a load balancer, outlier detection and the circuit-breaker
 * counters. Limits are per client process per cluster, summed over endpoints (reference
 * §2.4). Endpoint objects survive snapshot swaps so counters and ejections carry over.
 */
import { clusterPolicy, destinationPolicy, inferServerMtlsMode, labelsMatch, upstreamTls, type ClusterPolicy, type MeshConfig, type UpstreamTls, type MeshService, type RouteDestination, type Snapshot } from '@meshwork/policy';
import { createEndpointState, type EndpointState, type LoadBalancer, type PickContext } from './endpoint.js';
import { createLoadBalancer, noteHealthChange } from './lb/index.js';
import { OutlierDetector } from './outlier-detection.js';

export function clusterKey(host: string, subset: string | null | undefined, port: number): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

/** Endpoint port for a service port: WorkloadEntry `ports[name]`, else the service's targetPort. */
function endpointPort(service: MeshService, port: number, epPorts: Record<string, number>): number | undefined {
  const sp = service.ports.find((p) => p.number === port);
  if (!sp) return service.ports.length === 0 ? port : undefined;
  return epPorts[sp.name] ?? sp.targetPort;
}

export interface Admission {
  /** Resolves when the request may go (null: at once). */
  ready: Promise<void> | null;
  /** Frees the slot (or leaves the queue if still waiting). Call exactly once. */
  release(): void;
}

export class Cluster {
  readonly key: string;
  policy!: ClusterPolicy;
  endpoints: EndpointState[] = [];
  lb!: LoadBalancer;
  outlier: OutlierDetector | null = null;
  service: MeshService | undefined;
  /** True when the service forwards to the request's original destination (ServiceEntry resolution NONE without endpoints). */
  passthrough = false;
  /**
   * A destination inside the mesh (a MESH_INTERNAL service, not passthrough): the only kind
   * that may receive the workload's peer metadata (x-envoy-peer-metadata), set per snapshot.
   */
  inMesh = false;
  version = '';
  private meshConfig: MeshConfig | undefined;
  /** Whether this workload has a certificate to offer (auto-mTLS sends plaintext without one). */
  clientHasIdentity = false;
  private tlsByEndpoint = new WeakMap<EndpointState, UpstreamTls>();

  // Circuit breaker counters (Envoy semantics): active requests, the pending queue, retries.
  active = 0;
  activeRetries = 0;
  private readonly pending: (() => void)[] = [];
  private readonly immediate: Admission = { ready: null, release: () => this.release() };

  constructor(
    readonly host: string,
    readonly subset: string | null,
    readonly port: number,
    private readonly now: () => number,
    private readonly clientLocality?: string | undefined,
    private readonly clientLabels?: Readonly<Record<string, string>> | undefined,
  ) {
    this.key = clusterKey(host, subset, port);
  }

  /**
   * (Re)builds endpoints and policy for a snapshot; keeps EndpointState objects that stay and
   * returns the ones that left (their connections can be closed).
   */
  update(snap: Snapshot, dest: RouteDestination): EndpointState[] {
    if (this.version === snap.version) return [];
    this.version = snap.version;
    this.meshConfig = snap.mesh;
    this.tlsByEndpoint = new WeakMap();
    const { trafficPolicy } = destinationPolicy(snap, dest);
    const service = dest.service;
    this.service = service;
    this.policy = clusterPolicy(trafficPolicy, service, snap.mesh, inferServerMtlsMode(snap, service));
    const dr = service ? snap.destinationRules.lookup(service.hostname, service.namespace) : null;
    const subsetLabels = this.subset ? dr?.subsets.find((s) => s.name === this.subset)?.labels : undefined;
    const previous = new Map(this.endpoints.map((e) => [e.key, e]));
    const next: EndpointState[] = [];
    const t = this.now();
    this.passthrough = false;
    this.inMesh = false;
    if (service) {
      let eps = service.endpoints;
      if (eps.length === 0 && service.origin === 'ServiceEntry') {
        if (service.resolution === 'DNS' || service.resolution === 'DNS_ROUND_ROBIN') {
          // DNS resolution without endpoints: the (non-wildcard) host itself is the endpoint.
          if (!service.hostname.startsWith('*')) eps = [{ address: service.hostname, ports: {}, labels: {}, weight: 1, tlsMode: 'disabled', source: service.resource }];
        } else if (service.resolution === 'NONE') {
          this.passthrough = true;
        }
      }
      this.inMesh = !this.passthrough && service.location === 'MESH_INTERNAL';
      for (const ep of eps) {
        if (subsetLabels && !labelsMatch(subsetLabels, ep.labels)) continue;
        const port = endpointPort(service, this.port, ep.ports);
        if (port === undefined) continue;
        const s = createEndpointState({ address: ep.address, port, labels: ep.labels, locality: ep.locality, weight: ep.weight, serviceAccount: ep.serviceAccount, tlsMode: ep.tlsMode }, t);
        const kept = previous.get(s.key);
        // An endpoint that starts or stops taking mTLS is a new endpoint (its connections differ).
        next.push(kept && kept.tlsMode === s.tlsMode ? kept : s);
      }
    }
    const removed = this.endpoints.filter((e) => !next.includes(e));
    this.endpoints = next;
    this.lb = createLoadBalancer(this.policy.loadBalancer, next, {
      clientLocality: this.clientLocality,
      clientLabels: this.clientLabels,
      // Locality priorities only matter when outlier detection can mark hosts unhealthy (Istio).
      outlierDetection: this.policy.outlierDetection !== null,
      localityLbSetting: this.policy.localityLbSetting,
      warmup: this.policy.warmup,
      minHealthPercent: this.policy.outlierDetection?.minHealthPercent ?? 0,
    });
    if (this.policy.outlierDetection) {
      if (!this.outlier) this.outlier = new OutlierDetector(this.policy.outlierDetection, { now: this.now });
      else this.outlier.configure(this.policy.outlierDetection);
      this.outlier.setEndpoints(next, t);
    } else {
      // Without the block outlier detection is off: every endpoint counts as healthy.
      this.outlier = null;
      let changed = false;
      for (const e of next) {
        if (!e.healthy) changed = true;
        e.healthy = true;
      }
      if (changed) noteHealthChange();
    }
    return removed;
  }

  /**
   * How to talk to an endpoint (plaintext, Istio mTLS with secure naming, DR TLS), decided by
   * the policy engine once per endpoint and snapshot.
   */
  tlsFor(ep: EndpointState): UpstreamTls {
    let t = this.tlsByEndpoint.get(ep);
    if (!t) {
      t = upstreamTls(this.policy.tls, this.service, ep, { host: this.host, subset: this.subset ?? undefined, port: this.port }, this.meshConfig!, this.clientHasIdentity);
      this.tlsByEndpoint.set(ep, t);
    }
    return t;
  }

  pick(ctx: PickContext): EndpointState | undefined {
    return this.lb.pick(ctx);
  }

  /**
   * Circuit breaker admission. Requests beyond the concurrency limit (maxConnections for
   * HTTP/1.1, http2MaxRequests) wait in the pending queue; when the queue holds
   * http1MaxPendingRequests already, the request overflows (503 UO) at once. Over HTTP/2
   * (gRPC) requests share connections, so maxConnections does not bound them: only
   * http2MaxRequests does (Envoy's max_requests), with no queue behind it.
   */
  admit(protocol: 'http1' | 'http2' = 'http1'): Admission | 'overflow' {
    const cp = this.policy.connectionPool;
    const limit = protocol === 'http2' ? cp.http2MaxRequests : Math.min(cp.maxConnections, cp.http2MaxRequests);
    if (this.active < limit) {
      this.active++;
      // The common case allocates nothing: one shared admission per cluster.
      return this.immediate;
    }
    if (this.pending.length >= cp.http1MaxPendingRequests || this.active >= cp.http2MaxRequests) return 'overflow';
    let admitted = false;
    let waiter: (() => void) | undefined;
    const ready = new Promise<void>((resolve) => {
      waiter = () => {
        admitted = true;
        this.active++;
        resolve();
      };
      this.pending.push(waiter);
    });
    return {
      ready,
      release: () => {
        if (admitted) this.release();
        else {
          // Given up while queued (caller aborted, deadline passed): leave the queue.
          const i = this.pending.indexOf(waiter!);
          if (i >= 0) this.pending.splice(i, 1);
        }
      },
    };
  }

  private release(): void {
    this.active--;
    const next = this.pending.shift();
    if (next) next();
  }

  /** A retry budget for clusters whose DestinationRule sets none (MeshOptions.retryBudget, beyond Istio). */
  defaultRetryBudget: { percent: number; minRetryConcurrency: number } | undefined;

  /**
   * May a retry start now? `maxRetries` caps concurrent retries per cluster; a retry budget
   * (DestinationRule `retryBudget`, Istio 1.27+, or the mesh option) caps them as a share of
   * the active requests, with a floor (Envoy retry_budget). Beyond either, the retry is skipped.
   */
  tryStartRetry(): boolean {
    if (this.activeRetries >= this.policy.connectionPool.maxRetries) return false;
    const budget = this.policy.retryBudget ?? this.defaultRetryBudget;
    if (budget) {
      const allowed = Math.max(budget.minRetryConcurrency, (budget.percent / 100) * this.active);
      if (this.activeRetries >= allowed) return false;
    }
    this.activeRetries++;
    return true;
  }

  endRetry(): void {
    this.activeRetries--;
  }
}
