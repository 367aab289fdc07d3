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
 *
 * It is built for 10,000 workloads and 1,000 watchers (bench/control.mjs measures it): a
 * refresh reads what the change feed says changed rather than the whole registry; workloads
 * that the view cannot tell apart (same namespace, same labels) are asked about once, so a
 * view costs the stored resources plus one entry per such class, and is asked again only when
 * the stored resources change; each resource is serialised once per version, a namespace's
 * snapshot is rebuilt only when its content changed, and its JSON is the resources' JSON
 * joined.
 *
 * Memory, for the same scale (the control service's RSS target): the hub keeps each resource
 * and workload as its JSON (plus the policy Resource the view reads, for stored resources and
 * one workload per class), not as wire objects; a registered workload as its namespace and
 * heartbeat besides; and no namespace's JSON between builds (watchers get events encoded once
 * per build, api/watch.ts). That is ~16 MB of live heap for 10,000 workloads, down from ~34 MB.
 */
import { createHash } from 'node:crypto';
import {
  loadObjects, meshConfig, viewForNamespace, WIRE_API_VERSION,
  type MeshConfig, type Resource, type SyncState, type WireResource, type WireSnapshot, type WireWorkloadStatus,
} from '@meshwork/policy';
import { isHealthy, workloadEntryOf } from './registry-view.js';
import type { AckRecord, Change, ControlStore, StoredResource, Workload } from './store/types.js';

export interface SnapshotHubOptions {
  store: ControlStore;
  /** Mesh-wide settings sent to every workload (root namespace, trust domain, outbound policy...). */
  mesh?: Partial<MeshConfig> | undefined;
  /** The trusted roots (PEM), read at every refresh so a root rotation reaches the snapshots. */
  trustBundle?: (() => readonly string[]) | undefined;
  heartbeatTtlMs: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** How often to look for writes by other processes and expired heartbeats; default 1000 ms, 0 = never. */
  pollIntervalMs?: number | undefined;
  /** Called when a background rebuild fails (the last snapshots keep being served). */
  onError?: ((error: unknown) => void) | undefined;
}

/** One namespace's snapshot. */
export interface BuiltSnapshot {
  readonly snapshot: WireSnapshot;
  /**
   * `JSON.stringify(snapshot)`, spliced from the JSON each resource already has. Made on each
   * read and not kept: a namespace's JSON is ~170 KB with 10,000 workloads, and what watchers
   * get is encoded from it once per build (see api/watch.ts).
   */
  readonly json: string;
}

export interface Watcher {
  workloadId: string;
  namespace: string;
  /** Sends a snapshot (the watcher skips a version it already sent). */
  send(built: BuiltSnapshot): void;
  /** Ends the stream: the workload was deregistered. */
  end(): void;
}

/**
 * Above this many workloads to look at one by one (changed since the last refresh, or
 * unhealthy and perhaps revived by a heartbeat), the hub lists them all instead.
 */
const MAX_POINT_READS = 256;

/** A stored resource or a registered workload, prepared once per version of it. */
interface Entry {
  /** resourceVersion of a stored resource, revision of a registered workload. */
  stamp: string | number;
  /**
   * The policy-side Resource the view reads (kind, group, metadata, spec): always for a
   * stored resource, only for the one member of a view class the view is asked about for a
   * registered workload (see resourceOf).
   */
  resource?: Resource | undefined;
  /**
   * The wire object's JSON: hashed into the version and spliced into the snapshot's JSON. The
   * object itself is not kept (see wireOf): nothing on the push path reads it, and 10,000
   * WorkloadEntries as objects would hold ~6 MB more.
   */
  json: string;
  /** `Kind/namespace/name`. */
  key: string;
  /** metadata.creationTimestamp as wireOrder compares it. */
  created: string;
  /** Unique per loaded version: a namespace's content signature is made of these. */
  seq: number;
  /** A registered workload's view class (see viewClassOf). */
  viewClass?: string | undefined;
}

/** What viewForNamespace chose for one namespace, for one list of stored resources. */
interface View {
  /** The `Inputs.entries` it was computed for. */
  of: Entry[];
  resources: Entry[];
  /** Per view class of registered workloads: does the namespace see it. */
  classes: Map<string, boolean>;
}

/** The registry and the stored resources as the builds read them. */
interface Inputs {
  revision: number;
  /** Registered workloads by id: listed from the store, then kept up to date from the change feed. */
  workloads: Map<string, Registration>;
  /** Registered but unhealthy: a heartbeat may revive any of them without a write. */
  unhealthy: Set<string>;
  /** Until then every other workload stays healthy without a new heartbeat. */
  healthyUntilMs: number;
  bundleKey: string;
  trustBundle: string[];
  /** The stored resources, loaded, in store order. */
  entries: Entry[];
  /** Healthy workloads by view class. */
  classes: Map<string, Entry[]>;
  /** What viewForNamespace is given when it decides every class (made once per refresh). */
  viewInput?: ViewInput | undefined;
}

/** The stored resources, then one member of each class in `classes`. */
interface ViewInput {
  resources: Resource[];
  classes: string[];
}

/**
 * What the hub keeps of a registered workload between refreshes. The rest of it lives in its
 * entry while it is healthy; keeping the store's whole Workload objects too would hold a second
 * copy of 10,000 workloads' strings after every listing.
 */
interface Registration {
  namespace: string;
  lastHeartbeatMs: number;
}

/** What a refresh learnt of the registry. */
type RegistryRead =
  | { kind: 'listed'; workloads: Workload[] }
  | { kind: 'read'; workloads: Map<string, Workload | undefined>; resourcesChanged: boolean };

export class SnapshotHub {
  private readonly mesh: MeshConfig;
  private readonly meshWire: Partial<MeshConfig>;
  private inputs: Inputs | undefined;
  private readonly byNamespace = new Map<string, BuiltSnapshot>();
  /** The last build of each namespace, with the signature of its content (reused while equal). */
  private readonly previous = new Map<string, { signature: string; built: Built }>();
  private readonly views = new Map<string, View>();
  /** Loaded stored resources by `Kind/namespace/name`. */
  private readonly loadedResources = new Map<string, Entry>();
  /** Loaded registered workloads (healthy or not) by id. */
  private readonly loadedWorkloads = new Map<string, Entry>();
  /** The entry of each healthy workload, as filed in `Inputs.classes`. */
  private readonly filed = new Map<string, Entry>();
  private seq = 0;
  private readonly watchers = new Set<Watcher>();
  /** Watchers added since their workload was last checked against the registry. */
  private readonly unchecked = new Set<Watcher>();
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
    this.unchecked.add(w);
    return {
      dispose: () => {
        this.watchers.delete(w);
        this.unchecked.delete(w);
      },
    };
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
    const items: WireWorkloadStatus[] = [];
    for (const [id, w] of inputs.workloads) {
      if (namespace !== undefined && w.namespace !== namespace) continue;
      const current = this.build(w.namespace).snapshot.version;
      const ack = acks.get(id);
      const sent = this.sent.get(id);
      const item: WireWorkloadStatus = {
        id,
        namespace: w.namespace,
        // The last refresh's health: every workload not found unhealthy stays healthy until
        // healthyUntilMs, past which a refresh lists them all again.
        healthy: !inputs.unhealthy.has(id),
        connected: connected.has(id),
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
    this.unchecked.clear();
  }

  private async refreshOnce(): Promise<void> {
    const { store } = this.options;
    const revision = await store.revision();
    const trustBundle = [...(this.options.trustBundle?.() ?? [])];
    const bundleKey = trustBundle.join('');
    const nowMs = this.options.now();
    const prev = this.inputs;
    const read = await this.readRegistry(prev, revision, nowMs);
    const resources = !prev || (read.kind === 'listed' ? prev.revision !== revision : read.resourcesChanged) ? await store.list() : undefined;

    // Everything below is synchronous: builds never see a half-updated registry.
    const ttlMs = this.options.heartbeatTtlMs;
    // What was read now, in full (undefined: deregistered); only a Registration of each is kept.
    const fresh: ReadonlyMap<string, Workload | undefined> = read.kind === 'listed' ? new Map(read.workloads.map((w) => [w.id, w])) : read.workloads;
    const workloads = read.kind === 'listed' ? new Map<string, Registration>() : prev!.workloads;
    for (const [id, w] of fresh) {
      if (w) workloads.set(id, { namespace: w.namespace, lastHeartbeatMs: w.lastHeartbeatMs });
      else workloads.delete(id);
    }
    const touched = read.kind === 'listed' ? new Set([...fresh.keys(), ...this.loadedWorkloads.keys()]) : new Set(fresh.keys());
    const unhealthy = read.kind === 'listed' ? new Set<string>() : prev!.unhealthy;
    let healthyUntilMs = read.kind === 'listed' ? Infinity : prev!.healthyUntilMs;
    const classes = prev?.classes ?? new Map<string, Entry[]>();
    let registryChanged = !prev;
    for (const id of touched) {
      const w = fresh.get(id);
      const healthy = w !== undefined && isHealthy(w, { nowMs, ttlMs });
      if (healthy) {
        unhealthy.delete(id);
        healthyUntilMs = Math.min(healthyUntilMs, w.lastHeartbeatMs + ttlMs);
      } else if (w) {
        unhealthy.add(id);
      } else {
        unhealthy.delete(id);
        this.loadedWorkloads.delete(id);
      }
      const entry = healthy ? this.loadWorkload(w, classes) : undefined;
      const before = this.filed.get(id);
      if (entry === before) continue;
      registryChanged = true;
      if (before) unfile(classes, before);
      if (entry) {
        file(classes, entry);
        this.filed.set(id, entry);
      } else {
        this.filed.delete(id);
      }
    }
    // A deregistration ends its streams; a stream that began after the registry was last
    // read is checked too (its workload may have gone just before it subscribed).
    const deregistered = read.kind === 'listed' || [...read.workloads.values()].some((w) => w === undefined);
    this.endDeregistered(workloads, deregistered ? this.watchers : this.unchecked);

    let entries = resources ? this.loadResources(resources) : prev!.entries;
    // Read again but unchanged (a listing after the revision moved for workloads only): the
    // views computed for the previous entries still hold.
    if (prev && entries !== prev.entries && entries.length === prev.entries.length && entries.every((e, i) => e === prev.entries[i])) entries = prev.entries;
    const changed = registryChanged || !prev || entries !== prev.entries || prev.bundleKey !== bundleKey;
    this.inputs = { revision, workloads, unhealthy, healthyUntilMs, bundleKey, trustBundle, entries, classes };
    if (!changed) return;
    this.byNamespace.clear();
    // Push to the namespaces someone watches; other namespaces are built when first asked.
    const byNs = new Map<string, Watcher[]>();
    for (const w of this.watchers) {
      const list = byNs.get(w.namespace);
      if (list) list.push(w);
      else byNs.set(w.namespace, [w]);
    }
    for (const [ns, list] of byNs) {
      const built = this.build(ns);
      for (const w of list) w.send(built);
    }
  }

  /**
   * What changed in the registry since `prev`, at the least cost: nothing is read while the
   * revision is the same, nobody is unhealthy and no heartbeat can have run out yet (health
   * moves with time only); a few workloads are read one by one (those the change feed names,
   * and unhealthy ones that a heartbeat may have revived); 10,000 workloads are listed only at
   * the start, when a heartbeat may have run out, or after many changes.
   */
  private async readRegistry(prev: Inputs | undefined, revision: number, nowMs: number): Promise<RegistryRead> {
    const { store } = this.options;
    const list = async (): Promise<RegistryRead> => ({ kind: 'listed', workloads: await store.listWorkloads() });
    if (!prev || nowMs > prev.healthyUntilMs || prev.unhealthy.size > MAX_POINT_READS) return list();
    const ids = new Set(prev.unhealthy);
    let resourcesChanged = false;
    if (prev.revision !== revision) {
      let changes: Change[];
      try {
        ({ changes } = await store.changesSince(prev.revision));
      } catch {
        return list(); // compacted: the feed no longer reaches back that far
      }
      for (const c of changes) {
        if (c.type === 'resource') resourcesChanged = true;
        else ids.add(c.id);
      }
      if (ids.size > MAX_POINT_READS) return list();
    }
    const workloads = new Map<string, Workload | undefined>();
    for (const id of ids) workloads.set(id, await store.getWorkload(id));
    return { kind: 'read', workloads, resourcesChanged };
  }

  /** Ends the streams of `watchers` whose workload is not registered (it was deregistered). */
  private endDeregistered(workloads: ReadonlyMap<string, Registration>, watchers: Iterable<Watcher>): void {
    for (const w of [...watchers]) {
      if (!workloads.has(w.workloadId) && this.watchers.delete(w)) w.end();
    }
    this.unchecked.clear();
  }

  private build(namespace: string): BuiltSnapshot {
    const hit = this.byNamespace.get(namespace);
    if (hit) return hit;
    const inputs = this.inputs!;
    const view = this.view(namespace);
    const entries: Entry[] = [...view.resources];
    for (const [c, members] of inputs.classes) if (view.classes.get(c)) entries.push(...members);
    const signature = `${inputs.bundleKey}\u0000${entries.map((e) => e.seq).join(',')}`;
    const before = this.previous.get(namespace);
    let built: Built;
    if (before && before.signature === signature) {
      // The same content: the same version, and the same JSON after the revision.
      built = before.built.snapshot.revision === inputs.revision ? before.built : before.built.withRevision(inputs.revision);
      this.previous.set(namespace, { signature, built });
    } else {
      entries.sort(wireOrder);
      const hash = createHash('sha256');
      hash.update(JSON.stringify([namespace, this.meshWire, inputs.trustBundle]));
      for (const e of entries) hash.update(e.json);
      built = new Built({ version: hash.digest('hex').slice(0, 16), revision: inputs.revision, namespace, mesh: this.meshWire, trustBundle: [...inputs.trustBundle] }, entries);
      this.previous.set(namespace, { signature, built });
    }
    this.byNamespace.set(namespace, built);
    return built;
  }

  /**
   * What viewForNamespace keeps of `namespace`. The view decides a WorkloadEntry from its
   * namespace and registry labels alone (its own namespace's, or selected by a service
   * visible there), and nothing else it keeps depends on WorkloadEntries. So one member of
   * each view class stands for the whole class, a namespace of 10,000 workloads costs the view
   * of its resources plus one entry per class, and the view is asked again only when the
   * stored resources change or a class it has not decided appears (not when workloads join or
   * leave a class).
   */
  private view(namespace: string): View {
    const inputs = this.inputs!;
    const cached = this.views.get(namespace);
    let view: View;
    let input: ViewInput;
    if (cached && cached.of === inputs.entries) {
      view = cached;
      const undecided = [...inputs.classes].filter(([c]) => !view.classes.has(c));
      if (undecided.length === 0) return view;
      input = viewInput(inputs.entries, undecided);
    } else {
      // Every namespace asks about every class: one input for all of them.
      view = { of: inputs.entries, resources: [], classes: new Map() };
      input = inputs.viewInput ??= viewInput(inputs.entries, inputs.classes);
    }
    const kept = new Set(viewForNamespace(input.resources, namespace, this.mesh));
    if (view !== cached) view.resources = inputs.entries.filter((_, i) => kept.has(input.resources[i]!));
    input.classes.forEach((c, i) => view.classes.set(c, kept.has(input.resources[inputs.entries.length + i]!)));
    this.views.set(namespace, view);
    return view;
  }

  private loadResources(resources: readonly StoredResource[]): Entry[] {
    const live = new Set<string>();
    const entries = resources.map((r) => {
      const key = `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
      live.add(key);
      const hit = this.loadedResources.get(key);
      if (hit && hit.stamp === r.metadata.resourceVersion) return hit;
      const entry = this.entry(key, r.metadata.resourceVersion, r);
      resourceOf(entry, r);
      this.loadedResources.set(key, entry);
      return entry;
    });
    for (const k of this.loadedResources.keys()) if (!live.has(k)) this.loadedResources.delete(k);
    return entries;
  }

  /** `classes`: the healthy workloads by view class, as being filed (their names are reused). */
  private loadWorkload(w: Workload, classes: ReadonlyMap<string, Entry[]>): Entry {
    const hit = this.loadedWorkloads.get(w.id);
    if (hit && hit.stamp === w.revision) return hit;
    const entry = this.entry(`WorkloadEntry/${w.namespace}/${w.name}`, w.revision, workloadEntryOf(w) as WireResource);
    const c = viewClassOf(w);
    // One string per class, shared by its members, rather than one per workload.
    entry.viewClass = classes.get(c)?.[0]?.viewClass ?? c;
    this.loadedWorkloads.set(w.id, entry);
    return entry;
  }

  private entry(key: string, stamp: string | number, wire: WireResource): Entry {
    const created = (wire.metadata as Record<string, unknown>).creationTimestamp;
    return { stamp, json: JSON.stringify(wire), key, created: String(created ?? ''), seq: ++this.seq };
  }
}

/** A snapshot's fields but its resources (Built's `snapshot` adds them). */
type SnapshotHead = Pick<WireSnapshot, 'version' | 'revision' | 'namespace' | 'mesh' | 'trustBundle'>;

/**
 * A built snapshot: its fields and its sorted entries. The JSON is spliced from the entries'
 * JSON on each read (the JSON of 50 namespaces is ~9 MB of strings that every push would
 * otherwise replace), and `snapshot.resources` is made on first read (registered workloads
 * keep only their JSON): the push path reads neither.
 */
class Built implements BuiltSnapshot {
  readonly snapshot: WireSnapshot;

  constructor(
    private readonly head: SnapshotHead,
    private readonly entries: readonly Entry[],
  ) {
    let resources: WireResource[] | undefined;
    // The fields in the order JSON.stringify(snapshot) must give (that of `json`).
    const snapshot = { apiVersion: WIRE_API_VERSION, kind: 'Snapshot', version: head.version, revision: head.revision, namespace: head.namespace, mesh: head.mesh };
    Object.defineProperty(snapshot, 'resources', { enumerable: true, get: () => (resources ??= entries.map(wireOf)) });
    this.snapshot = Object.assign(snapshot, { trustBundle: head.trustBundle }) as WireSnapshot;
  }

  get json(): string {
    return `${jsonHead(this.snapshot)},"resources":[${this.entries.map((e) => e.json).join(',')}],"trustBundle":${JSON.stringify(this.head.trustBundle)}}`;
  }

  /** The same content at another store revision. */
  withRevision(revision: number): Built {
    return new Built({ ...this.head, revision }, this.entries);
  }
}

/** An entry's wire object, parsed back from its JSON (tests and tools read it; pushes do not). */
function wireOf(e: Entry): WireResource {
  return JSON.parse(e.json) as WireResource;
}

function viewInput(entries: readonly Entry[], classes: Iterable<[string, Entry[]]>): ViewInput {
  const input: ViewInput = { resources: entries.map((e) => resourceOf(e)), classes: [] };
  for (const [c, members] of classes) {
    input.classes.push(c);
    input.resources.push(resourceOf(members[0]!));
  }
  return input;
}

/**
 * The entry's policy-side Resource, loaded on first use. Stored objects were validated when
 * applied; loading them again only builds the Resource the view reads. The view never
 * locates a field, and the loader's locate() keeps the document's whole YAML tree alive
 * (about 10 KB a resource): it is dropped.
 */
function resourceOf(e: Entry, wire?: WireResource): Resource {
  if (e.resource) return e.resource;
  const loaded = loadObjects([wire ?? wireOf(e)], e.key).resources[0]!;
  const { source } = loaded;
  e.resource = { ...loaded, locate: () => source };
  return e.resource;
}

function file(classes: Map<string, Entry[]>, e: Entry): void {
  const members = classes.get(e.viewClass!);
  if (members) members.push(e);
  else classes.set(e.viewClass!, [e]);
}

function unfile(classes: Map<string, Entry[]>, e: Entry): void {
  const members = classes.get(e.viewClass!);
  if (!members) return;
  const i = members.indexOf(e);
  if (i >= 0) members.splice(i, 1);
  if (members.length === 0) classes.delete(e.viewClass!);
}

/** The snapshot's JSON up to its resources (the fields before them, in their order). */
function jsonHead(s: WireSnapshot): string {
  return JSON.stringify({ apiVersion: s.apiVersion, kind: s.kind, version: s.version, revision: s.revision, namespace: s.namespace, mesh: s.mesh }).slice(0, -1);
}

/**
 * Registered workloads the view treats alike. viewForNamespace keeps a WorkloadEntry of the
 * namespace itself, and one of another namespace when a service visible there selects its
 * registry labels, which are a WorkloadEntry's spec labels (registry.ts, after Istio's
 * convertWorkloadEntryToWorkloadInstance): workloadEntryOf copies the workload's labels there.
 */
function viewClassOf(w: Workload): string {
  const labels = Object.keys(w.labels).sort().map((k) => [k, String(w.labels[k])]);
  return `${w.namespace}\u0000${JSON.stringify(labels)}`;
}

/** Istio orders conflicting resources by creation time, then by name: keep that order on the wire. */
function wireOrder(a: Entry, b: Entry): number {
  const ca = a.created;
  const cb = b.created;
  if (ca !== cb) return ca === '' ? 1 : cb === '' ? -1 : ca < cb ? -1 : 1;
  const ka = a.key;
  const kb = b.key;
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
