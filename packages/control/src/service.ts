/**
 * `meshwork control` as a function: the store in a data directory, the CA, the snapshot hub
 * and the API over HTTPS, started together and stopped together. The CLI is a thin shell
 * around it; tests and the demo start it in-process.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { CertificateAuthority } from '@meshwork/identity';
import type { MeshConfig } from '@meshwork/policy';
import { openControlCa } from './ca.js';
import { createControlServer } from './api/server.js';
import type { RateLimitOptions } from './api/rate-limit.js';
import { DEFAULT_HEARTBEAT_TTL_MS } from './registry-view.js';
import { SnapshotHub } from './snapshots.js';
import { openSqliteStore } from './store/sqlite-store.js';
import type { ControlStore } from './store/types.js';
import { controlTlsOptions } from './tls.js';

/** The port `meshwork control` listens on by default (istiod serves its CA and XDS on 15012). */
export const DEFAULT_CONTROL_PORT = 15012;
/** The admin token's file in the data directory, when none is given. */
export const ADMIN_TOKEN_FILE = 'admin-token';

export interface ControlServiceOptions {
  /** Where the store, the CA and the admin token live (created 0700). */
  dataDir: string;
  /** Default 127.0.0.1; `0.0.0.0` to serve other machines (add their names to `hosts`). */
  host?: string | undefined;
  /** Default 15012; 0 picks a free port. */
  port?: number | undefined;
  /** The admin token itself (at least 16 characters). */
  adminToken?: string | undefined;
  /** A file holding the admin token. Without either, `<dataDir>/admin-token` is read, or made (0600). */
  adminTokenFile?: string | undefined;
  /** Istio's plug-in `cacerts` folder (else a self-signed root in `<dataDir>/ca`). */
  caCertsDir?: string | undefined;
  /** Names and addresses clients use, for the HTTPS certificate (localhost and loopback are always in). */
  hosts?: readonly string[] | undefined;
  /** Mesh-wide settings sent to every workload (trustDomain, rootNamespace, outboundTrafficPolicy...). */
  mesh?: Partial<MeshConfig> | undefined;
  /** Serve plain HTTP instead of HTTPS (local experiments only; default false). */
  insecure?: boolean | undefined;
  heartbeatTtlMs?: number | undefined;
  /** Watch streams send a heartbeat comment this often (default 15 s). */
  watchHeartbeatMs?: number | undefined;
  /** How often the hub looks for expired heartbeats and writes by other processes (default 1 s). */
  pollIntervalMs?: number | undefined;
  rateLimit?: RateLimitOptions | false | undefined;
  maxBodyBytes?: number | undefined;
  now?: (() => number) | undefined;
}

export interface ControlService {
  /** `https://127.0.0.1:<port>` (the address it listens on). */
  url: string;
  port: number;
  server: Server;
  store: ControlStore;
  hub: SnapshotHub;
  ca: CertificateAuthority;
  /** The trust bundle on disk: what CLIs and SDKs pass as their CA file. */
  rootCertPath: string;
  /** Where the admin token was read or written, when it lives in a file. */
  adminTokenPath: string | undefined;
  close(): Promise<void>;
}

function readAdminToken(o: ControlServiceOptions): { token: string; path: string | undefined } {
  if (o.adminToken !== undefined) return { token: o.adminToken, path: undefined };
  const path = o.adminTokenFile ?? join(o.dataDir, ADMIN_TOKEN_FILE);
  try {
    return { token: readFileSync(path, 'utf8').trim(), path };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || o.adminTokenFile !== undefined) {
      throw new Error(`cannot read the admin token from ${path}: ${(e as Error).message}`);
    }
  }
  // First start: make one, readable by its owner only.
  const token = `mwa_${randomBytes(32).toString('base64url')}`;
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return { token, path };
}

/** Starts the control service; resolves once it listens. */
export async function startControlService(o: ControlServiceOptions): Promise<ControlService> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const { token, path: adminTokenPath } = readAdminToken(o);
  const now = o.now ?? Date.now;
  const trustDomain = o.mesh?.trustDomain;
  const store = await openSqliteStore({ dataDir: o.dataDir, now });
  let hub: SnapshotHub | undefined;
  try {
    const control = await openControlCa({ dataDir: o.dataDir, caCertsDir: o.caCertsDir, trustDomain, now });
    const heartbeatTtlMs = o.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS;
    hub = new SnapshotHub({
      store,
      mesh: o.mesh,
      trustBundle: control.trustBundle,
      heartbeatTtlMs,
      now,
      pollIntervalMs: o.pollIntervalMs,
      onError: (e) => process.emitWarning(`snapshot rebuild failed (the last snapshots keep serving): ${(e as Error).message}`, { code: 'MESHWORK_CONTROL' }),
    });
    const tls = o.insecure ? undefined : await controlTlsOptions(control.ca, { hosts: o.hosts });
    const server = createControlServer({
      store,
      adminToken: token,
      ca: control.ca,
      tls,
      hub,
      heartbeatTtlMs,
      watchHeartbeatMs: o.watchHeartbeatMs,
      rateLimit: o.rateLimit,
      maxBodyBytes: o.maxBodyBytes,
      now,
    });
    const host = o.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? DEFAULT_CONTROL_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    let closed = false;
    return {
      url: `${o.insecure ? 'http' : 'https'}://${shownHost}:${port}`,
      port,
      server,
      store,
      hub: hub!,
      ca: control.ca,
      rootCertPath: control.rootCertPath,
      adminTokenPath,
      async close() {
        if (closed) return;
        closed = true;
        hub!.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await store.close();
      },
    };
  } catch (e) {
    // Nothing keeps running after a failed start (e.g. the port is taken): the hub's poll
    // would otherwise warn about the closed store every second.
    hub?.close();
    await store.close();
    throw e;
  }
}
