import type { DatabaseSync } from 'node:sqlite';
import { StoreError } from './errors.js';

/**
 * Migrations by target version: MIGRATIONS[0] creates version 1. Append, never edit: a
 * database remembers the version it reached in `schema_version`.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
  INSERT INTO meta (k, v) VALUES ('revision', 0), ('compacted', 0);
  CREATE TABLE resources (
    kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    doc TEXT NOT NULL, content_hash TEXT NOT NULL, spec_hash TEXT NOT NULL,
    generation INTEGER NOT NULL, mod_revision INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, name)
  ) WITHOUT ROWID;
  CREATE INDEX resources_by_namespace ON resources (namespace, kind, name);
  CREATE TABLE workloads (
    id TEXT PRIMARY KEY, data TEXT NOT NULL, last_heartbeat INTEGER NOT NULL, mod_revision INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL,
    type TEXT NOT NULL, op TEXT NOT NULL, data TEXT NOT NULL
  );
  CREATE INDEX changes_by_revision ON changes (revision);
  CREATE TABLE tokens (
    hash TEXT PRIMARY KEY, namespace TEXT NOT NULL, service_account TEXT NOT NULL,
    expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE acks (
    workload TEXT PRIMARY KEY, version TEXT NOT NULL, nack TEXT, at INTEGER NOT NULL,
    acked_version TEXT, acked_at INTEGER
  ) WITHOUT ROWID;
  `,
  // 2: every resource has metadata.creationTimestamp (Istio orders conflicting resources by
  // it). Resources stored before get the migration's time. The content hash leaves it out,
  // so an unchanged re-apply stays unchanged.
  `
  UPDATE resources SET doc = json_set(doc, '$.metadata.creationTimestamp', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    WHERE json_type(doc, '$.metadata.creationTimestamp') IS NULL;
  `,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Creates or migrates the schema in one transaction; refuses a database from a newer build. */
export function migrate(db: DatabaseSync, where: string): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null } | undefined;
    const current = Number(row?.v ?? 0);
    if (current > SCHEMA_VERSION) {
      throw new StoreError(
        `the store in ${where} has schema version ${current}, newer than version ${SCHEMA_VERSION} this build of @meshwork/control knows; upgrade meshwork or use another data directory`,
        { reason: 'schema_too_new' },
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (current < SCHEMA_VERSION) {
      db.exec('DELETE FROM schema_version');
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}
