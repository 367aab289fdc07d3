import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StoreError } from './errors.js';
import { canonicalJson, checkKey, keyOfDoc, resourceKeyString, sha256, TOKEN_HASH } from './keys.js';
import { migrate } from './sqlite-schema.js';
import type {
  AckInput, AckRecord, ApplyOptions, ApplyResult, Change, ChangesResult, ControlStore, DeleteResult, JoinTokenRecord,
  ListFilter, ResourceDoc, ResourceKey, StoredResource, UpsertWorkloadResult, Workload, WorkloadInput,
} from './types.js';

export interface SqliteStoreOptions {
  /** Directory of the database (created 0700), or `':memory:'` for a throwaway store. */
  dataDir: string;
  /** How many revisions of change history to keep for `changesSince` (default 10,000). */
  historyRevisions?: number | undefined;
  /** How long a writer waits for another process's lock, in ms (default 5,000). */
  busyTimeoutMs?: number | undefined;
  /** The clock for `metadata.creationTimestamp`, in milliseconds since the epoch (default `Date.now`). */
  now?: (() => number) | undefined;
}

/** The database file inside the data directory. */
export const SQLITE_FILE = 'control.db';

const SERVER_FIELDS = ['resourceVersion', 'generation'] as const;

interface ResourceRow { doc: string; content_hash: string; spec_hash: string; generation: number; mod_revision: number; created: string | null }
interface WorkloadRow { id: string; data: string; last_heartbeat: number; mod_revision: number }

const contentHashOf = (s: string): string => sha256(s).toString('hex');

/**
 * The document without the fields the store manages, and its spec (everything but apiVersion,
 * kind, metadata, status). creationTimestamp is compared on its own (a document without one
 * keeps the stored one), so it is out of the content too.
 */
function contentAndSpec(doc: ResourceDoc): { content: ResourceDoc; spec: Record<string, unknown>; creationTimestamp: unknown } {
  const metadata: Record<string, unknown> = { ...doc.metadata };
  for (const f of SERVER_FIELDS) delete metadata[f];
  const creationTimestamp = metadata.creationTimestamp;
  delete metadata.creationTimestamp;
  const content = { ...doc, metadata } as ResourceDoc;
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...spec } = content;
  return { content, spec, creationTimestamp };
}

// RFC 3339 (Kubernetes metav1.Time): date, 'T', time, optional fraction, 'Z' or an offset.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Kubernetes' form of a creationTimestamp: RFC 3339 in UTC, whole seconds (`2024-05-01T12:00:00Z`). */
function rfc3339Seconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Opens (creating or migrating) the embedded store: `<dataDir>/control.db`, file mode 0600,
 * WAL journal, busy timeout. Needs Node >= 22.13 (`node:sqlite`); loaded lazily so the
 * package still imports on older Node.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<ControlStore> {
  let sqlite: typeof import('node:sqlite');
  try {
    sqlite = await import('node:sqlite');
  } catch (cause) {
    throw new StoreError(`the embedded store needs node:sqlite (Node >= 22.13); this is Node ${process.versions.node}`, { reason: 'unavailable', cause });
  }
  const memory = options.dataDir === ':memory:';
  let path = ':memory:';
  if (!memory) {
    const created = mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    if (created !== undefined) chmodSync(options.dataDir, 0o700); // umask may have widened nothing, but be exact
    path = join(options.dataDir, SQLITE_FILE);
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600); // SQLite gives the -wal and -shm files the same mode
  }
  const db = new sqlite.DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5_000 });
  try {
    if (!memory) db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
    migrate(db, memory ? 'memory' : options.dataDir);
  } catch (e) {
    db.close();
    throw e;
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    db.close();
    throw new StoreError('now must be a function returning milliseconds since the epoch', { reason: 'invalid' });
  }
  return new SqliteStore(db, options.historyRevisions ?? 10_000, options.now ?? Date.now);
}

class SqliteStore implements ControlStore {
  readonly #db: DatabaseSync;
  readonly #history: number;
  readonly #q: Record<string, StatementSync>;
  readonly #now: () => number;
  #closed = false;

  constructor(db: DatabaseSync, history: number, now: () => number) {
    if (!Number.isInteger(history) || history < 1) throw new StoreError(`historyRevisions must be a positive integer, got ${history}`, { reason: 'invalid' });
    this.#db = db;
    this.#history = history;
    this.#now = now;
    const p = (sql: string) => db.prepare(sql);
    this.#q = {
      meta: p('SELECT v FROM meta WHERE k = ?'),
      setMeta: p('UPDATE meta SET v = ? WHERE k = ?'),
      getRes: p(`SELECT doc, content_hash, spec_hash, generation, mod_revision, json_extract(doc, '$.metadata.creationTimestamp') AS created
        FROM resources WHERE kind = ? AND namespace = ? AND name = ?`),
      putRes: p(`INSERT INTO resources (kind, namespace, name, doc, content_hash, spec_hash, generation, mod_revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (kind, namespace, name) DO UPDATE SET doc = excluded.doc, content_hash = excluded.content_hash, spec_hash = excluded.spec_hash,
        generation = excluded.generation, mod_revision = excluded.mod_revision`),
      delRes: p('DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?'),
      listAll: p('SELECT doc FROM resources ORDER BY kind, namespace, name'),
      listKind: p('SELECT doc FROM resources WHERE kind = ? ORDER BY kind, namespace, name'),
      listNs: p('SELECT doc FROM resources WHERE namespace = ? ORDER BY kind, namespace, name'),
      listKindNs: p('SELECT doc FROM resources WHERE kind = ? AND namespace = ? ORDER BY kind, namespace, name'),
      addChange: p('INSERT INTO changes (revision, type, op, data) VALUES (?, ?, ?, ?)'),
      changes: p('SELECT revision, type, op, data FROM changes WHERE revision > ? ORDER BY seq'),
      prune: p('DELETE FROM changes WHERE revision <= ?'),
      getWl: p('SELECT id, data, last_heartbeat, mod_revision FROM workloads WHERE id = ?'),
      putWl: p(`INSERT INTO workloads (id, data, last_heartbeat, mod_revision) VALUES (?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET data = excluded.data, last_heartbeat = excluded.last_heartbeat, mod_revision = excluded.mod_revision`),
      beat: p('UPDATE workloads SET last_heartbeat = MAX(last_heartbeat, ?) WHERE id = ?'),
      delWl: p('DELETE FROM workloads WHERE id = ?'),
      listWl: p('SELECT id, data, last_heartbeat, mod_revision FROM workloads ORDER BY id'),
      putToken: p(`INSERT INTO tokens (hash, namespace, service_account, expires_at, created_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (hash) DO UPDATE SET namespace = excluded.namespace, service_account = excluded.service_account,
        expires_at = excluded.expires_at, created_at = excluded.created_at`),
      getToken: p('SELECT hash, namespace, service_account, expires_at, created_at FROM tokens WHERE hash = ?'),
      delToken: p('DELETE FROM tokens WHERE hash = ?'),
      putAck: p(`INSERT INTO acks (workload, version, nack, at, acked_version, acked_at) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (workload) DO UPDATE SET version = excluded.version, nack = excluded.nack, at = excluded.at,
        acked_version = COALESCE(excluded.acked_version, acks.acked_version), acked_at = COALESCE(excluded.acked_at, acks.acked_at)`),
      delAck: p('DELETE FROM acks WHERE workload = ?'),
      listAcks: p('SELECT workload, version, nack, at, acked_version, acked_at FROM acks ORDER BY workload'),
    };
  }

  /** BEGIN IMMEDIATE takes the write lock first, so reads inside see the latest revision. */
  #tx<T>(fn: () => T): T {
    if (this.#closed) throw new StoreError('the store is closed', { reason: 'unavailable' });
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw e;
    }
  }

  #meta(k: 'revision' | 'compacted'): number {
    return Number((this.#q.meta!.get(k) as { v: number }).v);
  }

  /** Moves the global revision forward and drops history older than the kept window. */
  #commitRevision(rev: number): void {
    this.#q.setMeta!.run(rev, 'revision');
    const floor = rev - this.#history;
    if (floor > this.#meta('compacted')) {
      this.#q.prune!.run(floor);
      this.#q.setMeta!.run(floor, 'compacted');
    }
  }

  #read<T>(fn: () => T): T {
    if (this.#closed) throw new StoreError('the store is closed', { reason: 'unavailable' });
    return fn();
  }

  async applyBatch(docs: readonly ResourceDoc[], options?: ApplyOptions): Promise<ApplyResult> {
    // Everything that can fail on the input fails before the transaction starts.
    const seen = new Set<string>();
    const prepared = docs.map((doc, i) => {
      const key = keyOfDoc(doc, i);
      const ks = resourceKeyString(key);
      if (seen.has(ks)) throw new StoreError(`${ks} appears twice in the batch; nothing was applied`, { reason: 'invalid', key });
      seen.add(ks);
      const { content, spec, creationTimestamp } = contentAndSpec(doc);
      if (creationTimestamp !== undefined && (typeof creationTimestamp !== 'string' || !RFC3339.test(creationTimestamp) || Number.isNaN(Date.parse(creationTimestamp)))) {
        throw new StoreError(`${ks}: metadata.creationTimestamp must be an RFC 3339 time such as 2024-05-01T12:00:00Z (or left out: the store sets it); nothing was applied`, { reason: 'invalid', key });
      }
      let contentHash: string, specHash: string;
      try {
        contentHash = contentHashOf(canonicalJson(content));
        specHash = contentHashOf(canonicalJson(spec));
      } catch (cause) {
        throw new StoreError(`${ks} is not plain JSON; nothing was applied`, { reason: 'invalid', key, cause });
      }
      return { key, ks, content, contentHash, specHash, creationTimestamp: creationTimestamp as string | undefined };
    });
    const expected = options?.expected ?? {};
    return this.#tx(() => {
      const rev = this.#meta('revision');
      let nowStamp: string | undefined;
      const next = rev + 1;
      let changed = false;
      const results: ApplyResult['results'] = [];
      for (const d of prepared) {
        const row = this.#q.getRes!.get(d.key.kind, d.key.namespace, d.key.name) as ResourceRow | undefined;
        const actual = row ? String(row.mod_revision) : '0';
        const want = expected[d.ks];
        if (want !== undefined && want !== actual) {
          throw new StoreError(`${d.ks} has resourceVersion ${actual === '0' ? '(none: it does not exist)' : actual}, not ${want}; nothing was applied`, { reason: 'conflict', key: d.key, expected: want, actual });
        }
        // Kubernetes: set on create; a document without one keeps the stored one.
        const created = d.creationTimestamp ?? row?.created ?? (nowStamp ??= rfc3339Seconds(this.#now()));
        if (row && row.content_hash === d.contentHash && row.created === created) {
          results.push({ key: d.key, status: 'unchanged', resourceVersion: actual, generation: Number(row.generation) });
          continue;
        }
        const generation = !row ? 1 : Number(row.generation) + (row.spec_hash === d.specHash ? 0 : 1);
        const stored = { ...d.content, metadata: { ...d.content.metadata, creationTimestamp: created, resourceVersion: String(next), generation } } as StoredResource;
        const json = JSON.stringify(stored);
        this.#q.putRes!.run(d.key.kind, d.key.namespace, d.key.name, json, d.contentHash, d.specHash, generation, next);
        this.#q.addChange!.run(next, 'resource', 'put', json);
        results.push({ key: d.key, status: row ? 'configured' : 'created', resourceVersion: String(next), generation });
        changed = true;
      }
      if (changed) this.#commitRevision(next);
      return { revision: changed ? next : rev, results };
    });
  }

  async deleteBatch(keys: readonly ResourceKey[], options?: ApplyOptions): Promise<DeleteResult> {
    for (const k of keys) checkKey(k);
    const expected = options?.expected ?? {};
    return this.#tx(() => {
      const rev = this.#meta('revision');
      const next = rev + 1;
      let changed = false;
      const results: DeleteResult['results'] = [];
      for (const k of keys) {
        const key = { kind: k.kind, namespace: k.namespace, name: k.name };
        const ks = resourceKeyString(key);
        const row = this.#q.getRes!.get(key.kind, key.namespace, key.name) as ResourceRow | undefined;
        const actual = row ? String(row.mod_revision) : '0';
        const want = expected[ks];
        if (want !== undefined && want !== actual) {
          throw new StoreError(`${ks} has resourceVersion ${actual === '0' ? '(none: it does not exist)' : actual}, not ${want}; nothing was deleted`, { reason: 'conflict', key, expected: want, actual });
        }
        if (!row) {
          results.push({ key, status: 'not-found' });
          continue;
        }
        this.#q.delRes!.run(key.kind, key.namespace, key.name);
        this.#q.addChange!.run(next, 'resource', 'delete', JSON.stringify(key));
        results.push({ key, status: 'deleted' });
        changed = true;
      }
      if (changed) this.#commitRevision(next);
      return { revision: changed ? next : rev, results };
    });
  }

  async get(key: ResourceKey): Promise<StoredResource | undefined> {
    checkKey(key);
    return this.#read(() => {
      const row = this.#q.getRes!.get(key.kind, key.namespace, key.name) as ResourceRow | undefined;
      return row ? (JSON.parse(row.doc) as StoredResource) : undefined;
    });
  }

  async list(filter: ListFilter = {}): Promise<StoredResource[]> {
    return this.#read(() => {
      const { kind, namespace } = filter;
      const rows = (kind !== undefined && namespace !== undefined ? this.#q.listKindNs!.all(kind, namespace)
        : kind !== undefined ? this.#q.listKind!.all(kind)
        : namespace !== undefined ? this.#q.listNs!.all(namespace)
        : this.#q.listAll!.all()) as Array<{ doc: string }>;
      return rows.map((r) => JSON.parse(r.doc) as StoredResource);
    });
  }

  async revision(): Promise<number> {
    return this.#read(() => this.#meta('revision'));
  }

  async upsertWorkload(input: WorkloadInput, atMs: number = Date.now()): Promise<UpsertWorkloadResult> {
    const w = normaliseWorkload(input);
    const data = canonicalJson(w);
    return this.#tx(() => {
      const rev = this.#meta('revision');
      const row = this.#q.getWl!.get(w.id) as WorkloadRow | undefined;
      if (row && row.data === data) {
        this.#q.beat!.run(atMs, w.id);
        return { revision: rev, status: 'unchanged' as const };
      }
      const next = rev + 1;
      this.#q.putWl!.run(w.id, data, atMs, next);
      const workload: Workload = { ...w, lastHeartbeatMs: atMs, revision: next };
      this.#q.addChange!.run(next, 'workload', 'put', JSON.stringify(workload));
      this.#commitRevision(next);
      return { revision: next, status: row ? ('configured' as const) : ('created' as const) };
    });
  }

  async heartbeat(id: string, atMs: number): Promise<boolean> {
    return this.#read(() => Number(this.#q.beat!.run(atMs, id).changes) > 0);
  }

  async deleteWorkload(id: string): Promise<boolean> {
    return this.#tx(() => {
      if (Number(this.#q.delWl!.run(id).changes) === 0) return false;
      this.#q.delAck!.run(id);
      const next = this.#meta('revision') + 1;
      this.#q.addChange!.run(next, 'workload', 'delete', JSON.stringify({ id }));
      this.#commitRevision(next);
      return true;
    });
  }

  async getWorkload(id: string): Promise<Workload | undefined> {
    return this.#read(() => {
      const row = this.#q.getWl!.get(id) as WorkloadRow | undefined;
      return row ? rowToWorkload(row) : undefined;
    });
  }

  async listWorkloads(): Promise<Workload[]> {
    return this.#read(() => (this.#q.listWl!.all() as unknown as WorkloadRow[]).map(rowToWorkload));
  }

  async changesSince(revision: number): Promise<ChangesResult> {
    if (!Number.isInteger(revision) || revision < 0) throw new StoreError(`a revision is a non-negative integer, got ${revision}`, { reason: 'invalid' });
    // One read transaction so the rows and the current revision agree.
    return this.#tx(() => {
      const compacted = this.#meta('compacted');
      if (revision < compacted) {
        throw new StoreError(`revision ${revision} has been compacted; the oldest revision to resume from is ${compacted}`, { reason: 'compacted', compactedRevision: compacted });
      }
      const rows = this.#q.changes!.all(revision) as Array<{ revision: number; type: string; op: string; data: string }>;
      const changes = rows.map((r): Change => {
        const rv = Number(r.revision);
        const data = JSON.parse(r.data) as Record<string, unknown>;
        if (r.type === 'resource') {
          if (r.op === 'put') {
            const resource = data as unknown as StoredResource;
            return { revision: rv, type: 'resource', op: 'put', key: { kind: resource.kind, namespace: resource.metadata.namespace, name: resource.metadata.name }, resource };
          }
          return { revision: rv, type: 'resource', op: 'delete', key: data as unknown as ResourceKey };
        }
        if (r.op === 'put') return { revision: rv, type: 'workload', op: 'put', id: String(data.id), workload: data as unknown as Workload };
        return { revision: rv, type: 'workload', op: 'delete', id: String(data.id) };
      });
      return { revision: this.#meta('revision'), changes };
    });
  }

  async putToken(t: JoinTokenRecord): Promise<void> {
    if (typeof t.hash !== 'string' || !TOKEN_HASH.test(t.hash)) {
      throw new StoreError('a join token is stored by its sha256 (64 lower-case hex characters, see hashToken), never in the clear', { reason: 'invalid' });
    }
    if (!t.namespace || !t.serviceAccount || !Number.isFinite(t.expiresAtMs) || !Number.isFinite(t.createdAtMs)) {
      throw new StoreError('a join token needs namespace, serviceAccount, expiresAtMs and createdAtMs', { reason: 'invalid' });
    }
    this.#read(() => this.#q.putToken!.run(t.hash, t.namespace, t.serviceAccount, t.expiresAtMs, t.createdAtMs));
  }

  async findToken(hash: string): Promise<JoinTokenRecord | undefined> {
    return this.#read(() => {
      const r = this.#q.getToken!.get(hash) as { hash: string; namespace: string; service_account: string; expires_at: number; created_at: number } | undefined;
      return r ? { hash: r.hash, namespace: r.namespace, serviceAccount: r.service_account, expiresAtMs: Number(r.expires_at), createdAtMs: Number(r.created_at) } : undefined;
    });
  }

  async deleteToken(hash: string): Promise<boolean> {
    return this.#read(() => Number(this.#q.delToken!.run(hash).changes) > 0);
  }

  async recordAck(ack: AckInput): Promise<void> {
    if (!ack.workload || typeof ack.version !== 'string' || !Number.isFinite(ack.atMs)) {
      throw new StoreError('an ack needs workload, version and atMs', { reason: 'invalid' });
    }
    const nack = ack.nack ?? null;
    this.#read(() => this.#q.putAck!.run(ack.workload, ack.version, nack, ack.atMs, nack === null ? ack.version : null, nack === null ? ack.atMs : null));
  }

  async listAcks(): Promise<AckRecord[]> {
    return this.#read(() =>
      (this.#q.listAcks!.all() as Array<{ workload: string; version: string; nack: string | null; at: number; acked_version: string | null; acked_at: number | null }>).map((r) => {
        const out: AckRecord = { workload: r.workload, version: r.version, atMs: Number(r.at) };
        if (r.nack !== null) out.nack = r.nack;
        if (r.acked_version !== null) out.ackedVersion = r.acked_version;
        if (r.acked_at !== null) out.ackedAtMs = Number(r.acked_at);
        return out;
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}

function normaliseWorkload(w: WorkloadInput): WorkloadInput {
  const str = (v: unknown, field: string, allowEmpty = false): string => {
    if (typeof v !== 'string' || (!allowEmpty && v.length === 0)) throw new StoreError(`a workload needs ${field} (a string)`, { reason: 'invalid' });
    return v;
  };
  const record = <T>(v: unknown, field: string, ok: (x: unknown) => x is T): Record<string, T> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every(ok)) throw new StoreError(`a workload's ${field} is an object of name → value`, { reason: 'invalid' });
    return { ...(v as Record<string, T>) };
  };
  const out: WorkloadInput = {
    id: str(w?.id, 'id'),
    namespace: str(w.namespace, 'namespace'),
    name: str(w.name, 'name'),
    address: str(w.address, 'address'),
    ports: record(w.ports, 'ports', (x): x is number => Number.isInteger(x) && (x as number) > 0 && (x as number) < 65536),
    labels: record(w.labels, 'labels', (x): x is string => typeof x === 'string'),
    serviceAccount: str(w.serviceAccount, 'serviceAccount'),
    locality: str(w.locality ?? '', 'locality', true),
  };
  if (w.group !== undefined) out.group = str(w.group, 'group');
  if (w.network !== undefined && w.network !== '') out.network = str(w.network, 'network');
  if (w.weight !== undefined) {
    if (!Number.isInteger(w.weight) || w.weight < 1) throw new StoreError("a workload's weight is a positive integer", { reason: 'invalid' });
    out.weight = w.weight;
  }
  return out;
}

function rowToWorkload(r: WorkloadRow): Workload {
  return { ...(JSON.parse(r.data) as WorkloadInput), lastHeartbeatMs: Number(r.last_heartbeat), revision: Number(r.mod_revision) };
}
