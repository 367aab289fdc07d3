/**
 * The Mesh's telemetry: what an Istio sidecar reports about each request — Istio's standard
 * metrics (reporter=source on the client, reporter=destination on the server), spans joined
 * across services, Envoy-style access logs, the peer-metadata exchange — plus Meshwork's own
 * series (breakers, ejections, retries, pool overflows, snapshot and sync state, certificate
 * expiry). The building blocks live in @meshwork/telemetry; this file holds what one workload
 * needs of them, prepared when a snapshot or a certificate arrives, so that the adapters (fetch,
 * server) only hand over the facts of a finished request.
 *
 * Hot path: one reusable metric event per Mesh, cached objects for everything that repeats
 * (local metadata and its encoded header, service refs per service, registry metadata per
 * endpoint, span names per service and port); access-log entries only when a logger is on.
 */
import { X509Certificate } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { servedService, type MeshConfig, type MeshService, type Snapshot, type TracingSpec, type WorkloadIdentity } from '@meshwork/policy';
import {
  createAccessLogger, createMeshMetrics, encodePeerMetadata, getRequestId, globalRegistry, istioOperation, istioSpanTags, localWorkload, newRequestId, peerMetadataId, requestIdFrom, samplingPolicy,
  startClientSpan, stdoutDestination, REQUEST_ID_HEADER,
  type AccessLogEvent, type AccessLogger, type AccessLoggerOptions, type HeaderBag, type LocalWorkload, type MeshMetrics, type Registry, type RequestMetricEvent,
  type SamplingPolicy, type ServiceRef, type SpanHandle, type SyncState, type WorkloadMetadata,
} from '@meshwork/telemetry';
import type { IdentityMaterial, IdentitySource } from '@meshwork/identity';
import type { Cluster } from './cluster.js';
import type { EndpointState } from './endpoint.js';
import type { MeshBreakerState } from './breaker.js';
import type { AttemptOutcome } from './retry.js';

export interface MeshTelemetryOptions {
  /**
   * The prom-client registry the metrics go into. Default: prom-client's global `register`, so
   * an application's existing `/metrics` shows them. Pass `new Registry()` to keep them apart
   * (and serve it with `meshMetricsHandler(registry)` from @meshwork/telemetry). Meshes of one
   * process that use the same registry share its series, each with its own labels.
   */
  registry?: Registry | undefined;
  /**
   * Access logs: where the lines go (default stdout), the format when the provider does not say,
   * and whether to log when no Telemetry resource configures access logging (Istio's
   * `meshConfig.accessLogFile`; default false). `false`: never log.
   */
  accessLog?: false | { destination?: AccessLoggerOptions['destination']; format?: 'json' | 'text' | undefined; enabled?: boolean | undefined } | undefined;
  /** Client and server spans and trace-header propagation (default true). `x-request-id` is kept or generated either way. */
  tracing?: boolean | undefined;
  /** The cluster id in metrics and peer metadata (MESHWORK_CLUSTER_ID; default `Kubernetes`, Istio's single-cluster default). */
  clusterId?: string | undefined;
}

/** The facts of one finished outbound request, as the fetch data plane saw them. */
export interface OutboundFacts {
  method: string;
  /** Path and query as the caller sent them. */
  target: string;
  authority: string;
  durationMs: number;
  /** The status sent back to the caller (0: none, the request failed). */
  status: number;
  flags: readonly string[];
  /** The status came from an upstream (else: a local reply, Envoy's `response_code_details` says which). */
  fromUpstream: boolean;
  requestBytes: number;
  responseBytes: number;
  grpc: boolean;
  grpcStatus?: number | undefined;
  /** gRPC messages sent and received (`istio_request_messages_total`, `istio_response_messages_total`). */
  requestMessages?: number | undefined;
  responseMessages?: number | undefined;
  service?: MeshService | undefined;
  /** `PassthroughCluster` (unknown host under ALLOW_ANY) or `BlackHoleCluster` (REGISTRY_ONLY). */
  passthrough?: string | undefined;
  cluster?: Cluster | undefined;
  endpoint?: EndpointState | undefined;
  /** The last attempt used Istio mTLS. */
  mtls: boolean;
  /** The server's metadata from the exchange, if it answered with it. */
  peer?: WorkloadMetadata | undefined;
  span?: SpanHandle | undefined;
  requestId?: string | undefined;
  requestHeaders: HeaderBag;
  routeName?: string | undefined;
  transportFailure?: string | undefined;
  error?: unknown;
}

const NO_FACT_HEADERS: HeaderBag = Object.freeze({}) as HeaderBag;

/**
 * A facts object for an adapter to reuse for every finished request (fill it, then
 * `recordOutboundReused`): telemetry reads it synchronously and keeps nothing.
 */
export function reusableOutboundFacts(grpc: boolean): OutboundFacts {
  return {
    method: grpc ? 'POST' : 'GET', target: '/', authority: '', durationMs: 0, status: 0, flags: [], fromUpstream: false, requestBytes: 0, responseBytes: 0, grpc,
    mtls: false, requestHeaders: NO_FACT_HEADERS,
  };
}

/** The facts of one finished inbound request, as the server pipeline saw them. */
export interface InboundFacts {
  method: string;
  target: string;
  /** `1.1`, `2.0`. */
  httpVersion: string;
  durationMs: number;
  /** 0 when the caller went away before a response started. */
  status: number;
  flags: readonly string[];
  /** Envoy's `response_code_details`: `via_upstream`, `rbac_access_denied_matched_policy[...]`, ... */
  details: string;
  requestBytes: number;
  responseBytes: number;
  grpc: boolean;
  grpcStatus?: number | undefined;
  /** gRPC messages received from the caller and sent back. */
  requestMessages?: number | undefined;
  responseMessages?: number | undefined;
  peer?: WorkloadMetadata | undefined;
  /** The caller's certificate URI SAN (`spiffe://...`) on mTLS. */
  peerPrincipal?: string | undefined;
  mtls: boolean;
  span?: SpanHandle | undefined;
  requestId?: string | undefined;
  requestHeaders: HeaderBag;
  localAddress?: string | undefined;
  localPort: number;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  sni?: string | undefined;
}

const DEFAULT_CLUSTER_ID = 'Kubernetes';

/** One MeshMetrics per registry: families can be registered once, Meshes of a process share them. */
const metricsByRegistry = new WeakMap<Registry, MeshMetrics | null>();

function metricsFor(registry: Registry): MeshMetrics | undefined {
  let m = metricsByRegistry.get(registry);
  if (m === undefined) {
    try {
      m = createMeshMetrics({ registry });
    } catch (e) {
      // Another library registered Istio's names in this registry: no metrics rather than no mesh.
      process.emitWarning(`Meshwork metrics are off: ${(e as Error).message}`, { code: 'MESHWORK_TELEMETRY' });
      m = null;
    }
    metricsByRegistry.set(registry, m);
  }
  return m ?? undefined;
}

/** The address other workloads see: MESHWORK_ADDRESS, else the first external IPv4, else loopback. */
function ownAddress(): string {
  const env = process.env.MESHWORK_ADDRESS;
  if (env) return env;
  try {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  } catch {
    /* no interfaces to read */
  }
  return '127.0.0.1';
}

// Envoy's response_code_details for Meshwork's local replies (source/common/stream_info/utility.cc
// and the filters' RcDetails), by response flag.
const DETAILS: Readonly<Record<string, string>> = {
  UH: 'no_healthy_upstream',
  UO: 'upstream_reset_before_response_started{overflow}',
  UF: 'upstream_reset_before_response_started{connection_failure}',
  UC: 'upstream_reset_before_response_started{connection_termination}',
  UT: 'response_timeout',
  FI: 'fault_filter_abort',
  NR: 'route_not_found',
  NC: 'cluster_not_found',
  DC: 'downstream_remote_disconnect',
};

/** Envoy's `response_code_details` of an outbound request. */
export function outboundDetails(flags: readonly string[], fromUpstream: boolean, status: number): string {
  for (const f of flags) {
    const d = DETAILS[f];
    if (d !== undefined) return d;
  }
  if (fromUpstream) return 'via_upstream';
  return status > 0 ? 'direct_response' : 'upstream_reset_before_response_started';
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` of an endpoint's service account (already-qualified ids as they are). */
function endpointIdentity(sa: string, namespace: string, mesh: MeshConfig): string {
  if (sa.includes('://')) return sa;
  return `spiffe://${mesh.trustDomain}/ns/${namespace}/sa/${sa}`;
}

/**
 * A Mesh's telemetry (`mesh.telemetry`). The adapters call `recordOutbound` / `recordInbound`
 * with the facts of a finished request; everything that depends only on configuration is
 * prepared here when it changes.
 */
export class MeshTelemetry {
  /** Istio's and Meshwork's series (undefined when the registry refused them). */
  readonly metrics: MeshMetrics | undefined;
  /** The registry the metrics are in. */
  readonly registry: Registry;
  /** Spans and trace headers are on. */
  readonly tracing: boolean;
  /** This workload as metrics and the exchange describe it. */
  local: LocalWorkload = localWorkload({ namespace: 'default' });
  /** Our certificate's SPIFFE ID (the local principal on mTLS), when we have one. */
  localPrincipal: string | undefined;
  /** Our `x-envoy-peer-metadata-id` and `x-envoy-peer-metadata` values. */
  peerMetadataId = '';
  peerMetadata = '';
  /** Tracing spec and sampling of each direction, for the snapshot in force. */
  clientTracing: TracingSpec | undefined;
  clientSampling: SamplingPolicy = samplingPolicy(undefined);
  serverTracing: TracingSpec | undefined;
  serverSampling: SamplingPolicy = samplingPolicy(undefined);
  /** Istio's service tags on spans. */
  istioTags: ReturnType<typeof istioSpanTags> = istioSpanTags(this.local);
  /** The service this workload serves (destination_service of inbound requests). */
  inboundService: ServiceRef | undefined;
  /** Access loggers, made when logging is first on (undefined: nothing logs). */
  clientLog: AccessLogger | undefined;
  serverLog: AccessLogger | undefined;

  private readonly clusterId: string;
  private readonly instanceName: string;
  private readonly address: string;
  private readonly logOptions: Exclude<MeshTelemetryOptions['accessLog'], false> | null;
  private logDestination: AccessLoggerOptions['destination'];
  private workload: WorkloadIdentity | undefined;
  private mesh: MeshConfig | undefined;
  private readonly serviceRefs = new WeakMap<MeshService, ServiceRef>();
  private readonly endpointPeers = new WeakMap<EndpointState, WorkloadMetadata>();
  private readonly endpointPeersMtls = new WeakMap<EndpointState, WorkloadMetadata>();
  private readonly operations = new WeakMap<MeshService, Map<number, string>>();
  private inboundOperations = new Map<number, string>();
  private readonly subscriptions: { dispose(): void }[] = [];
  /** One metric event reused for every request: recordRequest reads it synchronously and keeps nothing. */
  private readonly event: RequestMetricEvent = { reporter: 'source', protocol: 'http', responseCode: 0 };

  constructor(options: MeshTelemetryOptions = {}, private readonly identity?: IdentitySource | undefined) {
    this.registry = options.registry ?? globalRegistry;
    this.metrics = metricsFor(this.registry);
    this.tracing = options.tracing !== false;
    this.clusterId = options.clusterId ?? process.env.MESHWORK_CLUSTER_ID ?? DEFAULT_CLUSTER_ID;
    this.instanceName = process.env.MESHWORK_POD_NAME || `${hostname()}-${process.pid}`;
    this.address = ownAddress();
    this.logOptions = options.accessLog === false ? null : (options.accessLog ?? {});
    this.logDestination = this.logOptions?.destination;
    if (identity) {
      this.subscriptions.push(identity.on('change', (m) => this.onCertificate(m)));
      try {
        this.onCertificate(identity.current());
      } catch {
        /* no certificate yet (control service): the first 'change' brings it */
      }
    }
  }

  /** A snapshot is in force: Telemetry settings, local workload, snapshot version. */
  setSnapshot(snap: Snapshot): void {
    const t = snap.telemetry;
    this.metrics?.setTelemetry(t.metrics);
    this.metrics?.setSnapshot(snap.version);
    this.clientTracing = t.tracing?.client ?? undefined;
    this.serverTracing = t.tracing?.server ?? undefined;
    this.clientSampling = samplingPolicy(this.clientTracing);
    this.serverSampling = samplingPolicy(this.serverTracing);
    if (this.logOptions) {
      const client = t.accessLogging?.client ?? null;
      const server = t.accessLogging?.server ?? null;
      const always = this.logOptions.enabled === true;
      if (this.clientLog || always || client?.enabled) (this.clientLog ??= this.logger()).setSpec(client);
      if (this.serverLog || always || server?.enabled) (this.serverLog ??= this.logger()).setSpec(server);
    }
    if (snap.workload !== this.workload || snap.mesh.domainSuffix !== this.mesh?.domainSuffix) {
      this.workload = snap.workload;
      this.mesh = snap.mesh;
      this.updateLocal();
    }
    this.mesh = snap.mesh;
    const inbound = this.findInboundService(snap);
    if (inbound !== this.inboundService) this.inboundOperations = new Map();
    this.inboundService = inbound;
  }

  /** Configuration sync state (`meshwork_snapshot_sync_state`). */
  setSyncState(state: SyncState): void {
    this.metrics?.setSyncState(state);
  }

  private logger(): AccessLogger {
    const o = this.logOptions!;
    this.logDestination ??= stdoutDestination();
    return createAccessLogger({ destination: this.logDestination, format: o.format, enabled: o.enabled === true });
  }

  private onCertificate(m: IdentityMaterial): void {
    const id = m.spiffeId;
    this.metrics?.setCertificateExpiry('default', m.notAfter);
    let root: number | undefined;
    for (const pem of m.rootsPem) {
      try {
        const t = Date.parse(new X509Certificate(pem).validTo);
        if (Number.isFinite(t) && (root === undefined || t < root)) root = t;
      } catch {
        /* an unreadable root: no expiry for it */
      }
    }
    if (root !== undefined) this.metrics?.setCertificateExpiry('ROOTCA', root);
    if (id !== this.localPrincipal) {
      this.localPrincipal = id;
      if (this.workload) this.updateLocal();
    }
  }

  private updateLocal(): void {
    const w = this.workload!;
    this.local = localWorkload({ namespace: w.namespace, labels: w.labels, name: w.name || undefined, instanceName: this.instanceName, clusterId: this.clusterId, identity: this.localPrincipal });
    this.metrics?.setLocal(this.local);
    this.peerMetadata = encodePeerMetadata(this.local);
    this.peerMetadataId = peerMetadataId({ ip: this.address, instanceName: this.instanceName, namespace: w.namespace, domainSuffix: this.mesh?.domainSuffix });
    this.istioTags = istioSpanTags(this.local);
    this.inboundOperations = new Map();
  }

  /** The service this workload serves (policy decides which), as the metrics see it. */
  private findInboundService(snap: Snapshot): ServiceRef | undefined {
    const hit = servedService(snap, [this.local.canonicalService, snap.workload.name]);
    return hit ? this.serviceRef(hit) : undefined;
  }

  /** The metrics' view of a service (one object per service, the metrics cache keys on it). */
  serviceRef(s: MeshService): ServiceRef {
    let r = this.serviceRefs.get(s);
    if (!r) this.serviceRefs.set(s, (r = Object.freeze({ host: s.hostname, name: s.name, namespace: s.namespace })));
    return r;
  }

  /**
   * What the registry says about an endpoint, for the destination labels when the server sent
   * no metadata (Istio reads the endpoint's metadata then). The identity only on mTLS.
   */
  endpointPeer(cluster: Cluster, ep: EndpointState, mtls: boolean): WorkloadMetadata {
    const cache = mtls ? this.endpointPeersMtls : this.endpointPeers;
    let m = cache.get(ep);
    if (!m) {
      const ns = cluster.service?.namespace ?? '';
      const identity = mtls && ep.serviceAccount && this.mesh ? endpointIdentity(ep.serviceAccount, ns, this.mesh) : undefined;
      m = localWorkload({ namespace: ns, labels: ep.labels as Record<string, string>, clusterId: this.clusterId, identity });
      cache.set(ep, m);
    }
    return m;
  }

  /**
   * What an outbound request starts with, for every adapter (fetch, gRPC): the request id (the
   * caller's, else the one of the inbound request being served, else a new one) and, with
   * tracing, the client span (Istio's operation name) whose trace headers go out. The headers
   * to send are written into a fresh object; the caller's are only read.
   */
  beginOutbound(o: { service: MeshService | undefined; host: string; port: number; method: string; scheme: 'http' | 'https'; target: string; requestHeaders: HeaderBag }): { headers: HeaderBag; span: SpanHandle | undefined; requestId: string } {
    const headers: HeaderBag = {};
    if (this.tracing) {
      const span = startClientSpan({
        headers, requestHeaders: o.requestHeaders, method: o.method, operation: this.operation(o.service, o.host, o.port), tracing: this.clientTracing, sampling: this.clientSampling,
        istioTags: this.istioTags, scheme: o.scheme, serverAddress: o.host, serverPort: o.port, target: o.target,
      });
      return { headers, span, requestId: span.requestId };
    }
    const requestId = requestIdFrom(o.requestHeaders[REQUEST_ID_HEADER]) ?? getRequestId() ?? newRequestId();
    headers[REQUEST_ID_HEADER] = requestId;
    return { headers, span: undefined, requestId };
  }

  /** Istio's span name `<host>:<port>/*`, one string per service and port. */
  operation(service: MeshService | undefined, host: string, port: number): string {
    if (!service) return istioOperation(host, port);
    let byPort = this.operations.get(service);
    if (!byPort) this.operations.set(service, (byPort = new Map()));
    let op = byPort.get(port);
    if (op === undefined) byPort.set(port, (op = istioOperation(service.hostname, port)));
    return op;
  }

  /** The span name of inbound requests on a port: `<service FQDN>:<port>/*`, one string per port. */
  inboundOperation(port: number): string {
    let op = this.inboundOperations.get(port);
    if (op === undefined) {
      op = istioOperation(this.inboundService?.host ?? (this.local.canonicalService || 'unknown'), port);
      if (this.inboundOperations.size < 64) this.inboundOperations.set(port, op);
    }
    return op;
  }

  /** A retry or a failed attempt, as a span event on the request's client span. */
  attemptEvent(span: SpanHandle | undefined, attempt: number, upstream: string | undefined, outcome: AttemptOutcome): void {
    if (!span?.owned) return;
    try {
      if (!span.span.isRecording()) return;
      span.span.addEvent('attempt', {
        'meshwork.attempt': attempt,
        ...(upstream ? { 'meshwork.upstream': upstream } : {}),
        'meshwork.outcome': outcome.kind === 'response' ? `response ${outcome.status}` : outcome.reason,
      });
    } catch {
      /* a tracer never breaks a request */
    }
  }

  /**
   * Records a finished outbound request: reporter=source metrics, access log, span end. The
   * facts are read during the call only, so a caller may reuse one object for every request.
   */
  recordOutbound(f: OutboundFacts): void {
    if (this.metrics) {
      const peer = f.peer ?? (f.endpoint && f.cluster ? this.endpointPeer(f.cluster, f.endpoint, f.mtls) : undefined);
      this.recordMetrics('source', f, peer, undefined, f.service ? this.serviceRef(f.service) : undefined, f.authority, f.passthrough);
    }
    const log = this.clientLog;
    if (log?.enabled) {
      log.log({
        startTime: Date.now() - f.durationMs,
        method: f.method,
        path: f.target,
        protocol: 'HTTP/1.1',
        responseCode: f.status,
        responseFlags: f.flags,
        responseCodeDetails: outboundDetails(f.flags, f.fromUpstream, f.status),
        bytesReceived: f.requestBytes,
        bytesSent: f.responseBytes,
        durationMs: f.durationMs,
        requestHeaders: f.requestHeaders,
        authority: f.authority,
        requestId: f.requestId,
        upstreamHost: f.endpoint?.key,
        upstreamCluster: f.cluster?.key ?? f.passthrough,
        upstreamTransportFailureReason: f.transportFailure,
        routeName: f.routeName,
        mtls: f.mtls,
        grpcStatus: f.grpcStatus,
      } satisfies AccessLogEvent);
    }
    // Last: a span processor is user code, and may start requests of its own.
    f.span?.end({ statusCode: f.status, responseFlags: f.flags, error: f.error });
  }

  /**
   * recordOutbound for a facts object the caller reuses (reusableOutboundFacts): never throws
   * (telemetry never breaks a request), and drops the object's references to this request after,
   * so none stays reachable from it.
   */
  recordOutboundReused(f: OutboundFacts): void {
    try {
      this.recordOutbound(f);
    } catch {
      /* telemetry never breaks a request */
    }
    f.service = f.cluster = f.endpoint = f.peer = f.span = f.error = undefined;
    f.requestHeaders = NO_FACT_HEADERS;
  }

  /** Records a finished inbound request: reporter=destination metrics, span end, access log. */
  recordInbound(f: InboundFacts): void {
    if (this.metrics) this.recordMetrics('destination', f, f.peer, f.peerPrincipal, this.inboundService, undefined, undefined);
    f.span?.end({ statusCode: f.status, responseFlags: f.flags });
    const log = this.serverLog;
    if (log?.enabled) {
      const local = f.localAddress ? `${f.localAddress.includes(':') ? `[${f.localAddress}]` : f.localAddress}:${f.localPort}` : undefined;
      log.log({
        startTime: Date.now() - f.durationMs,
        method: f.method,
        path: f.target,
        protocol: f.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${f.httpVersion}`,
        responseCode: f.status,
        responseFlags: f.flags,
        responseCodeDetails: f.details,
        bytesReceived: f.requestBytes,
        bytesSent: f.responseBytes,
        durationMs: f.durationMs,
        requestHeaders: f.requestHeaders,
        requestId: f.requestId,
        upstreamHost: f.details === 'via_upstream' ? local : undefined,
        upstreamCluster: `inbound|${f.localPort}||`,
        downstreamLocalAddress: local,
        downstreamRemoteAddress: f.remoteAddress ? `${f.remoteAddress.includes(':') ? `[${f.remoteAddress}]` : f.remoteAddress}:${f.remotePort ?? 0}` : undefined,
        requestedServerName: f.sni,
        mtls: f.mtls,
        grpcStatus: f.grpcStatus,
      } satisfies AccessLogEvent);
    }
  }

  /**
   * One request into Istio's metrics, from either side. The event object is reused (the
   * metrics read it during the call only) and its object fields cleared after, so no request
   * keeps another's peer or service alive.
   */
  private recordMetrics(
    reporter: 'source' | 'destination',
    f: Pick<InboundFacts & OutboundFacts, 'mtls' | 'grpc' | 'status' | 'grpcStatus' | 'flags' | 'durationMs' | 'requestBytes' | 'responseBytes' | 'requestMessages' | 'responseMessages'>,
    peer: WorkloadMetadata | undefined,
    peerPrincipal: string | undefined,
    service: ServiceRef | undefined,
    authority: string | undefined,
    passthrough: string | undefined,
  ): void {
    const e = this.event;
    e.reporter = reporter;
    e.local = this.local;
    e.peer = peer;
    e.peerPrincipal = peerPrincipal;
    e.localPrincipal = f.mtls ? this.localPrincipal : undefined;
    e.service = service;
    e.authority = authority;
    e.passthrough = passthrough;
    e.protocol = f.grpc ? 'grpc' : 'http';
    e.responseCode = f.status;
    e.grpcStatus = f.grpcStatus;
    e.responseFlags = f.flags;
    e.durationMs = f.durationMs;
    e.requestBytes = f.requestBytes;
    e.responseBytes = f.responseBytes;
    e.requestMessages = f.requestMessages;
    e.responseMessages = f.responseMessages;
    e.attributes = undefined;
    try {
      this.metrics!.recordRequest(e);
    } catch {
      /* metrics never break a request */
    }
    e.peer = undefined;
    e.service = undefined;
  }

  /** Outlier detection ejected an endpoint of `cluster` (`meshwork_outlier_ejections_total`). */
  recordEjection(cluster: string): void {
    this.metrics?.recordOutlierEjection(cluster);
  }

  recordRetry(cluster: string): void {
    this.metrics?.recordRetry(cluster);
  }

  recordPoolOverflow(cluster: string): void {
    this.metrics?.recordPoolOverflow(cluster);
  }

  /**
   * Reports a call-site breaker's state as `meshwork_breaker_state{breaker}` until disposed.
   *
   * @example
   * const sub = mesh.telemetry?.observeBreaker(meshBreaker(callRatings, { name: 'ratings' }));
   */
  observeBreaker(breaker: { readonly name: string; readonly state: MeshBreakerState; on(event: 'open' | 'close' | 'halfOpen', listener: () => void): { dispose(): void } }): { dispose(): void } {
    const m = this.metrics;
    if (!m) return { dispose() {} };
    const set = () => m.setBreakerState(breaker.name, breaker.state);
    set();
    const subs = [breaker.on('open', set), breaker.on('close', set), breaker.on('halfOpen', set)];
    return { dispose: () => subs.forEach((s) => s.dispose()) };
  }

  /** Flushes the access logs and stops following the certificate. */
  close(): void {
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions.length = 0;
    this.clientLog?.flush();
    this.serverLog?.flush();
  }
}
