/**
 * The SDK side of the control protocol (DESIGN.md, "Config" and "Identity" flows): register
 * the workload (WorkloadEntry auto-registration), heartbeat, get a certificate from a CSR and
 * renew it, watch the namespace's snapshot, hand it to the Mesh (validated and compiled
 * locally, swapped atomically) and acknowledge it (ACK, or NACK with the error).
 *
 * When the control service is away nothing stops: the last good snapshot and certificate keep
 * serving, every call retries with jittered exponential backoff, and both are kept on disk
 * (MESHWORK_CACHE_DIR) so a workload restarted meanwhile starts from them.
 */
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { networkInterfaces } from 'node:os';
import { createCaIdentitySource, formatSpiffeId, type CaIdentitySource, type IdentityMaterial } from '@meshwork/identity';
import type { Diagnostic, WireAck, WireRegistration, WireSnapshot } from '@meshwork/policy';
import { DiskCache, type CachedRegistration } from './cache.js';
import type { DeferredIdentity } from './deferred-identity.js';
import { callControl, ControlUnreachable, replyMessage, type ControlEndpoint } from './http.js';
import { remoteSigner } from './remote-signer.js';
import { openSse, type SseStream } from './sse.js';

/** Snapshots come compressed (`snapshot-deflate` events): a tenth of the bytes for the control service to send. */
const SNAPSHOT_DEFLATE = { 'x-meshwork-snapshot-encoding': 'deflate' };

export interface ControlClientOptions {
  /** `https://host:port` of `meshwork control` (MESHWORK_CONTROL_URL). */
  url: string;
  /** A join token (MESHWORK_TOKEN). */
  token: string;
  /** PEM roots for the control service's HTTPS certificate (MESHWORK_CONTROL_CA: a file). */
  ca?: string | string[] | undefined;
  /** Folder for the last snapshot, certificate and registration (MESHWORK_CACHE_DIR). */
  cacheDir?: string | undefined;
  /** WorkloadGroup to register against, `<namespace>/<name>`; default `<namespace>/<workload name>`. */
  group?: string | undefined;
  /** Address other workloads reach this one at (MESHWORK_ADDRESS); default the address the server listens on. */
  address?: string | undefined;
  /** Port name → port (MESHWORK_PORTS `http=9080`); a MeshServer announces its own port. */
  ports?: Record<string, number> | undefined;
  /** Name of the port a MeshServer announces (default `http`, the Bookinfo Services' port name). */
  portName?: string | undefined;
  /** Heartbeat period (default 10 s, a third of the control service's default 30 s TTL). */
  heartbeatMs?: number | undefined;
  /** Timeout of each API call (default 5 s). */
  timeoutMs?: number | undefined;
  /**
   * Reconnect backoff while the control service is unreachable: from `initialMs` (default 100)
   * doubling to `maxMs` (default 500), each wait jittered in [50 %, 100 %], so a returning
   * control service is seen within about half a second. A refusal (401, 403, 404 for an
   * unknown WorkloadGroup...) backs off from 1 s to 30 s instead: it needs an operator.
   */
  backoff?: { initialMs?: number | undefined; maxMs?: number | undefined } | undefined;
  /** A watch stream silent this long is considered dead (default 45 s: three server heartbeats). */
  idleTimeoutMs?: number | undefined;
}

/** What the client needs from the Mesh (kept narrow so the client never reaches into it). */
export interface ControlTarget {
  readonly workloadName: string | undefined;
  readonly namespace: string;
  /** Labels and service account the workload was started with (MESHWORK_LABELS, MESHWORK_SERVICE_ACCOUNT): sent with the registration. */
  readonly declared: { labels: Record<string, string>; serviceAccount: string | undefined };
  /** Validates and compiles the snapshot; all or nothing. */
  applyWire(snapshot: WireSnapshot): { applied: boolean; diagnostics: Diagnostic[] };
  /** The registration decided labels and service account (from the WorkloadGroup). */
  setWorkload(w: { namespace: string; labels: Record<string, string>; serviceAccount: string; name: string }): void;
  readonly identity: DeferredIdentity;
  random(): number;
}

export interface ControlStatus {
  connected: boolean;
  registered: boolean;
  /** Version of the snapshot in force (from the control service or the cache). */
  version: string | undefined;
  /** Where the snapshot in force came from. */
  source: 'none' | 'cache' | 'control';
  lastError: string | undefined;
}

interface Registered {
  id: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
}

export class ControlClient {
  private readonly endpoint: ControlEndpoint;
  private readonly cache: DiskCache | undefined;
  private readonly cachedRegistration: CachedRegistration | undefined;
  private readonly name: string;
  private address: string | undefined;
  private ports: Record<string, number>;
  private registered: Registered | undefined;
  private stream: SseStream | undefined;
  private signed: CaIdentitySource | undefined;
  private kept: IdentityMaterial | undefined;
  private appliedVersion: string | undefined;
  private appliedBundle = '';
  private source: ControlStatus['source'] = 'none';
  private connected = false;
  private lastError: string | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private running = false;
  private pendingAck: WireAck | undefined;
  private identityTimer: NodeJS.Timeout | undefined;
  private identityAttempt = 0;
  private ackInFlight: Promise<void> | undefined;
  private readyResolve!: () => void;
  /** Resolves once a snapshot is in force and the workload has a certificate. */
  readonly ready: Promise<void>;

  constructor(private readonly target: ControlTarget, private readonly o: ControlClientOptions, private readonly onError: (message: string) => void = () => {}) {
    const url = new URL(o.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`controlUrl must be https:// (or http:// for a local control service), got "${o.url}"`);
    if (typeof o.token !== 'string' || o.token === '') throw new TypeError('a join token is required with controlUrl (option token or MESHWORK_TOKEN; create one with `meshwork token create`)');
    this.endpoint = { url, token: o.token, ca: o.ca, timeoutMs: o.timeoutMs ?? 5000 };
    this.cache = o.cacheDir ? new DiskCache(o.cacheDir, onError) : undefined;
    this.cachedRegistration = this.cache?.readRegistration();
    this.address = o.address;
    this.ports = { ...(o.ports ?? {}) };
    this.ready = new Promise((resolve) => {
      this.readyResolve = resolve;
    });
    const groupName = this.groupRef().name;
    this.name = this.cachedRegistration?.name ?? `${groupName}-${randomBytes(3).toString('hex')}`;
  }

  /** Starts from the cache (if any), then connects; never throws (errors go to `onError`). */
  start(): void {
    const cachedWorkload = this.cachedRegistration?.workload;
    if (cachedWorkload && typeof cachedWorkload.namespace === 'string') this.target.setWorkload(cachedWorkload);
    const snap = this.cache?.readSnapshot();
    if (snap) {
      const r = this.target.applyWire(snap);
      if (r.applied) {
        this.appliedVersion = snap.version;
        this.appliedBundle = snap.trustBundle.join('');
        this.source = 'cache';
      }
    }
    this.kept = this.cache?.readIdentity();
    if (this.kept && snap && this.source === 'cache') {
      // Serve from the cache at once; the identity source rotates it when due.
      const spiffeId = this.kept.spiffeId;
      void this.ensureIdentity(spiffeId).then(() => this.checkReady(), (e: unknown) => this.identityFailed(e, spiffeId));
    }
    this.connect();
  }

  status(): ControlStatus {
    return { connected: this.connected, registered: this.registered !== undefined, version: this.appliedVersion, source: this.source, lastError: this.lastError };
  }

  /** A server of this workload listens at `address:port`: (re-)register with it. */
  announce(address: string, port: number, portName = this.o.portName ?? 'http'): void {
    const addr = this.o.address ?? reachableAddress(address);
    if (this.ports[portName] === port && this.address === addr) return;
    this.ports[portName] = port;
    this.address = addr;
    // If the control service is away, the next session registers with these ports anyway.
    if (this.registered && !this.closed) void this.register().catch((e: unknown) => this.note(e));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.identityTimer) clearTimeout(this.identityTimer);
    this.stream?.close();
    const id = this.registered?.id;
    if (id) {
      // Leave the endpoint sets now rather than after the heartbeat TTL; best effort.
      await callControl({ ...this.endpoint, timeoutMs: 1000 }, 'DELETE', `/v1/workloads/${encodeURIComponent(id)}`).catch(() => undefined);
    }
    // A restart reads what this run last wrote.
    await this.cache?.flush();
  }

  private groupRef(): { namespace: string; name: string } {
    const g = this.o.group ?? (this.target.workloadName ? `${this.target.namespace}/${this.target.workloadName}` : undefined);
    const m = g ? /^([^/]+)\/([^/]+)$/.exec(g) : null;
    if (!m) throw new TypeError('with controlUrl, name the WorkloadGroup to register against: option group "<namespace>/<name>", or a workload name (MESHWORK_SERVICE) and namespace');
    return { namespace: m[1]!, name: m[2]! };
  }

  private connect(): void {
    if (this.closed || this.running) return;
    this.running = true;
    this.session()
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.running = false;
      });
  }

  /** One session: register, then watch until the stream ends. */
  private async session(): Promise<void> {
    await this.register();
    if (this.closed) return;
    this.startHeartbeats();
    // One stream at a time: a session may start while an old stream is still open.
    this.stream?.close();
    this.watch();
  }

  private async register(): Promise<void> {
    const g = this.groupRef();
    const body: WireRegistration = { group: `${g.namespace}/${g.name}`, address: this.address ?? reachableAddress(undefined), name: this.name };
    if (Object.keys(this.ports).length > 0) body.ports = { ...this.ports };
    // Labels add to the WorkloadGroup's; a service account is checked against the group's
    // template (the control service refuses another one: a workload cannot pick its identity).
    const { labels, serviceAccount } = this.target.declared;
    if (Object.keys(labels).length > 0) body.labels = { ...labels };
    if (serviceAccount) body.serviceAccount = serviceAccount;
    const r = await callControl(this.endpoint, 'POST', '/v1/workloads:register', body);
    if (r.status !== 200) throw new Error(`registration against WorkloadGroup ${body.group} refused: ${replyMessage(r)}`);
    const w = r.body?.workload;
    this.registered = { id: String(r.body.id), namespace: String(w.namespace), serviceAccount: String(w.serviceAccount), labels: { ...(w.labels ?? {}) } };
    const workload = { namespace: this.registered.namespace, labels: this.registered.labels, serviceAccount: this.registered.serviceAccount, name: g.name };
    this.target.setWorkload(workload);
    this.cache?.writeRegistration({ name: this.name, id: this.registered.id, workload });
    // The reply names the CA's trust domain: the key, the CSR and the signing run while the
    // first snapshot is on its way instead of after it (a cold start's longest wait).
    const td = r.body?.trustDomain;
    if (typeof td === 'string' && td !== '' && !this.signed) {
      let spiffeId: string;
      try {
        spiffeId = formatSpiffeId({ trustDomain: td, namespace: this.registered.namespace, serviceAccount: this.registered.serviceAccount });
      } catch {
        return; // not a trust domain the SDK can use: the snapshot's decides later
      }
      this.ensureIdentity(spiffeId).then(() => this.checkReady(), (e: unknown) => this.identityFailed(e, spiffeId));
    }
  }

  private startHeartbeats(): void {
    if (this.heartbeatTimer) return;
    this.heartbeatTimer = setInterval(() => {
      const id = this.registered?.id;
      if (!id || this.closed) return;
      callControl(this.endpoint, 'POST', `/v1/workloads/${encodeURIComponent(id)}:heartbeat`).then(
        (r) => {
          // The control service forgot us (its data was reset, or a TTL sweep): register again.
          if (r.status === 404) void this.register().catch((e: unknown) => this.note(e));
        },
        () => {
          /* away: the watch loop reconnects and re-registers */
        },
      );
    }, this.o.heartbeatMs ?? 10_000);
    this.heartbeatTimer.unref();
  }

  private watch(): void {
    const id = this.registered!.id;
    this.stream = openSse(this.endpoint, `/v1/workloads/${encodeURIComponent(id)}:watch`, this.appliedVersion, this.o.idleTimeoutMs ?? 45_000, {
      onOpen: () => {
        this.connected = true;
        this.attempt = 0;
        this.lastError = undefined;
      },
      onEvent: (event, data) => {
        if (event === 'snapshot') this.onSnapshot(data);
        else if (event === 'snapshot-deflate') this.onDeflatedSnapshot(data);
        else if (event === 'unchanged' && this.appliedVersion) void this.ack({ version: this.appliedVersion });
      },
      onClose: (err, status, body) => {
        this.connected = false;
        this.stream = undefined;
        if (this.closed) return;
        if (status !== undefined) this.lastError = `watch refused: ${status} ${messageOf(body)}`;
        else if (err) this.lastError = err.message;
        this.retry(status !== undefined && status !== 404 && status < 500);
      },
    }, SNAPSHOT_DEFLATE);
  }

  /** `{version, revision, encoding: 'deflate', data: base64}`: the snapshot's JSON, compressed by the control service. */
  private onDeflatedSnapshot(data: string): void {
    let json: string;
    try {
      const wrapper = JSON.parse(data) as { version?: unknown; encoding?: unknown; data?: unknown };
      if (wrapper.encoding !== 'deflate' || typeof wrapper.data !== 'string') throw new Error(`encoding ${String(wrapper.encoding)} is not deflate`);
      json = inflateRawSync(Buffer.from(wrapper.data, 'base64')).toString('utf8');
    } catch (e) {
      void this.ack({ version: 'unparseable', error: `the compressed snapshot cannot be read: ${(e as Error).message}` });
      return;
    }
    this.onSnapshot(json);
  }

  private onSnapshot(data: string): void {
    let snap: WireSnapshot;
    try {
      snap = JSON.parse(data) as WireSnapshot;
    } catch (e) {
      void this.ack({ version: 'unparseable', error: `the snapshot is not JSON: ${(e as Error).message}` });
      return;
    }
    const r = this.target.applyWire(snap);
    if (!r.applied) {
      const error = r.diagnostics.slice(0, 5).map((d) => `${d.file ?? ''}${d.line ? `:${d.line}` : ''} ${d.message}`.trim()).join('; ');
      this.lastError = `snapshot ${snap.version} rejected: ${error}`;
      this.onError(this.lastError);
      void this.ack({ version: snap.version, error });
      return;
    }
    this.appliedVersion = snap.version;
    this.source = 'control';
    const bundle = snap.trustBundle.join('');
    const bundleChanged = bundle !== this.appliedBundle;
    this.appliedBundle = bundle;
    this.cache?.writeSnapshot(data);
    void this.ack({ version: snap.version });
    const spiffeId = this.spiffeId(snap);
    // A new trust bundle (root rotation) or a new identity: get a certificate that carries them.
    const renew = this.signed !== undefined && (bundleChanged || this.signed.current().spiffeId !== spiffeId);
    this.ensureIdentity(spiffeId, renew).then(() => this.checkReady(), (e: unknown) => this.identityFailed(e, spiffeId));
  }

  /**
   * The certificate could not be had (the CA refused or is away): try again on its own
   * schedule, 1 s doubling to 30 s, without touching the watch stream, which is fine.
   */
  private identityFailed(e: unknown, spiffeId: string): void {
    this.note(e);
    if (this.closed || this.identityTimer) return;
    const delay = Math.min(30_000, 1000 * 2 ** this.identityAttempt) * (0.5 + 0.5 * this.target.random());
    this.identityAttempt = Math.min(this.identityAttempt + 1, 10);
    this.identityTimer = setTimeout(() => {
      this.identityTimer = undefined;
      this.ensureIdentity(spiffeId).then(() => {
        this.identityAttempt = 0;
        this.checkReady();
      }, (err: unknown) => this.identityFailed(err, spiffeId));
    }, delay);
    this.identityTimer.unref();
  }

  /** Records (and reports, unless it is only the control service being away) an error. */
  private note(e: unknown): void {
    this.lastError = e instanceof Error ? e.message : String(e);
    if (!(e instanceof ControlUnreachable)) this.onError(this.lastError);
  }

  private spiffeId(snap: WireSnapshot): string {
    const w = this.registered!;
    return formatSpiffeId({ trustDomain: snap.mesh.trustDomain ?? 'cluster.local', namespace: w.namespace, serviceAccount: w.serviceAccount });
  }

  private async ensureIdentity(spiffeId: string, renew = false): Promise<void> {
    if (this.signed && this.signed.current().spiffeId === spiffeId) {
      if (renew) await this.signed.rotateNow();
      return;
    }
    // Asked again (the first snapshot arrived) while the same certificate is being signed: wait for it.
    const pending = this.identityInFlight;
    if (pending && pending.spiffeId === spiffeId) return pending.done;
    const done = this.createIdentity(spiffeId);
    this.identityInFlight = { spiffeId, done };
    try {
      await done;
    } finally {
      if (this.identityInFlight?.done === done) this.identityInFlight = undefined;
    }
  }
  private identityInFlight: { spiffeId: string; done: Promise<void> } | undefined;

  private async createIdentity(spiffeId: string): Promise<void> {
    const source = await createCaIdentitySource({ signer: remoteSigner(this.endpoint), spiffeId, initial: this.kept });
    this.kept = undefined;
    source.on('change', (m) => this.keep(m));
    source.on('error', (e) => this.onError(e.message));
    // Another identity (the trust domain or the service account changed): the old one stops renewing.
    const old = this.signed;
    this.signed = source;
    if (old) void old.close();
    this.keep(source.current());
    this.target.identity.set(source);
  }

  private keep(m: IdentityMaterial): void {
    this.cache?.writeIdentity(m);
  }

  private checkReady(): void {
    if (this.appliedVersion !== undefined && this.target.identity.ready) this.readyResolve();
  }

  /**
   * Acks go out one at a time, newest last: two in flight on separate connections could
   * arrive out of order and leave the control service believing an older version is in force.
   * While one is in flight only the newest waiting ack is kept.
   */
  private ack(a: WireAck): Promise<void> {
    this.pendingAck = a;
    if (!this.ackInFlight) this.ackInFlight = this.sendAcks().finally(() => { this.ackInFlight = undefined; });
    return this.ackInFlight;
  }

  private async sendAcks(): Promise<void> {
    while (this.pendingAck && !this.closed) {
      const a = this.pendingAck;
      this.pendingAck = undefined;
      const id = this.registered?.id;
      if (!id) return;
      await callControl(this.endpoint, 'POST', `/v1/workloads/${encodeURIComponent(id)}:ack`, a).catch(() => undefined);
    }
  }

  private fail(e: unknown): void {
    this.lastError = e instanceof Error ? e.message : String(e);
    const refused = !(e instanceof ControlUnreachable);
    if (refused) this.onError(this.lastError);
    this.retry(refused);
  }

  /** Jittered exponential backoff (see `backoff`). */
  private retry(refused = false): void {
    if (this.closed || this.retryTimer) return;
    const initial = refused ? 1000 : (this.o.backoff?.initialMs ?? 100);
    const max = refused ? 30_000 : (this.o.backoff?.maxMs ?? 500);
    const delay = Math.min(max, initial * 2 ** this.attempt) * (0.5 + 0.5 * this.target.random());
    this.attempt = Math.min(this.attempt + 1, 30);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}

function messageOf(body: string | undefined): string {
  try {
    const v = JSON.parse(body ?? '') as { message?: unknown };
    if (typeof v.message === 'string') return v.message;
  } catch {
    /* not JSON */
  }
  return (body ?? '').slice(0, 200);
}

/**
 * The address to register: the one the server listens on, unless it is a wildcard, then the
 * first external IPv4 address of the host (loopback when it has none).
 */
export function reachableAddress(listening: string | undefined): string {
  if (listening && listening !== '0.0.0.0' && listening !== '::' && listening !== '') return listening;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
