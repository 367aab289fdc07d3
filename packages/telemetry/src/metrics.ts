/**
 * Istio's standard metrics, recorded in-process into a prom-client registry with the names,
 * labels, label values and buckets an Istio sidecar exposes on /stats/prometheus:
 *
 * - names and labels: Istio's stats filter (istio/proxy istio_stats.cc, now
 *   envoyproxy/envoy contrib/istio/filters/http/istio_stats): `istio_requests_total`,
 *   `istio_request_duration_milliseconds`, `istio_request_bytes`, `istio_response_bytes`,
 *   `istio_request_messages_total`, `istio_response_messages_total`, each with the same 25 labels;
 * - label values: `populatePeerInfo` (peer-side values default to `unknown`, the peer's canonical
 *   revision to `latest`, own-side values come from the local workload as they are);
 * - buckets: Envoy's default histogram buckets (source/common/stats/histogram_impl.cc:
 *   HistogramSettingsImpl::defaultBuckets), the same for milliseconds and bytes;
 * - help texts: Envoy's Prometheus output has none (only `# TYPE`), prom-client requires one, so
 *   these are Istio's metric descriptions (istio.io docs/reference/config/metrics).
 *
 * Hot path. prom-client's `labels()` children re-hash every label value on each call
 * (lib/util.js hashObject + validateLabel), which for 25 labels is most of the cost of a
 * request's metrics. So the Istio families keep their own series objects, found through a cache
 * keyed by object identity and a few small values (peer metadata object, service object,
 * principals, status/protocol packed in a number, flags), and expose them to prom-client by
 * subclassing its Counter and Histogram: the registry, `Registry.merge`, default labels and both
 * content types work unchanged. A request whose label combination was seen before builds no
 * label string and allocates nothing (unless tag overrides read request attributes).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, register } from 'prom-client';
import type { CompiledMetrics, CompiledTagValue, EnvoyAttributes, MetricOverride } from '@meshwork/policy';
import type { LocalWorkload, WorkloadMetadata } from './peer-metadata.js';
import { ISTIO_STANDARD_TAGS } from '@meshwork/policy/istio-tags';

export { Registry } from 'prom-client';

/**
 * prom-client's default registry (`require('prom-client').register`), the one an application's
 * existing `/metrics` endpoint usually serves.
 */
export const globalRegistry: Registry = register;

/** Envoy's default histogram buckets (ms for durations, bytes for sizes). */
export const ISTIO_BUCKETS: readonly number[] = Object.freeze([0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000]);

/**
 * The 25 standard labels, in the order the stats filter emits them (populatePeerInfo & log):
 * policy's list (ISTIO_STANDARD_TAGS, which also validates Telemetry tag overrides), from its
 * import-free subpath.
 */
export const ISTIO_LABELS = ISTIO_STANDARD_TAGS;
export type IstioLabel = (typeof ISTIO_LABELS)[number];

/** Istio's standard metrics: Prometheus name, short name (Telemetry overrides), type, help. */
export const ISTIO_METRIC_DEFINITIONS = [
  { name: 'istio_requests_total', short: 'requests_total', type: 'counter', help: 'This is a COUNTER incremented for every request handled by an Istio proxy.' },
  { name: 'istio_request_duration_milliseconds', short: 'request_duration_milliseconds', type: 'histogram', help: 'This is a DISTRIBUTION which measures the duration of requests.' },
  { name: 'istio_request_bytes', short: 'request_bytes', type: 'histogram', help: 'This is a DISTRIBUTION which measures HTTP request body sizes.' },
  { name: 'istio_response_bytes', short: 'response_bytes', type: 'histogram', help: 'This is a DISTRIBUTION which measures HTTP response body sizes.' },
  { name: 'istio_request_messages_total', short: 'request_messages_total', type: 'counter', help: 'This is a COUNTER incremented for every gRPC message sent from a client.' },
  { name: 'istio_response_messages_total', short: 'response_messages_total', type: 'counter', help: 'This is a COUNTER incremented for every gRPC message sent from a server.' },
] as const;

type Short = (typeof ISTIO_METRIC_DEFINITIONS)[number]['short'];

const UNKNOWN = 'unknown';
const LATEST = 'latest';

/** The destination service of a request: the routed mesh service (Istio: cluster metadata `istio.services[0]`). */
export interface ServiceRef {
  /** FQDN, e.g. `reviews.default.svc.cluster.local`. */
  readonly host: string;
  /** Short name (default: the host up to the first dot). */
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
}

/** One finished HTTP or gRPC request, as one side saw it. Reuse objects (peer, service) across requests: the cache keys on their identity. */
export interface RequestMetricEvent {
  /** `source`: the client side (outbound); `destination`: the server side (inbound). */
  reporter: 'source' | 'destination';
  /** The other side's metadata (from the exchange, or from the registry for the destination). */
  peer?: WorkloadMetadata | undefined;
  /** The other side's certificate URI SAN (`spiffe://...`; the prefix is added when missing). */
  peerPrincipal?: string | undefined;
  /** Our own certificate URI SAN when the connection used mTLS. */
  localPrincipal?: string | undefined;
  /** The mesh service routed to. */
  service?: ServiceRef | undefined;
  /** Host header as sent: the client-side fallback for `destination_service` (Istio disables the fallback on the server side). */
  authority?: string | undefined;
  /** `BlackHoleCluster`, `PassthroughCluster`, `InboundPassthroughCluster`: replaces `destination_service_name`. */
  passthrough?: string | undefined;
  protocol: 'http' | 'grpc';
  /** HTTP status; 0 when no response was sent. */
  responseCode: number;
  /** gRPC status from `grpc-status` (gRPC only); inferred from `responseCode` when absent, as Envoy does. */
  grpcStatus?: number | undefined;
  /** Envoy response flags (`['UO']`, `'UF,URX'`); none: `-`. */
  responseFlags?: readonly string[] | string | undefined;
  /** Milliseconds from the first request byte to the last response byte (recorded as whole ms, like Envoy). */
  durationMs?: number | undefined;
  requestBytes?: number | undefined;
  responseBytes?: number | undefined;
  /** gRPC messages since the last report (streams report periodically and at the end). */
  requestMessages?: number | undefined;
  responseMessages?: number | undefined;
  /** Envoy attributes of the request, read by Telemetry tag overrides that use them. */
  attributes?: EnvoyAttributes | undefined;
  /**
   * The local workload of this request (default: the recorder's `local`). Lets several Meshes
   * of one process record into one registry, each with its own labels. Pass the same object
   * every time: the cache keys on it.
   */
  local?: LocalWorkload | undefined;
}

/** States of a call-site breaker (core's MeshBreakerState). */
export type BreakerState = 'closed' | 'half-open' | 'open' | 'shutdown';
const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, shutdown: 3 };

/** How this workload's configuration is doing. */
export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'STATIC';
const SYNC_STATES: readonly SyncState[] = ['SYNCED', 'STALE', 'NACKED', 'STATIC'];

export interface MeshMetricsOptions {
  /** Where to register (default: a new Registry, not prom-client's global one). Pass the application's registry to expose everything on one endpoint. */
  registry?: Registry | undefined;
  /** Prefix of Meshwork's own series (default `meshwork_`). Istio's names never change. */
  prefix?: string | undefined;
  /** The local workload (own-side labels). Default: empty values, as a sidecar without metadata. */
  local?: LocalWorkload | undefined;
  /** Telemetry API settings: `compileTelemetry(...).metrics`. Default: every metric, no overrides. */
  telemetry?: CompiledMetrics | undefined;
  /** Label combinations kept in the lookup cache before it is reset (series are kept; default 10000). */
  maxCachedSeries?: number | undefined;
}

export interface MeshMetrics {
  readonly registry: Registry;
  /** Records one finished request (reporter=source on the client, reporter=destination on the server). */
  recordRequest(event: RequestMetricEvent): void;
  /** Applies new Telemetry settings. Families whose label set changes are re-created (their series restart from zero). */
  setTelemetry(metrics: CompiledMetrics | undefined): void;
  /** Changes the local workload (own-side labels). */
  setLocal(local: LocalWorkload | undefined): void;
  setBreakerState(breaker: string, state: BreakerState): void;
  recordOutlierEjection(cluster: string): void;
  recordRetry(cluster: string): void;
  recordPoolOverflow(cluster: string): void;
  /** The snapshot version in use (`meshwork_snapshot_info{version} 1`). */
  setSnapshot(version: string): void;
  setSyncState(state: SyncState): void;
  /** Certificate expiry; the gauge reports the seconds left at scrape time (`resource_name`: `default` or `ROOTCA`, as istio-agent). */
  setCertificateExpiry(resourceName: string, notAfter: Date | number): void;
}

// ---------------------------------------------------------------------------------------------
// Series storage exposed through prom-client

interface CounterRow {
  value: number;
  labels: Readonly<Record<string, string>>;
}

/** A prom-client Counter whose rows Meshwork owns; `get()` appends them to prom-client's own. */
class RowCounter extends Counter<string> {
  readonly rows: CounterRow[] = [];
  private readonly index = new Map<string, CounterRow>();
  row(labels: Readonly<Record<string, string>>, key: string): CounterRow {
    let r = this.index.get(key);
    if (!r) {
      r = { value: 0, labels };
      this.index.set(key, r);
      this.rows.push(r);
    }
    return r;
  }
  override async get() {
    const data = await super.get();
    if (this.rows.length) data.values = data.values.concat(this.rows.filter((r) => r.value > 0) as never[]);
    return data;
  }
  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    for (const r of this.rows ?? []) r.value = 0;
  }
}

interface HistogramRow {
  readonly labels: Readonly<Record<string, string>>;
  /** Non-cumulative counts per bucket, the last one for +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** A prom-client Histogram whose rows Meshwork owns. */
class RowHistogram extends Histogram<string> {
  readonly rows: HistogramRow[] = [];
  private readonly index = new Map<string, HistogramRow>();
  readonly metricName: string;
  constructor(
    config: ConstructorParameters<typeof Histogram<string>>[0],
    readonly bounds: readonly number[],
  ) {
    super(config);
    this.metricName = config.name;
  }
  row(labels: Readonly<Record<string, string>>, key: string): HistogramRow {
    let r = this.index.get(key);
    if (!r) {
      r = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.index.set(key, r);
      this.rows.push(r);
    }
    return r;
  }
  // prom-client's Histogram.get() and the registry call getForPromString(); its rows come first.
  async getForPromString() {
    const base = (Histogram.prototype as unknown as { getForPromString(this: Histogram<string>): Promise<{ values: unknown[] }> }).getForPromString;
    const data = await base.call(this);
    const bucket = `${this.metricName}_bucket`;
    for (const r of this.rows) {
      if (r.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += r.counts[i]!;
        data.values.push({ labels: { le: this.bounds[i] }, sharedLabels: r.labels, value: acc, metricName: bucket, exemplar: null });
      }
      data.values.push(
        { labels: { le: '+Inf' }, sharedLabels: r.labels, value: r.count, metricName: bucket, exemplar: null },
        { labels: {}, sharedLabels: r.labels, value: r.sum, metricName: `${this.metricName}_sum` },
        { labels: {}, sharedLabels: r.labels, value: r.count, metricName: `${this.metricName}_count` },
      );
    }
    return data;
  }
  override reset(): void {
    super.reset();
    for (const r of this.rows ?? []) {
      r.counts.fill(0);
      r.sum = 0;
      r.count = 0;
    }
  }
}

function observe(r: HistogramRow, bounds: readonly number[], v: number) {
  let i = 0;
  while (i < bounds.length && v > bounds[i]!) i++;
  r.counts[i]!++;
  r.sum += v;
  r.count++;
}

// ---------------------------------------------------------------------------------------------
// Label values (istio_stats.cc: populatePeerInfo, log, populateFlagsAndConnectionSecurity)

/** Envoy's HTTP→gRPC status mapping (source/common/grpc/status.cc: httpToGrpcStatus). */
export function grpcStatusFromHttp(code: number): number {
  switch (code) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

function spiffe(p: string | undefined): string {
  if (!p) return '';
  return p.startsWith('spiffe://') ? p : `spiffe://${p}`;
}

/** The namespace in `.../ns/<ns>/...` (istio_stats.cc: getNamespace). */
function namespaceOfPrincipal(principal: string): string {
  const i = principal.indexOf('/ns/');
  if (i < 0) return '';
  const s = i + 4;
  const e = principal.indexOf('/', s);
  return e < 0 ? principal.slice(s) : principal.slice(s, e);
}

function flagsText(f: RequestMetricEvent['responseFlags']): string {
  if (f === undefined) return '-';
  if (typeof f === 'string') return f || '-';
  if (f.length === 0) return '-';
  return f.length === 1 ? f[0]! : f.join(',');
}

/** The 22 labels that do not depend on the response, in ISTIO_LABELS order (indexes 0..19 and 24). */
function identityLabels(e: RequestMetricEvent, local: LocalWorkload): string[] {
  const peer = e.peer;
  // The client side has no peer certificate of its own to read here: the identity the server
  // declared (checked by secure naming) stands in for it, on mTLS only (a local principal is
  // present exactly then). A plaintext hop reports `unknown`, as Istio's does: its dashboards
  // tell mTLS from plaintext traffic by this label.
  const peerSan = spiffe(e.peerPrincipal) || (e.reporter === 'source' && e.localPrincipal && peer?.identity ? spiffe(peer.identity) : '');
  const localSan = spiffe(e.localPrincipal);
  let peerNamespace = peerSan ? namespaceOfPrincipal(peerSan) : '';
  if (!peerNamespace && peer?.namespace) peerNamespace = peer.namespace;

  // Destination service: Host header (client side only), then the routed service.
  let serviceHost = e.reporter === 'source' ? (e.authority ?? '') : '';
  let serviceName = serviceHost;
  let serviceNamespace = '';
  if (e.passthrough) serviceName = e.passthrough;
  else if (e.service) {
    serviceHost = e.service.host;
    serviceName = e.service.name ?? e.service.host.split('.', 1)[0]!;
    serviceNamespace = e.service.namespace ?? '';
  }

  const own = {
    workload: local.workloadName ?? '',
    canonical: local.canonicalService ?? '',
    revision: local.canonicalRevision ?? '',
    namespace: local.namespace ?? '',
    principal: localSan || UNKNOWN,
    app: local.appLabel ?? '',
    version: local.versionLabel ?? '',
    cluster: local.clusterId ?? '',
  };
  const other = {
    workload: peer?.workloadName || UNKNOWN,
    canonical: peer?.canonicalService || UNKNOWN,
    revision: peer?.canonicalRevision || LATEST,
    namespace: peerNamespace || UNKNOWN,
    principal: peerSan || UNKNOWN,
    app: peer?.app || UNKNOWN,
    version: peer?.version || UNKNOWN,
    cluster: peer?.clusterId || UNKNOWN,
  };
  if (e.reporter === 'source') {
    return [
      'source', own.workload, own.canonical, own.revision, own.namespace, own.principal, own.app, own.version, own.cluster,
      other.workload, other.namespace, other.principal, other.app, other.version,
      serviceHost || UNKNOWN, other.canonical, other.revision, serviceName || UNKNOWN,
      serviceNamespace || peerNamespace || UNKNOWN, other.cluster,
      UNKNOWN, // connection_security_policy is not known on the client side
    ];
  }
  return [
    'destination', other.workload, other.canonical, other.revision, other.namespace, other.principal, other.app, other.version, other.cluster,
    own.workload, own.namespace, own.principal, own.app, own.version,
    serviceHost || own.canonical, own.canonical, own.revision, serviceName || own.canonical,
    own.namespace, own.cluster,
    peerSan && localSan ? 'mutual_tls' : 'none',
  ];
}

// ---------------------------------------------------------------------------------------------
// Per-reporter configuration

interface FamilyPlan {
  short: Short;
  /** Labels beyond the 25 standard ones (Telemetry UPSERT of a new tag), in family order. */
  extra: readonly string[];
  /** Per reporter: undefined = metric dropped. */
  reporter: Record<'source' | 'destination', TagPlan | undefined>;
}

interface TagPlan {
  /** Standard label index → '' (removed), a constant, or the index of a dynamic value. */
  replace: Map<number, { kind: 'remove' } | { kind: 'const'; value: string } | { kind: 'dyn'; slot: number }>;
  /** Extra label name → constant or dynamic slot; missing → ''. */
  extra: Map<string, { kind: 'const'; value: string } | { kind: 'dyn'; slot: number }>;
}

interface ReporterPlan {
  enabled: boolean;
  /** Distinct dynamic expressions evaluated per request (in slot order). */
  dynamic: CompiledTagValue[];
}

const LABEL_INDEX = new Map<string, number>(ISTIO_LABELS.map((l, i) => [l, i]));
const EMPTY_PLAN: TagPlan = { replace: new Map(), extra: new Map() };

function planFor(overrides: ReadonlyMap<string, MetricOverride> | undefined, short: string, dynamic: CompiledTagValue[]): TagPlan | undefined {
  const o = overrides?.get(short);
  if (!o) return EMPTY_PLAN;
  if (o.disabled) return undefined;
  const plan: TagPlan = { replace: new Map(), extra: new Map() };
  for (const t of o.tags) {
    const idx = LABEL_INDEX.get(t.name);
    if (t.operation === 'REMOVE') {
      if (idx !== undefined) plan.replace.set(idx, { kind: 'remove' });
      continue;
    }
    let v: { kind: 'const'; value: string } | { kind: 'dyn'; slot: number };
    if (t.value.kind === 'literal' || t.value.kind === 'unknown') v = { kind: 'const', value: t.value.evaluate({}) };
    else {
      let slot = dynamic.indexOf(t.value);
      if (slot < 0) slot = dynamic.push(t.value) - 1;
      v = { kind: 'dyn', slot };
    }
    if (idx !== undefined) plan.replace.set(idx, v);
    else plan.extra.set(t.name, v);
  }
  return plan;
}

// ---------------------------------------------------------------------------------------------
// The recorder

interface Leaf {
  requests?: CounterRow | undefined;
  duration?: HistogramRow | undefined;
  requestBytes?: HistogramRow | undefined;
  responseBytes?: HistogramRow | undefined;
  requestMessages?: CounterRow | undefined;
  responseMessages?: CounterRow | undefined;
}

interface Group {
  readonly base: string[];
  /** response key (code/grpc/protocol packed) → flags → leaf, or → dynamic values → leaf. */
  readonly leaves: Map<number, Map<string, Leaf | Map<string, Leaf>>>;
}

const NONE = Object.freeze({});
type Key = object | string;

class IstioRecorder {
  private families = new Map<Short, RowCounter | RowHistogram>();
  private plans = new Map<Short, FamilyPlan>();
  private reporters: Record<'source' | 'destination', ReporterPlan> = { source: { enabled: true, dynamic: [] }, destination: { enabled: true, dynamic: [] } };
  // local → reporter → peer → service → passthrough → peer principal → local principal → group
  private groups = new WeakMap<LocalWorkload, Record<'source' | 'destination', WeakMap<object, Map<Key, Map<Key, Map<Key, Map<Key, Group>>>>>>>();
  private cached = 0;
  private local: LocalWorkload;

  constructor(
    private readonly registry: Registry,
    local: LocalWorkload | undefined,
    private readonly maxCached: number,
  ) {
    this.local = local ?? {};
  }

  configure(metrics: CompiledMetrics | undefined) {
    const client = metrics ? metrics.client : undefined;
    const server = metrics ? metrics.server : undefined;
    const noProvider = metrics !== undefined && metrics.provider === null;
    const dynamic = { source: [] as CompiledTagValue[], destination: [] as CompiledTagValue[] };
    this.reporters = {
      source: { enabled: !noProvider && (client?.enabled ?? true), dynamic: dynamic.source },
      destination: { enabled: !noProvider && (server?.enabled ?? true), dynamic: dynamic.destination },
    };
    for (const def of ISTIO_METRIC_DEFINITIONS) {
      const src = planFor(client?.overrides, def.short, dynamic.source);
      const dst = planFor(server?.overrides, def.short, dynamic.destination);
      const extra = [...new Set([...(src?.extra.keys() ?? []), ...(dst?.extra.keys() ?? [])])].sort();
      const prev = this.plans.get(def.short);
      this.plans.set(def.short, { short: def.short, extra, reporter: { source: src, destination: dst } });
      const family = this.families.get(def.short);
      if (family && prev && prev.extra.join('\u0000') === extra.join('\u0000')) continue;
      if (family) this.registry.removeSingleMetric(def.name);
      const labelNames = [...ISTIO_LABELS, ...extra];
      this.families.set(
        def.short,
        def.type === 'counter'
          ? new RowCounter({ name: def.name, help: def.help, labelNames, registers: [this.registry] })
          : new RowHistogram({ name: def.name, help: def.help, labelNames, buckets: [...ISTIO_BUCKETS], registers: [this.registry] }, ISTIO_BUCKETS),
      );
    }
    this.resetCache();
  }

  setLocal(local: LocalWorkload | undefined) {
    this.local = local ?? {};
    this.resetCache();
  }

  private resetCache() {
    this.groups = new WeakMap();
    this.cached = 0;
  }

  record(e: RequestMetricEvent) {
    const plan = this.reporters[e.reporter];
    if (!plan.enabled) return;
    const group = this.group(e);
    const grpc = e.protocol === 'grpc';
    const code = e.responseCode > 0 ? Math.trunc(e.responseCode) : 0;
    const g = grpc ? (e.grpcStatus ?? (code > 0 ? grpcStatusFromHttp(code) : -1)) : -1;
    const rkey = code * 64 + (g + 1) * 2 + (grpc ? 1 : 0);
    let byFlags = group.leaves.get(rkey);
    if (!byFlags) group.leaves.set(rkey, (byFlags = new Map()));
    const flags = flagsText(e.responseFlags);
    let leaf: Leaf | Map<string, Leaf> | undefined = byFlags.get(flags);
    let dyn: string[] | undefined;
    if (plan.dynamic.length > 0) {
      const attrs = e.attributes ?? {};
      dyn = plan.dynamic.map((d) => d.evaluate(attrs));
      const dkey = dyn.join('\u0001');
      let byDyn = leaf as Map<string, Leaf> | undefined;
      if (!byDyn) byFlags.set(flags, (byDyn = new Map()));
      leaf = byDyn.get(dkey);
      if (!leaf) {
        byDyn.set(dkey, (leaf = this.leaf(e.reporter, group.base, code, g, grpc, flags, dyn)));
        this.cached++;
      }
    } else if (!leaf) {
      byFlags.set(flags, (leaf = this.leaf(e.reporter, group.base, code, g, grpc, flags, undefined)));
      this.cached++;
    }
    const l = leaf as Leaf;
    if (l.requests) l.requests.value++;
    // Envoy records whole milliseconds (absl::Duration / absl::Milliseconds(1) truncates).
    if (l.duration && e.durationMs !== undefined && e.durationMs >= 0 && Number.isFinite(e.durationMs)) observe(l.duration, ISTIO_BUCKETS, Math.trunc(e.durationMs));
    if (l.requestBytes && e.requestBytes !== undefined && Number.isFinite(e.requestBytes)) observe(l.requestBytes, ISTIO_BUCKETS, e.requestBytes);
    if (l.responseBytes && e.responseBytes !== undefined && Number.isFinite(e.responseBytes)) observe(l.responseBytes, ISTIO_BUCKETS, e.responseBytes);
    if (grpc) {
      if (l.requestMessages && e.requestMessages) l.requestMessages.value += e.requestMessages;
      if (l.responseMessages && e.responseMessages) l.responseMessages.value += e.responseMessages;
    }
    if (this.cached > this.maxCached) this.resetCache();
  }

  private group(e: RequestMetricEvent): Group {
    const local = e.local ?? this.local;
    let byReporter = this.groups.get(local);
    if (!byReporter) this.groups.set(local, (byReporter = { source: new WeakMap(), destination: new WeakMap() }));
    const byPeer = byReporter[e.reporter];
    const peer = e.peer ?? NONE;
    let bySvc = byPeer.get(peer);
    if (!bySvc) byPeer.set(peer, (bySvc = new Map()));
    // The client side falls back to the Host header when no service is known; the server side does not read it.
    const svcKey: Key = e.service ?? (e.reporter === 'source' ? e.authority : undefined) ?? NONE;
    let byPass = bySvc.get(svcKey);
    if (!byPass) bySvc.set(svcKey, (byPass = new Map()));
    const passKey: Key = e.passthrough ?? NONE;
    let byPeerSan = byPass.get(passKey);
    if (!byPeerSan) byPass.set(passKey, (byPeerSan = new Map()));
    const peerSanKey: Key = e.peerPrincipal ?? NONE;
    let byLocalSan = byPeerSan.get(peerSanKey);
    if (!byLocalSan) byPeerSan.set(peerSanKey, (byLocalSan = new Map()));
    const localSanKey: Key = e.localPrincipal ?? NONE;
    let group = byLocalSan.get(localSanKey);
    if (!group) byLocalSan.set(localSanKey, (group = { base: identityLabels(e, local), leaves: new Map() }));
    return group;
  }

  /** Builds the rows of one label combination (cache miss only). */
  private leaf(reporter: 'source' | 'destination', base: string[], code: number, g: number, grpc: boolean, flags: string, dyn: string[] | undefined): Leaf {
    const values: string[] = new Array(25);
    for (let i = 0; i < 20; i++) values[i] = base[i]!;
    values[20] = grpc ? 'grpc' : 'http';
    values[21] = String(code);
    values[22] = g >= 0 ? String(g) : '';
    values[23] = flags;
    values[24] = base[20]!;
    const leaf: Leaf = {};
    for (const def of ISTIO_METRIC_DEFINITIONS) {
      const plan = this.plans.get(def.short)!;
      const tags = plan.reporter[reporter];
      if (!tags) continue;
      const v = values.slice();
      for (const [idx, r] of tags.replace) v[idx] = r.kind === 'remove' ? '' : r.kind === 'const' ? r.value : (dyn?.[r.slot] ?? UNKNOWN);
      for (const name of plan.extra) {
        const x = tags.extra.get(name);
        v.push(!x ? '' : x.kind === 'const' ? x.value : (dyn?.[x.slot] ?? UNKNOWN));
      }
      const labels: Record<string, string> = {};
      for (let i = 0; i < ISTIO_LABELS.length; i++) labels[ISTIO_LABELS[i]!] = v[i]!;
      for (let i = 0; i < plan.extra.length; i++) labels[plan.extra[i]!] = v[25 + i]!;
      Object.freeze(labels);
      const key = v.join('\u0001');
      const family = this.families.get(def.short)!;
      const row = family instanceof RowHistogram ? family.row(labels, key) : (family as RowCounter).row(labels, key);
      switch (def.short) {
        case 'requests_total':
          leaf.requests = row as CounterRow;
          break;
        case 'request_duration_milliseconds':
          leaf.duration = row as HistogramRow;
          break;
        case 'request_bytes':
          leaf.requestBytes = row as HistogramRow;
          break;
        case 'response_bytes':
          leaf.responseBytes = row as HistogramRow;
          break;
        case 'request_messages_total':
          leaf.requestMessages = row as CounterRow;
          break;
        case 'response_messages_total':
          leaf.responseMessages = row as CounterRow;
          break;
      }
    }
    return leaf;
  }
}

/**
 * Defines Istio's standard metrics and Meshwork's own series in a prom-client registry.
 *
 * @example
 * const metrics = createMeshMetrics({ local: localWorkload({ namespace: 'default', labels: { app: 'reviews', version: 'v2' } }) });
 * metrics.recordRequest({ reporter: 'destination', protocol: 'http', responseCode: 200, durationMs: 12 });
 * http.createServer(meshMetricsHandler(metrics.registry)).listen(15020);
 */
export function createMeshMetrics(options: MeshMetricsOptions = {}): MeshMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'meshwork_';
  const istio = new IstioRecorder(registry, options.local, options.maxCachedSeries ?? 10_000);
  istio.configure(options.telemetry);

  const breaker = new Gauge({ name: `${prefix}breaker_state`, help: 'Call-site circuit breaker state: 0 closed, 1 half-open, 2 open, 3 shut down.', labelNames: ['breaker'], registers: [registry] });
  const ejections = new Counter({ name: `${prefix}outlier_ejections_total`, help: 'Endpoints ejected by outlier detection, per cluster.', labelNames: ['cluster'], registers: [registry] });
  const retries = new Counter({ name: `${prefix}retries_total`, help: 'Request retries (attempts after the first), per cluster.', labelNames: ['cluster'], registers: [registry] });
  const overflow = new Counter({ name: `${prefix}pool_overflow_total`, help: 'Requests refused because the connection pool was full (response flag UO), per cluster.', labelNames: ['cluster'], registers: [registry] });
  const snapshot = new Gauge({ name: `${prefix}snapshot_info`, help: 'The configuration snapshot version in use (value 1).', labelNames: ['version'], registers: [registry] });
  const sync = new Gauge({ name: `${prefix}snapshot_sync_state`, help: 'Configuration sync state: 1 for the current state (SYNCED, STALE, NACKED, STATIC).', labelNames: ['state'], registers: [registry] });
  const expiries = new Map<string, number>();
  new Gauge({
    name: `${prefix}certificate_expiry_seconds`,
    help: 'The time remaining, in seconds, before the certificate expires.',
    labelNames: ['resource_name'],
    registers: [registry],
    collect() {
      const now = Date.now();
      for (const [name, notAfter] of expiries) this.set({ resource_name: name }, (notAfter - now) / 1000);
    },
  });

  return {
    registry,
    recordRequest: (e) => istio.record(e),
    setTelemetry: (m) => istio.configure(m),
    setLocal: (l) => istio.setLocal(l),
    setBreakerState: (name, state) => breaker.set({ breaker: name }, BREAKER_VALUES[state]),
    recordOutlierEjection: (cluster) => ejections.inc({ cluster }),
    recordRetry: (cluster) => retries.inc({ cluster }),
    recordPoolOverflow: (cluster) => overflow.inc({ cluster }),
    setSnapshot(version) {
      snapshot.reset();
      snapshot.set({ version }, 1);
    },
    setSyncState(state) {
      for (const s of SYNC_STATES) sync.set({ state: s }, s === state ? 1 : 0);
    },
    setCertificateExpiry(resourceName, notAfter) {
      expiries.set(resourceName, typeof notAfter === 'number' ? notAfter : notAfter.getTime());
    },
  };
}

/**
 * A node:http request handler serving the registry in the Prometheus text format (GET and HEAD).
 *
 * @example
 * http.createServer(meshMetricsHandler(Registry.merge([appRegistry, metrics.registry]))).listen(15020);
 */
export function meshMetricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`cannot collect metrics: ${(err as Error)?.message ?? String(err)}\n`);
      },
    );
  };
}
