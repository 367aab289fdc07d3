/**
 * The per-namespace snapshot builder and the watch hub.
 *
 * What a workload receives depends only on its namespace (the view of policy's
 * `viewForNamespace`, the registry's healthy workloads, mesh settings and the trust bundle):
 * its own labels and service account select among those resources, and the SDK does that
 * selection when it compiles locally. So one snapshot per namespace is built and serialised
 * once per change and the same bytes go to every watcher of that namespace: a change reaches
 * 1,000 watchers for the price of one build per namespace.
 *
 * The hub learns of changes two ways: `poke()` from this process's API after a write, and a
 * poll (default every second) that catches writes by other processes sharing the store and
 * workloads whose heartbeats stopped (health is a function of time, not of a write).
 */
import { createHash } from 'node:crypto';
import {
  loadObjects, meshConfig, viewForNamespace, WIRE_API_VERSION,
  type MeshConfig, type Resource, type SyncState, type WireResource, type WireSnapshot, type WireWorkloadStatus,
} from '@meshwork/policy';
import { isHealthy, workloadEntryOf } from './registry-view.js';
import type { AckRecord, ControlStore, StoredResource, Workload } from './store/types.js';

export interface SnapshotHubOptions {
  store: ControlStore;
  /** Mesh-wide settings sent to every workload (root namespace, trust domain, outbound policy...). */
  mesh?: Partial<MeshConfig> | undefined;
  /** The trusted roots (PEM), read at every build so a root rotation reaches the snapshots. */
  trustBundle?: (() => readonly string[]) | undefined;
  heartbeatTtlMs: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How often to look for writes by other processes and expired heartbeats; default 1000 ms, 0 = never. */
  pollIntervalMs?: number | undefined;
  /** Called when a background rebuild fails (the last snapshots keep being served). */
  onError?: ((error: unknown) => void) | undefined;
}

/** One namespace's snapshot, serialised once. */
export interface BuiltSnapshot {
  snapshot: WireSnapshot;
  /** `JSON.stringify(snapshot)`, shared by every watcher. */
  json: string;
}

export interface Watcher {
  workloadId: string;
  namespace: string;
  /** Sends a snapshot (the watcher skips a version it already sent). */
  send(built: BuiltSnapshot): void;
  /** Ends the stream: the workload was deregistered. */
  end(): void;
}

interface Inputs {
  revision: number;
  /** Ids of the healthy workloads, with their registration revision: the health signature. */
  healthKey: string;
  bundleKey: string;
  resources: StoredResource[];
  workloads: Workload[];
}

/** Loaded policy Resources, kept per stored object version so a change reloads only itself. */
interface CachedResource {
  stamp: string;
  wire: WireResource;
  resource: Resource;
}

export class SnapshotHub {
  private readonly mesh: MeshConfig;
  private readonly meshWire: Partial<MeshConfig>;
  private inputs: Inputs | undefined;
  private readonly byNamespace = new Map<string, BuiltSnapshot>();
  private readonly loaded = new Map<string, CachedResource>();
  private readonly watchers = new Set<Watcher>();
  /** The last version each workload was sent by this process. */
  private readonly sent = new Map<string, string>();
  private refreshing: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: SnapshotHubOptions) {
    this.meshWire = { ...(options.mesh ?? {}) };
    this.mesh = meshConfig(this.meshWire);
    const every = options.pollIntervalMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.poke(), every);
      this.timer.unref();
    }
  }

  /** The snapshot a workload of `namespace` gets now. */
  async snapshotFor(namespace: string): Promise<BuiltSnapshot> {
    if (!this.inputs) await this.refresh();
    return this.build(namespace);
  }

  /**
   * The snapshot of `namespace` from the inputs in force now, without waiting for a refresh.
   * A watcher checks it right after subscribing: a refresh that finished between its first
   * snapshot and its subscription has pushed to everyone but it.
   */
  latest(namespace: string): BuiltSnapshot | undefined {
    return this.inputs ? this.build(namespace) : undefined;
  }

  /** Something may have changed: rebuild and push what changed. Coalesces bursts. */
  poke(): void {
    if (this.closed) return;
    this.refresh().catch((e: unknown) => this.options.onError?.(e));
  }

  /** Resolves once every change known when it was called has been pushed. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.refreshOnce();
        } while (this.again && !this.closed);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  watch(w: Watcher): { dispose(): void } {
    this.watchers.add(w);
    return { dispose: () => this.watchers.delete(w) };
  }

  /** Records what was sent on a stream, for status. */
  markSent(workloadId: string, version: string): void {
    this.sent.set(workloadId, version);
  }

  /** Per-workload sync state, as `istioctl proxy-status` gives it. */
  async status(namespace?: string): Promise<{ revision: number; items: WireWorkloadStatus[] }> {
    await this.refresh();
    const inputs = this.inputs!;
    const acks = new Map<string, AckRecord>((await this.options.store.listAcks()).map((a) => [a.workload, a]));
    const connected = new Set([...this.watchers].map((w) => w.workloadId));
    const nowMs = this.options.now();
    const items: WireWorkloadStatus[] = [];
    for (const w of inputs.workloads) {
      if (namespace !== undefined && w.namespace !== namespace) continue;
      const current = this.build(w.namespace).snapshot.version;
      const ack = acks.get(w.id);
      const sent = this.sent.get(w.id);
      const item: WireWorkloadStatus = {
        id: w.id,
        namespace: w.namespace,
        healthy: isHealthy(w, { nowMs, ttlMs: this.options.heartbeatTtlMs }),
        connected: connected.has(w.id),
        state: syncState(current, sent, ack),
        currentVersion: current,
      };
      if (sent !== undefined) item.sentVersion = sent;
      if (ack?.ackedVersion !== undefined) item.ackedVersion = ack.ackedVersion;
      if (ack?.ackedAtMs !== undefined) item.lastAckAt = new Date(ack.ackedAtMs).toISOString();
      if (ack?.nack !== undefined) {
        item.nackedVersion = ack.version;
        item.nackError = ack.nack;
      }
      items.push(item);
    }
    items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { revision: inputs.revision, items };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.watchers.clear();
  }

  private async refreshOnce(): Promise<void> {
    const { store } = this.options;
    const revision = await store.revision();
    const workloads = await store.listWorkloads();
    const nowMs = this.options.now();
    const ttlMs = this.options.heartbeatTtlMs;
    const healthy = workloads.filter((w) => isHealthy(w, { nowMs, ttlMs }));
    const healthKey = healthy.map((w) => `${w.id}@${w.revision}`).sort().join(',');
    const bundleKey = (this.options.trustBundle?.() ?? []).join('');
    const registered = new Set(workloads.map((w) => w.id));
    for (const w of [...this.watchers]) {
      if (!registered.has(w.workloadId)) {
        this.watchers.delete(w);
        w.end();
      }
    }
    const prev = this.inputs;
    if (prev && prev.revision === revision && prev.healthKey === healthKey && prev.bundleKey === bundleKey) {
      prev.workloads = workloads;
      return;
    }
    const resources = prev && prev.revision === revision ? prev.resources : await store.list();
    this.inputs = { revision, healthKey, bundleKey, resources, workloads };
    this.byNamespace.clear();
    // Push to the namespaces someone watches; other namespaces are built when first asked.
    const namespaces = new Set([...this.watchers].map((w) => w.namespace));
    for (const ns of namespaces) {
      const built = this.build(ns);
      for (const w of this.watchers) if (w.namespace === ns) w.send(built);
    }
  }

  private build(namespace: string): BuiltSnapshot {
    const hit = this.byNamespace.get(namespace);
    if (hit) return hit;
    const inputs = this.inputs!;
    const nowMs = this.options.now();
    const ttlMs = this.options.heartbeatTtlMs;
    const entries: CachedResource[] = [];
    const live = new Set<string>();
    for (const r of inputs.resources) entries.push(this.load(`r:${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r.metadata.resourceVersion, r, live));
    for (const w of inputs.workloads) {
      if (!isHealthy(w, { nowMs, ttlMs })) continue;
      entries.push(this.load(`w:${w.id}`, String(w.revision), workloadEntryOf(w) as WireResource, live));
    }
    for (const k of this.loaded.keys()) if (!live.has(k)) this.loaded.delete(k);

    const visible = new Set(viewForNamespace(entries.map((e) => e.resource), namespace, this.mesh));
    const resources = entries.filter((e) => visible.has(e.resource)).sort(wireOrder).map((e) => e.wire);
    const trustBundle = [...(this.options.trustBundle?.() ?? [])];
    const hash = createHash('sha256');
    hash.update(JSON.stringify([namespace, this.meshWire, trustBundle]));
    for (const r of resources) hash.update(JSON.stringify(r));
    const snapshot: WireSnapshot = {
      apiVersion: WIRE_API_VERSION,
      kind: 'Snapshot',
      version: hash.digest('hex').slice(0, 16),
      revision: inputs.revision,
      namespace,
      mesh: this.meshWire,
      resources,
      trustBundle,
    };
    const built = { snapshot, json: JSON.stringify(snapshot) };
    this.byNamespace.set(namespace, built);
    return built;
  }

  private load(key: string, stamp: string, wire: WireResource, live: Set<string>): CachedResource {
    live.add(key);
    const hit = this.loaded.get(key);
    if (hit && hit.stamp === stamp) return hit;
    // Stored objects were validated when applied; loading them again only builds the
    // policy-side Resource the view reads (kind, group, metadata, spec).
    const resource = loadObjects([wire], key).resources[0]!;
    const entry = { stamp, wire, resource };
    this.loaded.set(key, entry);
    return entry;
  }
}

/** Istio orders conflicting resources by creation time, then by name: keep that order on the wire. */
function wireOrder(a: CachedResource, b: CachedResource): number {
  const ca = String((a.wire.metadata as Record<string, unknown>).creationTimestamp ?? '');
  const cb = String((b.wire.metadata as Record<string, unknown>).creationTimestamp ?? '');
  if (ca !== cb) return ca === '' ? 1 : cb === '' ? -1 : ca < cb ? -1 : 1;
  const ka = a.resource.key;
  const kb = b.resource.key;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * istioctl proxy-status's states: NOT SENT when nothing was ever sent or acknowledged,
 * NACKED when the workload rejected the latest version it reported on, SYNCED when it
 * acknowledged the version the control service would send now, STALE otherwise (sent but
 * not yet acknowledged, or acknowledged an older one).
 */
export function syncState(current: string, sent: string | undefined, ack: AckRecord | undefined): SyncState {
  if (sent === undefined && ack === undefined) return 'NOT SENT';
  if (ack?.nack !== undefined && (ack.version === current || ack.version === sent)) return 'NACKED';
  if (ack?.ackedVersion === current) return 'SYNCED';
  return 'STALE';
}
