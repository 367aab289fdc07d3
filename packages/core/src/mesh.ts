/**
 * The Mesh: who this workload is, where its configuration comes from, the snapshot in force,
 * and the clusters built from it. A configuration change is validated and compiled off the
 * request path, then swapped in atomically; a bad change is rejected with the analyzer's
 * messages and the last good snapshot keeps serving.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import {
  compileSnapshot, ConfigError, decideOutbound, loadObjects, loadPaths, loadText, parseLabels, resolveDestinationService, validateResources,
  type Diagnostic, type MeshConfig, type OutboundDecision, type OutboundRequest, type Resource, type RouteDestination, type Snapshot,
  type WireSnapshot, type WorkloadIdentity,
} from '@meshwork/policy';
import type { IdentitySource } from '@meshwork/identity';
import { Cluster, clusterKey, type Admission } from './cluster.js';
import { OVERFLOW, type FailureReply } from './failure.js';
import type { EndpointState } from './endpoint.js';
import { registryResources, type RegistryService } from './registry.js';
import { ControlClient, type ControlClientOptions, type ControlStatus } from './control/client.js';
import { DeferredIdentity } from './control/deferred-identity.js';
import { MeshTelemetry, type MeshTelemetryOptions } from './telemetry.js';
import type { OutlierDetector } from './outlier-detection.js';

export interface MeshOptions {
  /** This workload (the caller). Defaults from MESHWORK_NAMESPACE, MESHWORK_LABELS, MESHWORK_SERVICE_ACCOUNT, MESHWORK_SERVICE. */
  workload?: Partial<WorkloadIdentity> | undefined;
  /** A folder of Istio YAML, watched for changes (MESHWORK_CONFIG_DIR). */
  configDir?: string | undefined;
  /** Istio YAML given as text. */
  configYaml?: string | undefined;
  /** Resources already loaded. */
  resources?: readonly Resource[] | undefined;
  /** Services and endpoints given in code. */
  registry?: readonly RegistryService[] | undefined;
  /** Mesh-wide settings (root namespace, outbound policy, ...). */
  meshConfig?: Partial<MeshConfig> | undefined;
  /** This workload's locality `region/zone/subzone` for locality-aware balancing (MESHWORK_LOCALITY). */
  locality?: string | undefined;
  /**
   * Opt-in retry budget for every cluster whose DestinationRule sets none: concurrent retries
   * may not exceed `percent` % of active requests (at least `minRetryConcurrency`). Beyond Istio,
   * which retries up to `maxRetries` (unlimited by default).
   */
  retryBudget?: { percent: number; minRetryConcurrency?: number } | undefined;
  /** Watch configDir for changes (default true). */
  watch?: boolean | undefined;
  /** Called with the analyzer's errors when a change is rejected (the last good config keeps serving). */
  onConfigRejected?: ((diagnostics: Diagnostic[]) => void) | undefined;
  /** Called after a new snapshot is in force. */
  onConfigApplied?: ((version: string) => void) | undefined;
  /**
   * The workload's certificate source (@meshwork/identity): mTLS to meshed endpoints (Istio
   * mTLS, auto-mTLS) and, on the server side, the inbound listener's certificate.
   */
  identity?: IdentitySource | undefined;
  /**
   * The control service (`meshwork control`) to take configuration and a certificate from
   * (MESHWORK_CONTROL_URL). The workload registers, heartbeats, watches its snapshot and gets
   * its certificate signed; `await mesh.ready()` waits for the first snapshot and certificate.
   */
  controlUrl?: string | undefined;
  /** A join token for the control service (MESHWORK_TOKEN). */
  token?: string | undefined;
  /** PEM roots of the control service's CA, or a file holding them (MESHWORK_CONTROL_CA: a file). */
  controlCa?: string | undefined;
  /** Where the last snapshot, certificate and registration are kept (MESHWORK_CACHE_DIR). */
  cacheDir?: string | undefined;
  /** Registration details and control-protocol timings (group, address, ports, heartbeat, backoff). */
  control?: Omit<ControlClientOptions, 'url' | 'token' | 'ca' | 'cacheDir'> | undefined;
  /** Called when the control service refuses something or a snapshot is rejected (default: a process warning). */
  onControlError?: ((message: string) => void) | undefined;
  /**
   * What the workload reports about its requests, as an Istio sidecar does (default: on):
   * Istio's standard metrics into prom-client's global registry (or `registry`), spans on the
   * OpenTelemetry API with W3C and B3 propagation, access logs as Telemetry resources ask, the
   * peer-metadata exchange. `false` turns all of it off and costs nothing per request.
   */
  telemetry?: false | MeshTelemetryOptions | undefined;
  /** Clock and randomness, injectable for tests. */
  now?: (() => number) | undefined;
  random?: (() => number) | undefined;
}

/**
 * Every option of the Mesh, checked by the compiler against MeshOptions, so that adapters
 * validating their options (an unknown key is a startup error) never lag behind the Mesh.
 */
export const MESH_OPTION_KEYS: Readonly<Record<keyof MeshOptions, true>> = Object.freeze({
  workload: true, configDir: true, configYaml: true, resources: true, registry: true, meshConfig: true, locality: true,
  retryBudget: true, watch: true, onConfigRejected: true, onConfigApplied: true, identity: true, now: true, random: true,
  controlUrl: true, token: true, controlCa: true, cacheDir: true, control: true, onControlError: true, telemetry: true,
});

/** `http=9080,grpc=9090` (MESHWORK_PORTS). */
function portsFromEnv(text: string | undefined): Record<string, number> | undefined {
  if (!text) return undefined;
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [name, port] = part.split('=').map((x) => x.trim());
    const n = Number(port);
    if (!name || !Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError([{ severity: 'error', code: 'env', message: `MESHWORK_PORTS: "${part}" is not name=port`, fix: 'write ports as http=9080,grpc=9090' }]);
    out[name] = n;
  }
  return out;
}

/** PEM text as given, or the content of the file it names. */
function pemOrFile(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (v.includes('-----BEGIN')) return v;
  try {
    return readFileSync(v, 'utf8');
  } catch (e) {
    throw new ConfigError([{ severity: 'error', code: 'env', file: v, message: `cannot read the control service's CA bundle: ${(e as Error).message}`, fix: 'point MESHWORK_CONTROL_CA (controlCa) at the control service\'s root-cert.pem' }]);
  }
}

function workloadFromEnv(w: Partial<WorkloadIdentity> | undefined): WorkloadIdentity {
  const env = process.env;
  const parsed = parseLabels(env.MESHWORK_LABELS);
  if ('invalid' in parsed && !w?.labels) throw new ConfigError([{ severity: 'error', code: 'env', message: `MESHWORK_LABELS: "${parsed.invalid}" is not key=value`, fix: 'write labels as app=reviews,version=v2' }]);
  const labels = 'invalid' in parsed ? {} : parsed;
  return {
    namespace: w?.namespace ?? env.MESHWORK_NAMESPACE ?? 'default',
    labels: w?.labels ?? labels,
    serviceAccount: w?.serviceAccount ?? env.MESHWORK_SERVICE_ACCOUNT,
    name: w?.name ?? env.MESHWORK_SERVICE,
  };
}

export class Mesh {
  private currentWorkload: WorkloadIdentity;
  readonly now: () => number;
  readonly random: () => number;
  readonly locality: string | undefined;
  /** The workload's certificate source, when it has one. */
  readonly identity: IdentitySource | undefined;
  /** The control-service client, when the mesh is configured by one. */
  private readonly control: ControlClient | undefined;
  private readonly deferredIdentity: DeferredIdentity | undefined;
  /** Metrics, spans, access logs and the peer-metadata exchange (undefined with `telemetry: false`). */
  readonly telemetry: MeshTelemetry | undefined;
  private readonly watchedOutliers = new WeakSet<OutlierDetector>();
  /** The control service's last snapshot was rejected (sync state NACKED until one applies). */
  private nacked = false;
  private current: Snapshot;
  private readonly clusters = new Map<string, Cluster>();
  private readonly byDestination = new WeakMap<RouteDestination, Cluster>();
  private readonly removedListeners = new Set<(endpoints: EndpointState[]) => void>();
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: MeshOptions = {}) {
    this.currentWorkload = workloadFromEnv(options.workload);
    this.now = options.now ?? (() => performance.now());
    this.random = options.random ?? Math.random;
    this.locality = options.locality ?? process.env.MESHWORK_LOCALITY;
    const env = process.env;
    const controlUrl = options.controlUrl ?? env.MESHWORK_CONTROL_URL;
    if (controlUrl && options.identity) throw new TypeError('give either controlUrl (the control service signs the certificate) or identity, not both');
    this.deferredIdentity = controlUrl ? new DeferredIdentity() : undefined;
    this.identity = options.identity ?? this.deferredIdentity;
    const configDir = options.configDir ?? env.MESHWORK_CONFIG_DIR;
    const first = this.build(configDir);
    if ('errors' in first) throw new ConfigError(first.errors);
    this.current = first.snapshot;
    this.telemetry = options.telemetry === false ? undefined : new MeshTelemetry(options.telemetry ?? {}, this.identity);
    this.telemetry?.setSnapshot(this.current);
    if (configDir && options.watch !== false) this.watchDir(configDir);
    if (controlUrl) {
      const c = options.control ?? {};
      const warn = options.onControlError ?? ((m: string) => process.emitWarning(m, { code: 'MESHWORK_CONTROL' }));
      const mesh = this;
      const declared = { labels: { ...this.currentWorkload.labels }, serviceAccount: this.currentWorkload.serviceAccount };
      this.control = new ControlClient(
        {
          get workloadName() { return mesh.currentWorkload.name; },
          get namespace() { return mesh.currentWorkload.namespace; },
          declared,
          applyWire: (snap) => this.applyWire(snap),
          setWorkload: (w) => this.setWorkload(w),
          identity: this.deferredIdentity!,
          random: () => this.random(),
        },
        {
          ...c,
          url: controlUrl,
          token: options.token ?? env.MESHWORK_TOKEN ?? '',
          ca: pemOrFile(options.controlCa ?? env.MESHWORK_CONTROL_CA),
          cacheDir: options.cacheDir ?? env.MESHWORK_CACHE_DIR,
          address: c.address ?? env.MESHWORK_ADDRESS,
          ports: c.ports ?? portsFromEnv(env.MESHWORK_PORTS),
          group: c.group ?? env.MESHWORK_GROUP,
        },
        warn,
      );
      this.control.ready.then(() => {
        this.controlReady = true;
      });
      this.control.start();
    } else {
      this.controlReady = true;
    }
    this.telemetry?.setSyncState(this.syncState());
    // One timer drives every cluster's outlier-detection sweep; it never keeps the process alive.
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
  }

  /** The snapshot in force. */
  get snapshot(): Snapshot {
    return this.current;
  }

  /** This workload (with a control service: as its registration decided). */
  get workload(): WorkloadIdentity {
    return this.currentWorkload;
  }

  /**
   * Resolves once the mesh can serve: at once with static configuration; with a control
   * service, when a snapshot is in force and the workload has a certificate (from the
   * control service, or from the disk cache while it is away). Rejects after `timeoutMs`.
   */
  ready(timeoutMs = 30_000): Promise<void> {
    if (!this.control) return Promise.resolve();
    const control = this.control;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const s = control.status();
        reject(new Error(`the control service gave no snapshot and certificate within ${timeoutMs} ms${s.lastError ? `: ${s.lastError}` : ''}`));
      }, timeoutMs);
      t.unref();
      control.ready.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** True once `ready()` would resolve at once. */
  get isReady(): boolean {
    return this.controlReady;
  }
  private controlReady = false;

  /** The control connection's state (undefined with static configuration). */
  controlStatus(): ControlStatus | undefined {
    return this.control?.status();
  }

  /** A server of this workload listens at `address:port`: the control service learns its endpoint. */
  announce(address: string, port: number, portName?: string): void {
    this.control?.announce(address, port, portName);
  }

  /** What the request does (pure decision over the current snapshot). */
  decide(req: OutboundRequest): OutboundDecision {
    return decideOutbound(this.current, req);
  }

  /**
   * Circuit-breaker admission of one attempt to `cluster`, for every adapter: on overflow the
   * pool overflow is counted (`meshwork_pool_overflow_total`) and Envoy's 503 UO reply comes
   * back instead of an admission.
   */
  admit(cluster: Cluster, protocol: 'http1' | 'http2' = 'http1'): Admission | FailureReply {
    const admission = cluster.admit(protocol);
    if (admission !== 'overflow') return admission;
    this.telemetry?.recordPoolOverflow(cluster.key);
    return OVERFLOW;
  }

  /** The cluster of a destination, built or refreshed for the current snapshot. */
  cluster(dest: RouteDestination): Cluster {
    // Route destinations are memoised per snapshot by the policy engine, so the cluster can
    // hang off the destination object: no key string built per request.
    const hit = this.byDestination.get(dest);
    if (hit && hit.version === this.current.version) return hit;
    const key = clusterKey(dest.host, dest.subset, dest.port);
    let c = this.clusters.get(key);
    if (!c) {
      c = new Cluster(dest.host, dest.subset, dest.port, this.now, this.locality, this.workload.labels);
      c.clientHasIdentity = this.identity !== undefined;
      const rb = this.options.retryBudget;
      if (rb) c.defaultRetryBudget = { percent: rb.percent, minRetryConcurrency: rb.minRetryConcurrency ?? 3 };
      this.clusters.set(key, c);
    }
    c.update(this.current, dest);
    this.watchOutlier(c);
    this.byDestination.set(dest, c);
    return c;
  }

  /** Ejections count in `meshwork_outlier_ejections_total{cluster}` (one listener per detector). */
  private watchOutlier(c: Cluster): void {
    const t = this.telemetry;
    const o = c.outlier;
    if (!t || !o || this.watchedOutliers.has(o)) return;
    this.watchedOutliers.add(o);
    const key = c.key;
    o.onEvent((e) => {
      if (e.type === 'eject') t.recordEjection(key);
    });
  }

  /** STATIC without a control service; else SYNCED while connected to it, NACKED after a rejected snapshot, STALE otherwise. */
  private syncState(): 'STATIC' | 'SYNCED' | 'STALE' | 'NACKED' {
    if (!this.control) return 'STATIC';
    if (this.nacked) return 'NACKED';
    const s = this.control.status();
    return s.connected && s.source === 'control' ? 'SYNCED' : 'STALE';
  }

  /** Re-reads the configuration now; returns the diagnostics when it is rejected. */
  reload(): { applied: boolean; diagnostics: Diagnostic[] } {
    const r = this.build(this.options.configDir ?? process.env.MESHWORK_CONFIG_DIR);
    if ('errors' in r) {
      this.options.onConfigRejected?.(r.errors);
      return { applied: false, diagnostics: r.errors };
    }
    // One assignment: a request sees the old snapshot or the new one, never a mix.
    this.current = r.snapshot;
    this.telemetry?.setSnapshot(r.snapshot);
    this.refreshClusters();
    this.options.onConfigApplied?.(r.snapshot.version);
    return { applied: true, diagnostics: [] };
  }

  /**
   * Replaces the configuration given in code (YAML text, resources, registry) and applies it
   * as `reload()` does: all or nothing; a rejected change leaves the previous inputs and the
   * last good snapshot in force.
   */
  configure(change: Pick<MeshOptions, 'configYaml' | 'resources' | 'registry' | 'meshConfig'>): { applied: boolean; diagnostics: Diagnostic[] } {
    const o = this.options;
    const previous = { configYaml: o.configYaml, resources: o.resources, registry: o.registry, meshConfig: o.meshConfig };
    Object.assign(o, change);
    const r = this.reload();
    if (!r.applied) Object.assign(o, previous);
    return r;
  }

  /** A snapshot from the control service: validated and compiled here, all or nothing. */
  private applyWire(snap: WireSnapshot): { applied: boolean; diagnostics: Diagnostic[] } {
    if (!snap || !Array.isArray(snap.resources) || typeof snap.version !== 'string') {
      return { applied: false, diagnostics: [{ severity: 'error', code: 'snapshot', message: 'the snapshot has no resources or version' }] };
    }
    const loaded = loadObjects(snap.resources, `control:${snap.version}`);
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    const r = errors.length > 0 ? { applied: false, diagnostics: errors } : this.configure({ resources: loaded.resources, meshConfig: { ...this.options.meshConfig, ...snap.mesh } });
    this.nacked = !r.applied;
    this.telemetry?.setSyncState(this.syncState());
    return r;
  }

  private setWorkload(w: { namespace: string; labels: Record<string, string>; serviceAccount: string; name: string }): void {
    const cur = this.currentWorkload;
    if (cur.namespace === w.namespace && cur.serviceAccount === w.serviceAccount && cur.name === w.name && sameLabels(cur.labels, w.labels)) return;
    this.currentWorkload = { ...w, labels: { ...w.labels } };
    this.reload();
  }

  /** Called with endpoints that left a cluster (or whose cluster went away) after a config change. */
  onEndpointsRemoved(listener: (endpoints: EndpointState[]) => void): { dispose(): void } {
    this.removedListeners.add(listener);
    return { dispose: () => this.removedListeners.delete(listener) };
  }

  /**
   * Brings every existing cluster to the new snapshot at once (not lazily on its next use),
   * so clusters of vanished services are dropped and departed endpoints reported now.
   */
  private refreshClusters(): void {
    const removed: EndpointState[] = [];
    for (const [key, c] of this.clusters) {
      const service = resolveDestinationService(this.current, c.host);
      if (!service) {
        removed.push(...c.endpoints);
        this.clusters.delete(key);
        continue;
      }
      removed.push(...c.update(this.current, { host: c.host, subset: c.subset, port: c.port, weight: 100, service }));
      this.watchOutlier(c);
    }
    if (removed.length > 0) {
      for (const l of this.removedListeners) {
        try {
          l(removed);
        } catch {
          /* a listener's failure must not stop the config swap */
        }
      }
    }
  }

  /** Stops watching; with a control service, deregisters the workload (best effort, 1 s). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    if (this.debounce) clearTimeout(this.debounce);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.telemetry?.close();
    await this.control?.close();
    await this.deferredIdentity?.close();
  }

  private build(configDir: string | undefined): { snapshot: Snapshot } | { errors: Diagnostic[] } {
    const o = this.options;
    const resources: Resource[] = [];
    const diagnostics: Diagnostic[] = [];
    if (configDir) {
      const r = loadPaths([configDir]);
      resources.push(...r.resources);
      diagnostics.push(...r.diagnostics);
    }
    if (o.configYaml) {
      const r = loadText(o.configYaml, '<configYaml>', {}, resources.length);
      resources.push(...r.resources);
      diagnostics.push(...r.diagnostics);
    }
    if (o.resources) resources.push(...o.resources);
    if (o.registry) resources.push(...registryResources(o.registry));
    const v = validateResources(resources);
    const errors = [...diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
    if (errors.length > 0) return { errors };
    return { snapshot: compileSnapshot(v.valid, this.currentWorkload, { mesh: o.meshConfig }) };
  }

  private watchDir(dir: string): void {
    try {
      this.watcher = watch(dir, { recursive: true, persistent: false }, () => {
        if (this.closed) return;
        // Editors write in several steps; apply once the folder is quiet.
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.reload(), 50);
        this.debounce.unref();
      });
      this.watcher.on('error', () => {
        /* a vanished folder keeps the last good config */
      });
    } catch {
      /* watching is best effort: reload() still works */
    }
  }

  private sweep(): void {
    const t = this.now();
    for (const c of this.clusters.values()) c.outlier?.sweep(t);
    if (this.control) this.telemetry?.setSyncState(this.syncState());
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
