import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { hashToken, openSqliteStore, SCHEMA_VERSION, SQLITE_FILE, StoreError } from '../src/index.js';
import { dr, storeContract, vs } from './store-contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'meshwork-store-'));
  dirs.push(d);
  return join(d, 'data'); // not created yet: the store makes it
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

storeContract('sqlite-file', async () => {
  const dataDir = tempDir();
  return { shared: true, open: (o) => openSqliteStore({ dataDir, ...o }) };
});

storeContract('sqlite-memory', async () => ({ shared: false, open: (o) => openSqliteStore({ dataDir: ':memory:', ...o }) }));

describe('sqlite store on disk', () => {
  it('creates the data directory 0700 and the database (and its WAL files) 0600', async () => {
    const dataDir = tempDir();
    const store = await openSqliteStore({ dataDir });
    await store.applyBatch([vs('a')]);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dataDir);
    expect(files).toContain(SQLITE_FILE);
    expect(files).toContain(`${SQLITE_FILE}-wal`);
    for (const f of files) expect([f, statSync(join(dataDir, f)).mode & 0o777]).toEqual([f, 0o600]);
    await store.close();
  });

  it('starts at revision 0 and records its schema version', async () => {
    const dataDir = tempDir();
    const store = await openSqliteStore({ dataDir });
    expect(await store.revision()).toBe(0);
    expect((await store.applyBatch([vs('a')])).revision).toBe(1);
    await store.close();
    const db = new DatabaseSync(join(dataDir, SQLITE_FILE));
    expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SCHEMA_VERSION }]);
    db.close();
  });

  it('never writes a raw join token to disk', async () => {
    const dataDir = tempDir();
    const raw = 'mwj_Very-Secret-Join-Token-4242';
    const store = await openSqliteStore({ dataDir });
    await store.putToken({ hash: hashToken(raw), namespace: 'default', serviceAccount: 'reviews', expiresAtMs: 1, createdAtMs: 0 });
    const scan = () => {
      const bytes = Buffer.concat(readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f))));
      return { raw: bytes.includes(raw), hash: bytes.includes(hashToken(raw)) };
    };
    expect(scan()).toEqual({ raw: false, hash: true }); // WAL still open
    await store.close();
    expect(scan()).toEqual({ raw: false, hash: true }); // checkpointed into the main file
  });

  it('refuses a database written by a newer schema, naming the directory and both versions', async () => {
    const dataDir = tempDir();
    await (await openSqliteStore({ dataDir })).close();
    const db = new DatabaseSync(join(dataDir, SQLITE_FILE));
    db.exec(`UPDATE schema_version SET version = ${SCHEMA_VERSION + 41}`);
    db.close();
    const err = await openSqliteStore({ dataDir }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ reason: 'schema_too_new' });
    const message = (err as Error).message;
    expect(message).toContain(dataDir);
    expect(message).toContain(`schema version ${SCHEMA_VERSION + 41}`);
    expect(message).toContain(`version ${SCHEMA_VERSION} this build`);
  });

  it('migrates a schema-1 store: resources without creationTimestamp get one, and re-applying them stays unchanged', async () => {
    const dataDir = tempDir();
    const store = await openSqliteStore({ dataDir });
    const first = await store.applyBatch([vs('a')]);
    await store.close();
    // What a schema-1 database held: no creationTimestamp.
    const db = new DatabaseSync(join(dataDir, SQLITE_FILE));
    db.exec(`UPDATE resources SET doc = json_remove(doc, '$.metadata.creationTimestamp'); UPDATE schema_version SET version = 1`);
    db.close();
    const before = Date.now();
    const again = await openSqliteStore({ dataDir });
    const stamp = (await again.get({ kind: 'VirtualService', namespace: 'default', name: 'a' }))?.metadata.creationTimestamp;
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(stamp!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect((await again.applyBatch([vs('a')])).results[0]).toMatchObject({ status: 'unchanged', resourceVersion: String(first.revision) });
    await again.close();
    const check = new DatabaseSync(join(dataDir, SQLITE_FILE));
    expect(check.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SCHEMA_VERSION }]);
    check.close();
  });

  it('a failure inside the transaction after the first inserts leaves nothing half-applied', async () => {
    const dataDir = tempDir();
    const store = await openSqliteStore({ dataDir });
    await store.applyBatch([vs('keep')]);
    // The database itself fails on the 3rd insert, after two rows (and their changes) were written.
    const db = new DatabaseSync(join(dataDir, SQLITE_FILE));
    db.exec(`CREATE TRIGGER boom BEFORE INSERT ON resources WHEN NEW.name = 'c' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    await expect(store.applyBatch([vs('a'), dr('b'), vs('c')])).rejects.toThrow(/disk on fire/);
    db.exec('DROP TRIGGER boom');
    db.close();
    expect((await store.list()).map((r) => r.metadata.name)).toEqual(['keep']);
    expect(await store.revision()).toBe(1);
    expect((await store.changesSince(1)).changes).toEqual([]);
    // The store is still usable afterwards.
    expect((await store.applyBatch([vs('a')])).revision).toBe(2);
    await store.close();
  });

  it('a process killed mid-transaction leaves nothing half-applied', async () => {
    const dataDir = tempDir();
    const store = await openSqliteStore({ dataDir });
    await store.applyBatch([vs('keep')]);
    await store.close();
    const child = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', `
      import { DatabaseSync } from 'node:sqlite';
      const db = new DatabaseSync(${JSON.stringify(join(dataDir, SQLITE_FILE))});
      db.exec('BEGIN IMMEDIATE');
      db.exec("INSERT INTO resources VALUES ('VirtualService','default','half','{}','x','x',1,2)");
      db.exec("UPDATE meta SET v = 2 WHERE k = 'revision'");
      process.kill(process.pid, 'SIGKILL');
    `]);
    expect(child.signal).toBe('SIGKILL');
    const again = await openSqliteStore({ dataDir });
    expect((await again.list()).map((r) => r.metadata.name)).toEqual(['keep']);
    expect(await again.revision()).toBe(1);
    await again.close();
  });

  it('refuses calls after close', async () => {
    const store = await openSqliteStore({ dataDir: ':memory:' });
    await store.close();
    await expect(store.revision()).rejects.toMatchObject({ reason: 'unavailable' });
    await store.close(); // idempotent
  });
});
