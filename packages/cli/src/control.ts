/**
 * `meshwork control`: runs the control service (`startControlService` of @meshwork/control)
 * in this process until SIGINT or SIGTERM (or `io.signal`, for tests and embedding), then
 * closes it. On start it says where it listens, where the CA bundle and the admin token are
 * (never the token itself) and what to run next; `--json` prints one JSON line instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE, DEFAULT_CONTROL_PORT, startControlService, type ControlService } from '@meshwork/control';
import { DEFAULT_CONTROL_URL } from './client.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

/** The data directory when neither `--data-dir` nor MESHWORK_DATA_DIR is given. */
export const DEFAULT_DATA_DIR = './meshwork-data';
export const DEFAULT_CONTROL_HOST = '127.0.0.1';
/** The control service refuses shorter admin tokens. */
const MIN_ADMIN_TOKEN_LENGTH = 16;

/** What `meshwork control --json` prints once it listens: one line, for scripts and tests. */
export interface ControlReady {
  url: string;
  port: number;
  /** The trust bundle: clients' `--ca-file`, workloads' MESHWORK_CONTROL_CA. */
  rootCertPath: string;
  /** The file holding the admin token (the token is never printed). */
  adminTokenPath: string;
  /** Absolute. */
  dataDir: string;
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_CONTROL_PORT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n > 65535) throw new UsageError(`--port: "${raw}" is not a port number (0-65535; 0 picks a free one)`);
  return n;
}

/** `--hosts a,b` (repeatable): the names and addresses clients use, for the HTTPS certificate. */
function parseHosts(raw: string[] | undefined): string[] {
  const hosts = (raw ?? []).flatMap((h) => h.split(',')).map((h) => h.trim()).filter((h) => h !== '');
  for (const h of hosts) if (/[\s/]/.test(h)) throw new UsageError(`--hosts: "${h}" is not a host name or address`);
  return hosts;
}

/**
 * The admin token file must be readable and hold a usable token; checked here so that the
 * mistake is one clear line (the service would say it in terms of its own options).
 */
function checkAdminTokenFile(path: string, given: boolean): void {
  if (!given && !existsSync(path)) return; // the service makes one on the first start
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the admin token file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const token = text.trim();
  if (token.length < MIN_ADMIN_TOKEN_LENGTH) throw new UsageError(`the admin token in ${path} is ${token === '' ? 'empty' : 'too short'}: it needs at least ${MIN_ADMIN_TOKEN_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`the admin token in ${path} holds whitespace or characters a bearer token cannot`);
}

/** A failure to start, in one line: the listen errors users meet get their cause and a fix. */
function startFailure(e: unknown, host: string, port: number): string {
  const err = e as NodeJS.ErrnoException;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err?.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${where}: the address is already in use (another meshwork control? choose another --port)`;
    case 'EACCES':
      return `cannot listen on ${where}: permission denied (ports below 1024 need privileges; choose another --port)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: the address is not on this machine (check --host)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where}: --host "${host}" does not resolve`;
    default:
      return `cannot start the control service: ${String(err?.message ?? e).replace(/\s+/g, ' ').trim()}`;
  }
}

/**
 * Resolves on the first of: `signal` aborting, or (without one) SIGINT or SIGTERM. Without a
 * signal of its own the handlers are the process's, for as long as the command runs; after
 * the first, a second SIGINT is the default one again (stops at once).
 */
function stopRequested(signal: AbortSignal | undefined): { stopped: Promise<string>; dispose(): void } {
  if (signal) {
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<string>((ok) => {
      if (signal.aborted) return ok('stop requested');
      onAbort = () => ok('stop requested');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return { stopped, dispose: () => onAbort && signal.removeEventListener('abort', onAbort) };
  }
  const names = ['SIGINT', 'SIGTERM'] as const;
  let handler: ((name: NodeJS.Signals) => void) | undefined;
  const dispose = (): void => {
    for (const n of names) if (handler) process.off(n, handler);
  };
  const stopped = new Promise<string>((ok) => {
    handler = (name) => {
      dispose();
      ok(`${name} received`);
    };
    for (const n of names) process.on(n, handler);
  });
  return { stopped, dispose };
}

/** The client flags that reach this service with the admin token and the CA. */
function clientFlags(s: ControlService, dataDir: string, insecure: boolean): string {
  const url = s.url === DEFAULT_CONTROL_URL ? '' : ` --control-url ${quote(s.url)}`;
  const own = s.adminTokenPath === join(dataDir, ADMIN_TOKEN_FILE);
  if (own) return `${url} --data-dir ${quote(dataDir)}`;
  return `${url} --token-file ${quote(s.adminTokenPath ?? '<admin token file>')}${insecure ? '' : ` --ca-file ${quote(s.rootCertPath)}`}`;
}

/** Shell-quotes a path or URL only when it needs it (`[::1]` would glob). */
function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The start banner: where things are and the commands that come next. */
export function renderBanner(s: ControlService, o: { dataDir: string; insecure: boolean; host: string }): string {
  const flags = clientFlags(s, o.dataDir, o.insecure);
  const lines = [
    `meshwork control: serving ${s.url} (data directory ${o.dataDir})`,
    '',
    `  CA bundle     ${s.rootCertPath}`,
    o.insecure ? '                not needed by clients while --insecure (plain HTTP)' : '                clients trust it with --ca-file (or MESHWORK_CONTROL_CA=<path>)',
    `  admin token   in ${s.adminTokenPath ?? '(given in memory)'} (keep it private; it is never printed)`,
    '',
    'Next:',
    '  1. Apply Istio YAML (a WorkloadGroup for each service whose workloads register):',
    `       meshwork apply -f <file or folder>${flags}`,
    '  2. A join token for each workload identity (namespace, service account):',
    `       meshwork token create --namespace <ns> --service-account <sa>${flags}`,
    '  3. Start the workload with:',
    `       MESHWORK_CONTROL_URL=${quote(s.url)}`,
    `       MESHWORK_TOKEN=<the join token>`,
    ...(o.insecure ? [] : [`       MESHWORK_CONTROL_CA=${quote(s.rootCertPath)}`]),
    '       MESHWORK_NAMESPACE=<ns> MESHWORK_SERVICE=<name>   (registers into WorkloadGroup <ns>/<name>;',
    '                                                          or MESHWORK_GROUP=<ns>/<group>)',
    '  4. See whether the workloads run the latest configuration:',
    `       meshwork status${flags}`,
    '',
  ];
  if (!o.insecure && (o.host === '0.0.0.0' || o.host === '::')) {
    lines.push('Listening on every interface: other machines need the name they use in --hosts (for the HTTPS certificate).', '');
  }
  lines.push('Stop with Ctrl-C (SIGINT) or SIGTERM.', '');
  return lines.join('\n');
}

export async function controlCommand(args: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parse(args, {
    'data-dir': { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'admin-token-file': { type: 'string' },
    'ca-certs-dir': { type: 'string' },
    hosts: { type: 'string', multiple: true },
    'trust-domain': { type: 'string' },
    insecure: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`control takes no arguments; got "${positionals[0]}"`);
  const dataDir = resolve(values['data-dir'] ?? (env.MESHWORK_DATA_DIR || DEFAULT_DATA_DIR));
  const port = parsePort(values.port);
  const host = values.host ?? DEFAULT_CONTROL_HOST;
  if (host === '') throw new UsageError('--host: give an address to listen on (e.g. 127.0.0.1, 0.0.0.0)');
  const hosts = parseHosts(values.hosts);
  const trustDomain = values['trust-domain'];
  // SPIFFE's trust domain characters (Istio's default is cluster.local).
  if (trustDomain !== undefined && !/^[a-z0-9._-]+$/.test(trustDomain)) throw new UsageError(`--trust-domain: "${trustDomain}" may only contain a-z, 0-9, ".", "-" and "_" (e.g. cluster.local)`);
  const caCertsDir = values['ca-certs-dir'] === undefined ? undefined : resolve(values['ca-certs-dir']);
  if (caCertsDir !== undefined && !existsSync(caCertsDir)) throw new UsageError(`--ca-certs-dir: ${caCertsDir} does not exist (Istio's cacerts layout: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)`);
  const adminTokenFile = values['admin-token-file'] === undefined ? undefined : resolve(values['admin-token-file']);
  checkAdminTokenFile(adminTokenFile ?? join(dataDir, ADMIN_TOKEN_FILE), adminTokenFile !== undefined);
  const insecure = values.insecure === true;
  const json = values.json === true;

  // Listen for the stop request before starting: a Ctrl-C during start-up stops it cleanly.
  const stop = stopRequested(io.signal);
  try {
    let service: ControlService;
    try {
      service = await startControlService({
        dataDir,
        host,
        port,
        adminTokenFile,
        caCertsDir,
        hosts,
        insecure,
        ...(trustDomain !== undefined ? { mesh: { trustDomain } } : {}),
      });
    } catch (e) {
      const message = startFailure(e, host, port);
      io.err(`meshwork: ${message}\n`);
      if (json) io.out(JSON.stringify({ error: { code: 'start_failed', message } }) + '\n');
      return EXIT.invalid;
    }
    // After listening, the server's own errors (accept failures...) are reported, not fatal.
    service.server.on('error', (e: Error) => io.err(`meshwork control: ${e.message}\n`));
    service.server.on('tlsRenewalError', (e: Error) => io.err(`meshwork control: renewing the HTTPS certificate failed (retried within 30 s): ${e.message}\n`));

    if (json) {
      const ready: ControlReady = { url: service.url, port: service.port, rootCertPath: service.rootCertPath, adminTokenPath: service.adminTokenPath ?? '', dataDir };
      io.out(JSON.stringify(ready) + '\n');
    } else {
      io.out(renderBanner(service, { dataDir, insecure, host }));
      if (insecure) io.err('meshwork control: serving plain HTTP (--insecure): tokens and configuration travel in clear text; for local experiments only\n');
    }

    const why = await stop.stopped;
    io.err(`meshwork control: ${why}, stopping\n`);
    await service.close();
    io.err('meshwork control: stopped\n');
    return EXIT.ok;
  } finally {
    stop.dispose();
  }
}
