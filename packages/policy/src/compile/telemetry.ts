/**
 * The Telemetry API (`telemetry.istio.io`) resolved for one workload: which Istio metrics each
 * reporter records and with which label overrides, how it traces, and whether and what it logs.
 *
 * Ported from istio/istio pilot/pkg/model/telemetry.go:
 * - selection (`applicableTelemetries`): the root namespace's namespace-wide Telemetry (oldest
 *   without selector and targetRefs), then the workload namespace's, then every Telemetry in the
 *   workload namespace whose `selector` matches, oldest first; later entries override earlier
 *   ones. Sidecars ignore Telemetry with `targetRef(s)` (policyattachment.go: ShouldAttachPolicy),
 *   and selector Telemetry in the root namespace only applies to workloads in the root namespace.
 * - metrics (`mergeMetrics`, `generateStatsConfig`), tracing (`Tracing`), access logging
 *   (`mergeLogs`, `AccessLogging`), each with its provider resolution against
 *   `meshConfig.extensionProviders` and `meshConfig.defaultProviders`.
 *
 * Pure: expressions are compiled here (once), and evaluated by @meshwork/telemetry per request.
 */
import type { Diagnostic } from '../diagnostics.js';
import type { Resource } from '../load/resource.js';
import { DEFAULT_MESH_CONFIG, type MeshConfig, type WorkloadIdentity } from '../mesh.js';
import { ISTIO_STANDARD_TAGS } from '../istio-tags.js';
import { parseDuration } from '../util/duration.js';
import { byCreation, labelsMatch, strMap } from './order.js';
import { compileLogFilter, compileTagValue, type CompiledLogFilter, type CompiledTagValue } from './telemetry-expressions.js';

export * from './telemetry-expressions.js';

/** The kinds of `meshConfig.extensionProviders` entries that matter to telemetry. */
export type TelemetryProviderKind =
  | 'prometheus'
  | 'stackdriver'
  | 'envoyFileAccessLog'
  | 'envoyOtelAls'
  | 'envoyHttpAls'
  | 'envoyTcpAls'
  | 'opentelemetry'
  | 'zipkin'
  | 'datadog'
  | 'lightstep'
  | 'skywalking'
  | 'other';

/** A `meshConfig.extensionProviders` entry, reduced to what Meshwork uses. */
export interface TelemetryProvider {
  name: string;
  kind: TelemetryProviderKind;
  /** envoyFileAccessLog: `logFormat.labels` present (JSON) or `logFormat.text`. Default: JSON in Meshwork. */
  logFormat?: 'json' | 'text' | undefined;
}

/**
 * A `meshConfig.extensionProviders` entry as Istio's mesh config writes it: the provider's
 * name and one field naming its kind (`{name: otel, opentelemetry: {service: ..., port: 4317}}`,
 * `{name: envoy-json, envoyFileAccessLog: {path: /dev/stdout, logFormat: {labels: {}}}}`).
 */
export interface IstioExtensionProvider {
  name: string;
  [kind: string]: unknown;
}

/** The MeshConfig fields that steer telemetry (optional members of MeshConfig). */
export interface TelemetryMeshSettings {
  /**
   * `meshConfig.extensionProviders`, in Meshwork's reduced form (`{name, kind}`) or Istio's
   * (`{name, zipkin: {...}}`). Default: the three Istio defines itself
   * (pkg/config/mesh/mesh.go: DefaultMeshConfig): `prometheus`, `stackdriver`, and `envoy`
   * (file access log on /dev/stdout).
   */
  extensionProviders?: readonly (TelemetryProvider | IstioExtensionProvider)[] | undefined;
  /**
   * `meshConfig.defaultProviders`. Default `{ metrics: ['prometheus'] }`, what Istio's default
   * installation writes (manifests/charts/istio-control/istio-discovery/templates/configmap.yaml).
   */
  defaultProviders?: { metrics?: readonly string[] | undefined; tracing?: readonly string[] | undefined; accessLogging?: readonly string[] | undefined } | undefined;
  /** `meshConfig.defaultConfig.tracing.sampling` (percent); else `PILOT_TRACE_SAMPLING`'s default, 1 %. */
  defaultTracingSampling?: number | undefined;
}

export type TelemetryMeshConfig = Partial<MeshConfig> & TelemetryMeshSettings;

export const DEFAULT_TELEMETRY_PROVIDERS: readonly TelemetryProvider[] = Object.freeze([
  { name: 'prometheus', kind: 'prometheus' },
  { name: 'stackdriver', kind: 'stackdriver' },
  { name: 'envoy', kind: 'envoyFileAccessLog', logFormat: 'text' },
]);

/** pilot/pkg/features/telemetry.go: PILOT_TRACE_SAMPLING default. */
export const DEFAULT_TRACE_SAMPLING_PERCENT = 1;

/** Istio's metric selector enum (telemetry.proto: MetricSelector.IstioMetric), ALL_METRICS excluded. */
export const ISTIO_METRICS = [
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_SENT_BYTES',
  'TCP_RECEIVED_BYTES',
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
] as const;
export type IstioMetric = (typeof ISTIO_METRICS)[number];

/** telemetry.go: metricToPrometheusMetric — the name without the `istio_` prefix. */
export const ISTIO_METRIC_PROMETHEUS_NAMES: Readonly<Record<IstioMetric, string>> = {
  REQUEST_COUNT: 'requests_total',
  REQUEST_DURATION: 'request_duration_milliseconds',
  REQUEST_SIZE: 'request_bytes',
  RESPONSE_SIZE: 'response_bytes',
  TCP_OPENED_CONNECTIONS: 'tcp_connections_opened_total',
  TCP_CLOSED_CONNECTIONS: 'tcp_connections_closed_total',
  TCP_SENT_BYTES: 'tcp_sent_bytes_total',
  TCP_RECEIVED_BYTES: 'tcp_received_bytes_total',
  GRPC_REQUEST_MESSAGES: 'request_messages_total',
  GRPC_RESPONSE_MESSAGES: 'response_messages_total',
};

export { ISTIO_STANDARD_TAGS };
const STANDARD_TAGS: ReadonlySet<string> = new Set(ISTIO_STANDARD_TAGS);

/** One label change for one metric, as the stats filter applies it. */
export type TagOverride =
  /** Drop a standard label (its value becomes empty). */
  | { name: string; operation: 'REMOVE' }
  /** Replace a standard label's value, or add a new label. */
  | { name: string; operation: 'UPSERT'; value: CompiledTagValue };

export interface MetricOverride {
  /** Prometheus name without `istio_` (`requests_total`), or the custom metric's name. */
  metric: string;
  /** The metric is not recorded. */
  disabled: boolean;
  /** Sorted by label name. */
  tags: TagOverride[];
}

/** What one reporter (client: `reporter=source`, server: `reporter=destination`) records. */
export interface ReporterMetrics {
  /** False when no Prometheus provider is in scope or ALL_METRICS is disabled for this mode. */
  enabled: boolean;
  /** Overrides by metric (Prometheus name without `istio_`). Metrics without an entry keep Istio's defaults. */
  overrides: ReadonlyMap<string, MetricOverride>;
}

export interface CompiledMetrics {
  /** The Prometheus provider in scope, or null (no Istio metrics at all). */
  provider: string | null;
  /** `reportingInterval` for TCP and long gRPC streams, in ms (undefined: Istio's 5 s). */
  reportingIntervalMs?: number | undefined;
  client: ReporterMetrics;
  server: ReporterMetrics;
}

/** A `tracing[].customTags` entry. */
export type CustomTag =
  | { tag: string; kind: 'literal'; value: string }
  | { tag: string; kind: 'environment'; name: string; defaultValue: string }
  | { tag: string; kind: 'header'; name: string; defaultValue: string };

/** The tracing of one direction (telemetry.go: TracingSpec). */
export interface TracingSpec {
  provider: TelemetryProvider | null;
  /** No spans are reported (`disableSpanReporting`, or no provider resolved). */
  disabled: boolean;
  /** `randomSamplingPercentage` as configured (undefined: not set by any Telemetry). */
  randomSamplingPercentage?: number | undefined;
  /** The percentage actually used: the Telemetry's, else the mesh default (tracing.go: buildHCMTracing). */
  samplingPercentage: number;
  customTags: CustomTag[];
  useRequestIdForTraceSampling: boolean;
  enableIstioTags: boolean;
  disableContextPropagation: boolean;
}

export interface CompiledTracing {
  client: TracingSpec;
  server: TracingSpec;
}

export interface AccessLogSink {
  provider: TelemetryProvider;
  /** null: every request is logged. */
  filter: CompiledLogFilter | null;
}

export interface AccessLogSpec {
  /** Something is logged in this direction. */
  enabled: boolean;
  /** Enabled sinks, sorted by provider name (telemetry.go: AccessLogging). */
  sinks: AccessLogSink[];
}

export interface CompiledAccessLogging {
  client: AccessLogSpec;
  server: AccessLogSpec;
}

export interface CompiledTelemetry {
  /** `namespace/name` of the Telemetry resources applied, in merge order. */
  sources: string[];
  metrics: CompiledMetrics;
  /** null: no Telemetry configures tracing and there is no default tracing provider — the legacy mesh settings apply. */
  tracing: CompiledTracing | null;
  /** null: no Telemetry configures access logging and there is no default provider — the legacy `accessLogFile` applies. */
  accessLogging: CompiledAccessLogging | null;
  /** Problems found while compiling (unknown providers, unsupported expressions...). */
  diagnostics: Diagnostic[];
}

type Mode = 'CLIENT' | 'SERVER';
const MODES: readonly Mode[] = ['CLIENT', 'SERVER'];
const WORKLOAD_MODES = ['CLIENT_AND_SERVER', 'CLIENT', 'SERVER'] as const;
const METRIC_ENUM = ['ALL_METRICS', ...ISTIO_METRICS] as const;
const TAG_OPERATIONS = ['UPSERT', 'REMOVE'] as const;

interface Entry {
  resource: Resource;
  index: number;
  spec: any;
}

// ---- reading proto3 JSON defensively (the resources are validated, but must never throw) ----

function isObj(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function list(v: unknown): any[] {
  return Array.isArray(v) ? v.map((x) => (isObj(x) ? x : {})) : [];
}

function enumOf<T extends string>(v: unknown, names: readonly T[]): T | undefined {
  if (typeof v === 'number') return names[v];
  if (typeof v === 'string' && v !== '') return (names as readonly string[]).includes(v) ? (v as T) : undefined;
  return names[0];
}

/** A `google.protobuf.BoolValue`: `true`, `false` or absent (`undefined`). */
function boolValue(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (isObj(v) && typeof v.value === 'boolean') return v.value;
  return undefined;
}

/** A `google.protobuf.DoubleValue`. */
function doubleValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (isObj(v) && typeof v.value === 'number') return v.value;
  return undefined;
}

function providerNames(v: unknown): string[] {
  return list(v).map((p) => (typeof p.name === 'string' ? p.name : ''));
}

function hasSelector(spec: any): boolean {
  const m = strMap(spec?.selector?.matchLabels);
  return !!m && Object.keys(m).length > 0;
}

function targetRefs(spec: any): unknown[] {
  if (Array.isArray(spec?.targetRefs) && spec.targetRefs.length > 0) return spec.targetRefs;
  return isObj(spec?.targetRef) ? [spec.targetRef] : [];
}

function label(r: Resource): string {
  return `${r.metadata.namespace}/${r.metadata.name}`;
}

/**
 * Compiles the Telemetry settings of one workload.
 *
 * @example
 * const t = compileTelemetry(resources, { namespace: 'default', labels: { app: 'reviews' } });
 * t.metrics.server.enabled; // reporter=destination metrics on?
 * t.accessLogging?.server.sinks[0]?.filter?.matches({ response: { code: 503 } });
 */
export function compileTelemetry(resources: readonly Resource[], workload: WorkloadIdentity, mesh: TelemetryMeshConfig = {}): CompiledTelemetry {
  const rootNamespace = mesh.rootNamespace ?? DEFAULT_MESH_CONFIG.rootNamespace;
  const diagnostics: Diagnostic[] = [];
  const telemetries = resources.filter((r) => r.kind === 'Telemetry').sort(byCreation);
  const namespaceWide = (ns: string) => telemetries.find((r) => r.metadata.namespace === ns && !hasSelector(r.spec) && targetRefs(r.spec).length === 0);

  // applicableTelemetries: root, namespace, then the workload-selecting ones of the namespace.
  const applied: Resource[] = [];
  const root = namespaceWide(rootNamespace);
  if (root) applied.push(root);
  if (workload.namespace !== rootNamespace) {
    const ns = namespaceWide(workload.namespace);
    if (ns) applied.push(ns);
  }
  for (const r of telemetries) {
    if (r.metadata.namespace !== workload.namespace) continue;
    if (!hasSelector(r.spec) && targetRefs(r.spec).length === 0) continue;
    if (targetRefs(r.spec).length > 0) {
      diagnostics.push({
        severity: 'info', code: 'ignored', resource: r.key, path: 'spec.targetRefs', file: r.source.file, line: r.source.line,
        message: 'a Telemetry with targetRef(s) applies to gateways and waypoints, never to sidecars; Meshwork ignores it',
        fix: 'use spec.selector.matchLabels to select workloads',
      });
      continue;
    }
    if (labelsMatch(strMap(r.spec?.selector?.matchLabels), workload.labels)) applied.push(r);
  }
  for (const r of telemetries) {
    if (r.metadata.namespace === rootNamespace && workload.namespace !== rootNamespace && hasSelector(r.spec) && labelsMatch(strMap(r.spec?.selector?.matchLabels), workload.labels)) {
      diagnostics.push({
        severity: 'info', code: 'ignored', resource: r.key, path: 'spec.selector', file: r.source.file, line: r.source.line,
        message: `a selector Telemetry in the root namespace applies only to workloads of that namespace, not to ${workload.namespace}`,
        fix: `move it to namespace ${workload.namespace}, or drop the selector to make it mesh-wide`,
      });
    }
  }

  const entries = (field: string): Entry[] => applied.flatMap((resource) => list(resource.spec?.[field]).map((spec, index) => ({ resource, index, spec })));
  const providers = new Providers(mesh.extensionProviders ?? DEFAULT_TELEMETRY_PROVIDERS, diagnostics);
  const defaults = mesh.defaultProviders ?? { metrics: ['prometheus'] };

  const accessLevels = applied.filter((r) => list(r.spec?.accessLogging).length > 0).map((resource) => list(resource.spec.accessLogging).map((spec, index) => ({ resource, index, spec })));

  return {
    sources: applied.map(label),
    metrics: mergeMetrics(entries('metrics'), [...(defaults.metrics ?? [])], providers, diagnostics),
    tracing: mergeTracing(entries('tracing'), [...(defaults.tracing ?? [])], providers, mesh.defaultTracingSampling ?? DEFAULT_TRACE_SAMPLING_PERCENT, diagnostics),
    accessLogging: accessLogging(accessLevels, [...(defaults.accessLogging ?? [])], providers, diagnostics),
    diagnostics,
  };
}

const PROVIDER_KINDS: readonly TelemetryProviderKind[] = [
  'prometheus', 'stackdriver', 'envoyFileAccessLog', 'envoyOtelAls', 'envoyHttpAls', 'envoyTcpAls', 'opentelemetry', 'zipkin', 'datadog', 'lightstep', 'skywalking',
];

/** An extension provider in either form, reduced to what Meshwork uses. */
export function telemetryProvider(p: TelemetryProvider | IstioExtensionProvider): TelemetryProvider {
  if (typeof p.kind === 'string' && (PROVIDER_KINDS as readonly string[]).concat('other').includes(p.kind)) return p as TelemetryProvider;
  const raw = p as IstioExtensionProvider;
  const name = typeof raw.name === 'string' ? raw.name : '';
  const kind = PROVIDER_KINDS.find((k) => isObj(raw[k])) ?? 'other';
  if (kind !== 'envoyFileAccessLog') return { name, kind };
  // Istio writes its text format unless the provider asks for JSON (logFormat.labels).
  const format = (raw.envoyFileAccessLog as Record<string, any>).logFormat;
  return { name, kind, logFormat: isObj(format) && format.labels !== undefined ? 'json' : 'text' };
}

/** telemetry.go: fetchProvider (names compare case-insensitively), reporting unknown names once. */
class Providers {
  private readonly reported = new Set<string>();
  private readonly all: readonly TelemetryProvider[];
  constructor(
    all: readonly (TelemetryProvider | IstioExtensionProvider)[],
    private readonly diagnostics: Diagnostic[],
  ) {
    this.all = all.map(telemetryProvider);
  }
  fetch(name: string, where?: { resource: Resource; path: string }): TelemetryProvider | undefined {
    const p = this.all.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!p && !this.reported.has(name)) {
      this.reported.add(name);
      this.diagnostics.push({
        severity: 'warning', code: 'telemetry', resource: where?.resource.key, path: where?.path, file: where?.resource.source.file, line: where?.resource.source.line,
        message: `provider "${name}" is not defined in meshConfig.extensionProviders; Istio ignores it`,
        fix: 'define the provider in the mesh configuration, or name one that exists (prometheus, envoy, ...)',
      });
    }
    return p;
  }
}

/** Where a provider is first named, for diagnostics. */
function namedAt(entries: Entry[], name: string, field: string): { resource: Resource; path: string } | undefined {
  for (const e of entries) {
    const i = providerNames(e.spec.providers).indexOf(name);
    if (i >= 0) return { resource: e.resource, path: `spec.${field}[${e.index}].providers[${i}]` };
  }
  return undefined;
}

function modesOf(mode: unknown): Mode[] {
  const m = enumOf(mode, WORKLOAD_MODES);
  return m === 'CLIENT' || m === 'SERVER' ? [m] : ['CLIENT', 'SERVER'];
}

function matchesMode(match: unknown, mode: Mode): boolean {
  if (!isObj(match)) return true;
  const m = enumOf(match.mode, WORKLOAD_MODES);
  return m === undefined || m === 'CLIENT_AND_SERVER' || m === mode;
}

// ---- metrics (telemetry.go: mergeMetrics, generateStatsConfig) ----

interface RawOverride {
  disabled?: boolean | undefined;
  tags: Map<string, { op: 'UPSERT' | 'REMOVE'; value: string; at: Entry; path: string }>;
}

/** The metric names a selector matches (telemetry.go: getMatches, isAllMetrics). */
function selectorMetrics(match: any): { all: boolean; names: string[] } {
  if (isObj(match) && typeof match.customMetric === 'string' && match.customMetric !== '') return { all: false, names: [match.customMetric] };
  const metric = isObj(match) ? enumOf(match.metric, METRIC_ENUM) : 'ALL_METRICS';
  if (metric === undefined) return { all: false, names: [] };
  if (metric === 'ALL_METRICS') return { all: true, names: [...ISTIO_METRICS].sort() };
  return { all: false, names: [metric] };
}

function mergeMetrics(metrics: Entry[], defaults: string[], providers: Providers, diagnostics: Diagnostic[]): CompiledMetrics {
  // provider -> mode -> metric -> override
  const byProvider = new Map<string, Map<Mode, Map<string, RawOverride>>>();
  if (metrics.length === 0) for (const dp of defaults) byProvider.set(dp, new Map());

  let inScopeNames = defaults;
  for (const m of metrics) {
    const names = providerNames(m.spec.providers);
    if (names.length > 0) inScopeNames = names;
  }
  const inScope = new Set(inScopeNames);
  let parent = defaults;
  const disabledAll = new Set<string>();
  const intervals = new Map<string, number>();
  for (const m of metrics) {
    let names = providerNames(m.spec.providers);
    if (names.length === 0) names = parent;
    parent = names;
    const interval = parseDuration(m.spec.reportingInterval);
    for (const provider of names) {
      if (!inScope.has(provider)) continue;
      if (interval !== undefined) intervals.set(provider, interval);
      let mp = byProvider.get(provider);
      if (!mp) byProvider.set(provider, (mp = new Map([['CLIENT', new Map()], ['SERVER', new Map()]])));
      list(m.spec.overrides).forEach((o, oi) => {
        const sel = selectorMetrics(o.match);
        if (!sel.all && sel.names.length === 1 && !(ISTIO_METRICS as readonly string[]).includes(sel.names[0]!)) {
          diagnostics.push({
            severity: 'info', code: 'telemetry', resource: m.resource.key, path: `spec.metrics[${m.index}].overrides[${oi}].match.customMetric`,
            file: m.resource.source.file, line: m.resource.source.line,
            message: `custom metric "${sel.names[0]}" is not one Istio's stats filter defines; the override changes nothing`,
          });
        }
        const disabled = boolValue(o.disabled);
        const modes = modesOf(isObj(o.match) ? o.match.mode : undefined);
        if (sel.all && disabled === true) {
          for (const mode of modes) disabledAll.add(`${provider}/${mode}`);
          return;
        }
        for (const mode of modes) {
          disabledAll.delete(`${provider}/${mode}`);
          let perMode = mp!.get(mode);
          if (!perMode) mp!.set(mode, (perMode = new Map()));
          for (const metric of sel.names) {
            const cur: RawOverride = perMode.get(metric) ?? { tags: new Map() };
            if (disabled !== undefined) cur.disabled = disabled;
            const tags = isObj(o.tagOverrides) ? o.tagOverrides : {};
            for (const [tag, v] of Object.entries(tags)) {
              const t = isObj(v) ? v : {};
              cur.tags.set(tag, {
                op: enumOf(t.operation, TAG_OPERATIONS) ?? 'UPSERT',
                value: typeof t.value === 'string' ? t.value : '',
                at: m,
                path: `spec.metrics[${m.index}].overrides[${oi}].tagOverrides[${JSON.stringify(tag)}]`,
              });
            }
            perMode.set(metric, cur);
          }
        }
      });
    }
  }

  // Meshwork records Istio's metrics into Prometheus: only a prometheus-kind provider counts.
  const candidates = [...byProvider.keys()].sort().filter((name) => {
    const p = providers.fetch(name, namedAt(metrics, name, 'metrics'));
    return p?.kind === 'prometheus';
  });
  const off: ReporterMetrics = { enabled: false, overrides: new Map() };
  if (candidates.length === 0) return { provider: null, client: off, server: off };
  if (candidates.length > 1) {
    diagnostics.push({
      severity: 'warning', code: 'telemetry',
      message: `several Prometheus providers are in scope (${candidates.join(', ')}); Istio would record every metric once per provider, Meshwork records it once`,
      fix: 'name one Prometheus provider',
    });
  }
  const provider = candidates[0]!;
  const modeMap = byProvider.get(provider)!;
  const reporter = (mode: Mode): ReporterMetrics => {
    if (disabledAll.has(`${provider}/${mode}`)) return off;
    const overrides = new Map<string, MetricOverride>();
    const raw = modeMap.get(mode) ?? new Map<string, RawOverride>();
    for (const [metric, o] of raw) {
      const name = (ISTIO_METRIC_PROMETHEUS_NAMES as Record<string, string>)[metric] ?? metric;
      overrides.set(name, { metric: name, disabled: o.disabled === true, tags: compileTags(o, name, diagnostics) });
    }
    return { enabled: true, overrides };
  };
  return { provider, reportingIntervalMs: intervals.get(provider), client: reporter('CLIENT'), server: reporter('SERVER') };
}

/** Reported once per expression text (the same override usually fans out over ten metrics). */
const reportedExpressions = new WeakMap<Diagnostic[], Set<string>>();

function compileTags(o: RawOverride, metric: string, diagnostics: Diagnostic[]): TagOverride[] {
  const out: TagOverride[] = [];
  let seen = reportedExpressions.get(diagnostics);
  if (!seen) reportedExpressions.set(diagnostics, (seen = new Set()));
  const report = (key: string, d: Diagnostic) => {
    if (seen!.has(key)) return;
    seen!.add(key);
    diagnostics.push(d);
  };
  for (const name of [...o.tags.keys()].sort()) {
    const t = o.tags.get(name)!;
    const r = t.at.resource;
    const where = { resource: r.key, file: r.source.file, line: r.source.line };
    const standard = STANDARD_TAGS.has(name);
    if (t.op === 'REMOVE') {
      // istio_stats.cc: tags_to_remove naming a non-standard tag is ignored ("Tag is not standard").
      if (standard) out.push({ name, operation: 'REMOVE' });
      else report(`${t.path}:remove`, { severity: 'info', code: 'telemetry', ...where, path: t.path, message: `"${name}" is not a standard Istio label; removing it does nothing` });
      continue;
    }
    const compiled = compileTagValue(t.value);
    if (!compiled.ok && compiled.kind === 'parse') {
      // istio_stats.cc: an expression that does not parse drops a standard tag and adds nothing.
      report(`${t.path}:${t.value}`, { severity: 'warning', code: 'telemetry', ...where, path: `${t.path}.value`, message: `${compiled.message}; Istio ${standard ? 'drops the label' : 'does not add the label'}` });
      if (standard) out.push({ name, operation: 'REMOVE' });
      continue;
    }
    if (!compiled.ok) {
      report(`${t.path}:${t.value}`, {
        severity: 'warning', code: 'telemetry', ...where, path: `${t.path}.value`,
        message: `tag value ${JSON.stringify(t.value)} (metric ${metric}): ${compiled.message}`,
        fix: "use a quoted literal ('value'), an attribute (request.host) or a header (request.headers['x-name'])",
      });
    }
    out.push({ name, operation: 'UPSERT', value: compiled.value });
  }
  return out;
}

// ---- tracing (telemetry.go: Tracing) ----

function mergeTracing(tracing: Entry[], defaults: string[], providers: Providers, meshSampling: number, diagnostics: Diagnostic[]): CompiledTracing | null {
  if (tracing.length === 0 && defaults.length === 0) return null;
  const spec = (): TracingSpec => ({
    provider: null, disabled: false, samplingPercentage: meshSampling, customTags: [],
    useRequestIdForTraceSampling: true, enableIstioTags: true, disableContextPropagation: false,
  });
  const client = spec();
  const server = spec();
  if (defaults.length > 0) {
    const p = providers.fetch(defaults[0]!) ?? null;
    client.provider = p;
    server.provider = p;
  }
  let hasProviderRef = defaults.length > 0;
  for (const t of tracing) {
    const m = t.spec;
    const specs = isObj(m.match) ? modesOf(m.match.mode).map((mode) => (mode === 'CLIENT' ? client : server)) : [client, server];
    const names = providerNames(m.providers);
    if (names.length > 0) {
      hasProviderRef = true;
      // One provider per mode: the first (telemetry.go).
      const p = providers.fetch(names[0]!, { resource: t.resource, path: `spec.tracing[${t.index}].providers[0]` }) ?? null;
      for (const s of specs) s.provider = p;
    }
    const disable = boolValue(m.disableSpanReporting);
    if (disable !== undefined) for (const s of specs) s.disabled = disable;
    if (isObj(m.customTags)) {
      const tags = compileCustomTags(m.customTags, t, diagnostics);
      for (const s of specs) s.customTags = tags; // replaces the parent's map (shallow merge)
    }
    const pct = doubleValue(m.randomSamplingPercentage);
    if (pct !== undefined) for (const s of specs) s.randomSamplingPercentage = pct;
    const rid = boolValue(m.useRequestIdForTraceSampling);
    if (rid !== undefined) for (const s of specs) s.useRequestIdForTraceSampling = rid;
    const tags = boolValue(m.enableIstioTags);
    if (tags !== undefined) for (const s of specs) s.enableIstioTags = tags;
    const noProp = boolValue(m.disableContextPropagation);
    if (noProp !== undefined) for (const s of specs) s.disableContextPropagation = noProp;
  }
  for (const s of [client, server]) {
    if (!s.provider) s.disabled = true;
    if (s.randomSamplingPercentage !== undefined) s.samplingPercentage = s.randomSamplingPercentage;
  }
  if (!hasProviderRef && tracing.length > 0) {
    const first = tracing[0]!;
    diagnostics.push({
      severity: 'info', code: 'telemetry', resource: first.resource.key, path: `spec.tracing[${first.index}]`, file: first.resource.source.file, line: first.resource.source.line,
      message: 'tracing names no provider and the mesh has no default tracing provider; Istio reports no spans',
      fix: 'name a provider (spec.tracing[].providers) or set meshConfig.defaultProviders.tracing',
    });
  }
  return { client, server };
}

function compileCustomTags(tags: Record<string, unknown>, at: Entry, diagnostics: Diagnostic[]): CustomTag[] {
  const out: CustomTag[] = [];
  for (const tag of Object.keys(tags).sort()) {
    const v = isObj(tags[tag]) ? (tags[tag] as Record<string, any>) : {};
    // oneof: the last member present wins (jsonpb sets them in declaration order).
    const kind = (['literal', 'environment', 'header', 'formatter'] as const).filter((k) => isObj(v[k])).pop();
    const body = kind ? v[kind] : {};
    if (kind === 'literal') out.push({ tag, kind, value: String(body.value ?? '') });
    else if (kind === 'environment') out.push({ tag, kind, name: String(body.name ?? ''), defaultValue: String(body.defaultValue ?? '') });
    else if (kind === 'header') out.push({ tag, kind, name: String(body.name ?? '').toLowerCase(), defaultValue: String(body.defaultValue ?? '') });
    else {
      diagnostics.push({
        severity: 'warning', code: 'telemetry', resource: at.resource.key, path: `spec.tracing[${at.index}].customTags[${JSON.stringify(tag)}]`, file: at.resource.source.file, line: at.resource.source.line,
        message: kind === 'formatter' ? 'formatter custom tags (Envoy substitution formats) are not evaluated in-process; the tag is skipped' : 'custom tag has no literal, environment or header; it is skipped',
        fix: 'use a literal, environment or header tag',
      });
    }
  }
  return out;
}

// ---- access logging (telemetry.go: mergeLogs, AccessLogging) ----

interface LogSpec {
  disabled: boolean;
  filter?: { expression: string; at: Entry } | undefined;
}

function mergeLogs(levels: Entry[][], defaults: string[], mode: Mode): Map<string, LogSpec> {
  const out = new Map<string, LogSpec>();
  if (levels.length === 0) {
    for (const dp of defaults) out.set(dp, { disabled: false });
    return out;
  }
  let names = defaults;
  const filters = new Map<string, LogSpec>();
  for (const level of levels) {
    const found = new Set<string>();
    for (const p of level) {
      if (!matchesMode(p.spec.match, mode)) continue;
      const sub = providerNames(p.spec.providers);
      for (const n of sub) found.add(n);
      const f = isObj(p.spec.filter) && typeof p.spec.filter.expression === 'string' ? { expression: p.spec.filter.expression, at: p } : undefined;
      for (const prov of sub) filters.set(prov, { disabled: false, filter: f });
    }
    if (found.size > 0) names = [...found];
  }
  const inScope = new Set(names);
  let parent = defaults;
  for (const level of levels) {
    for (const m of level) {
      let provs = providerNames(m.spec.providers);
      if (provs.length === 0) provs = parent;
      parent = provs;
      for (const provider of provs) {
        if (!inScope.has(provider)) continue;
        if (!matchesMode(m.spec.match, mode)) continue;
        if (boolValue(m.spec.disabled) === true) {
          out.set(provider, { disabled: true });
          continue;
        }
        out.set(provider, filters.get(provider) ?? { disabled: false });
      }
    }
  }
  return out;
}

function accessLogging(levels: Entry[][], defaults: string[], providers: Providers, diagnostics: Diagnostic[]): CompiledAccessLogging | null {
  if (levels.length === 0 && defaults.length === 0) return null;
  const compiled = new Map<string, CompiledLogFilter>();
  const filterOf = (f: LogSpec['filter']): CompiledLogFilter | null => {
    if (!f) return null;
    const hit = compiled.get(f.expression);
    if (hit) return hit;
    const r = compileLogFilter(f.expression);
    if (!r.ok) {
      const res = f.at.resource;
      diagnostics.push({
        severity: r.kind === 'parse' ? 'error' : 'warning', code: 'telemetry', resource: res.key, path: `spec.accessLogging[${f.at.index}].filter.expression`,
        file: res.source.file, line: res.source.line, message: `${r.message}; nothing is logged through this filter`,
        fix: 'write a CEL expression over Envoy attributes, e.g. response.code >= 400',
      });
    }
    compiled.set(f.expression, r.filter);
    return r.filter;
  };
  const spec = (mode: Mode): AccessLogSpec => {
    const sinks: AccessLogSink[] = [];
    for (const [name, v] of mergeLogs(levels, defaults, mode)) {
      if (v.disabled) continue;
      const provider = providers.fetch(name, namedAt(levels.flat(), name, 'accessLogging'));
      if (!provider) continue;
      if (provider.kind !== 'envoyFileAccessLog' && provider.kind !== 'envoyOtelAls' && provider.kind !== 'envoyHttpAls') continue; // stackdriver & co. are not access-log sinks here
      sinks.push({ provider, filter: filterOf(v.filter) });
    }
    sinks.sort((a, b) => (a.provider.name < b.provider.name ? -1 : a.provider.name > b.provider.name ? 1 : 0));
    return { enabled: sinks.length > 0, sinks };
  };
  return { client: spec(MODES[0]!), server: spec(MODES[1]!) };
}
