/**
 * The connection to a control service, shared by every command that talks to one: the
 * options and environment variables that locate it, and a small JSON client on node:http
 * and node:https. Not the global fetch: an application may have replaced the global
 * dispatcher with the mesh, and the CLI must reach the control service directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parseDuration } from '@meshwork/policy';
import { EXIT, UsageError, type Io } from './io.js';

export const DEFAULT_CONTROL_URL = 'https://127.0.0.1:15012';
export const DEFAULT_REQUEST_TIMEOUT = '30s';
/** Larger answers are refused rather than buffered without bound. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** The parseArgs options every control command accepts (spread into its own). */
export const CONNECTION_OPTIONS = {
  'control-url': { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
  'data-dir': { type: 'string' },
  'request-timeout': { type: 'string' },
} as const;

export interface ConnectionFlags {
  'control-url'?: string | undefined;
  'token-file'?: string | undefined;
  'ca-file'?: string | undefined;
  'data-dir'?: string | undefined;
  'request-timeout'?: string | undefined;
}

export interface Connection {
  url: URL;
  /** The bearer token. Never printed: messages name `tokenSource` instead. */
  token: string;
  tokenSource: string;
  /** PEM bundle to trust for https (instead of the system's roots). */
  ca?: Buffer | undefined;
  timeoutMs: number;
}

function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return text.trim();
}

function readCa(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read the CA bundle ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Where the control service is and how to authenticate, from the flags, then `--data-dir`
 * (the files a local control service writes), then the environment, then the defaults.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const rawUrl = flags['control-url'] ?? (env.MESHWORK_CONTROL_URL || DEFAULT_CONTROL_URL);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UsageError(`--control-url: "${rawUrl}" is not a URL (e.g. ${DEFAULT_CONTROL_URL})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--control-url: "${rawUrl}" is not an http:// or https:// URL`);
  if (url.username || url.password || url.search || url.hash) throw new UsageError(`--control-url: "${url.origin}${url.pathname}" may not carry credentials, a query or a fragment`);

  const dataDir = flags['data-dir'];
  let token: string;
  let tokenSource: string;
  if (flags['token-file'] !== undefined) {
    token = readSecretFile(flags['token-file'], 'token file');
    tokenSource = flags['token-file'];
  } else if (dataDir !== undefined) {
    tokenSource = join(dataDir, 'admin-token');
    token = readSecretFile(tokenSource, 'admin token');
  } else if (env.MESHWORK_ADMIN_TOKEN) {
    token = env.MESHWORK_ADMIN_TOKEN.trim();
    tokenSource = 'MESHWORK_ADMIN_TOKEN';
  } else {
    throw new UsageError('no token for the control service: give --token-file <file> or --data-dir <dir>, or set MESHWORK_ADMIN_TOKEN');
  }
  if (token === '') throw new UsageError(`the token from ${tokenSource} is empty`);
  // A bearer token is visible ASCII; anything else would fail inside node:http with a less clear error.
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`the token from ${tokenSource} holds whitespace or characters a bearer token cannot`);

  let ca: Buffer | undefined;
  if (flags['ca-file'] !== undefined) ca = readCa(flags['ca-file']);
  else if (dataDir !== undefined && existsSync(join(dataDir, 'ca', 'root-cert.pem'))) ca = readCa(join(dataDir, 'ca', 'root-cert.pem'));
  else if (env.MESHWORK_CONTROL_CA) ca = readCa(env.MESHWORK_CONTROL_CA);

  const rawTimeout = flags['request-timeout'] ?? DEFAULT_REQUEST_TIMEOUT;
  const timeoutMs = parseDuration(rawTimeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--request-timeout: "${rawTimeout}" is not a positive duration (e.g. 30s, 500ms)`);
  return { url, token, tokenSource, ca, timeoutMs };
}

/**
 * The control service did not answer usefully: `status` undefined when it could not be
 * reached (or timed out, or did not speak HTTP), else the HTTP status of its refusal with
 * the API's `error` code and `message`.
 */
export class ControlError extends Error {
  override name = 'ControlError';
  readonly status: number | undefined;
  readonly code: string;
  readonly url: string;
  /** The API's JSON answer, when there was one (400 carries `diagnostics`). */
  readonly body: Record<string, unknown> | undefined;
  constructor(message: string, init: { status?: number | undefined; code: string; url: string; body?: Record<string, unknown> | undefined; cause?: unknown }) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.url = init.url;
    this.body = init.body;
  }

  /** 400 is input the service's analyzer rejects (2); everything else is the service's refusal or absence (3). */
  get exitCode(): number {
    return this.status === 400 ? EXIT.invalid : EXIT.control;
  }

  toJSON(): { status: number | null; code: string; message: string; url: string } {
    return { status: this.status ?? null, code: this.code, message: this.message, url: this.url };
  }
}

const TLS_TRUST_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED',
]);

/** One line: what went wrong on the way, with a hint where there is an obvious one. */
function describeCause(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { errors?: unknown[] };
  // Happy eyeballs (several addresses) fails with an AggregateError whose own message is empty.
  let text = err?.message || (Array.isArray(err?.errors) ? err.errors.map((x) => (x as Error).message).join('; ') : '') || err?.code || String(e);
  // OpenSSL's errors are `write EPROTO 40..:error:0A00010B:SSL routines:fn:reason:file:line:`.
  const ssl = /SSL routines:[^:]*:([^:]+):/.exec(text);
  if (ssl) text = `TLS handshake failed: ${ssl[1]}`;
  text = text.replace(/\s+/g, ' ').trim();
  // Node 24 suggests --use-system-ca; the control CA is trusted through our own options instead.
  if (err?.code && TLS_TRUST_CODES.has(err.code)) text = `${text.replace(/; if the root CA is installed locally.*$/, '')} (trust the control service's CA with --ca-file, --data-dir or MESHWORK_CONTROL_CA)`;
  else if (err?.code === 'ERR_TLS_CERT_ALTNAME_INVALID') text += ' (the certificate does not name this host: use the address it was issued for in --control-url)';
  else if (err?.code === 'EPROTO' || /wrong version number|packet length too long/i.test(text)) text += ' (is it http:// rather than https://?)';
  return text;
}

export interface RequestOptions {
  query?: Record<string, string | undefined> | undefined;
  body?: string | undefined;
  contentType?: string | undefined;
}

/** A JSON client for API v1. One keep-alive agent per client: call `close()` when done. */
export class ControlClient {
  readonly url: URL;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #agent: HttpAgent;
  readonly #https: boolean;

  constructor(connection: Connection) {
    this.url = connection.url;
    this.#token = connection.token;
    this.#timeoutMs = connection.timeoutMs;
    this.#https = connection.url.protocol === 'https:';
    this.#agent = this.#https ? new HttpsAgent({ keepAlive: true, ca: connection.ca }) : new HttpAgent({ keepAlive: true });
  }

  /** The base URL as users wrote it, for messages. */
  get display(): string {
    return this.url.href.replace(/\/$/, '');
  }

  target(path: string, query?: Record<string, string | undefined>): URL {
    const u = new URL(this.url.href);
    u.pathname = this.url.pathname.replace(/\/+$/, '') + path;
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, v);
    return u;
  }

  /** Sends one request; resolves with the JSON of a 2xx answer, rejects with a `ControlError`. */
  request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const target = this.target(path, options.query);
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const url = this.display;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      // Why the CLI itself cut the exchange short (timeout, oversized answer), if it did.
      let failure: ControlError | undefined;
      const settle = (err: ControlError | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value as T);
      };
      const fail = (e: unknown): void =>
        settle(failure ?? new ControlError(`cannot reach the control service at ${url}: ${describeCause(e)}`, { code: 'unreachable', url, cause: e }));
      const abort = (e: ControlError): void => {
        failure = e;
        req.destroy(e);
      };
      const send = this.#https ? httpsRequest : httpRequest;
      const req = send(target, { method, headers, agent: this.#agent }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) abort(new ControlError(`the answer of ${url} exceeds ${MAX_RESPONSE_BYTES} bytes`, { status: res.statusCode, code: 'bad_response', url }));
          else chunks.push(c);
        });
        res.on('error', fail);
        res.on('end', () => settle(...answer<T>(res, Buffer.concat(chunks).toString('utf8'), url)));
        res.on('close', () => {
          if (!res.complete) fail(new Error('the connection closed before the answer was complete'));
        });
      });
      const timer = setTimeout(() => {
        abort(new ControlError(`cannot reach the control service at ${url}: no answer within ${this.#timeoutMs} ms (--request-timeout)`, { code: 'timeout', url }));
      }, this.#timeoutMs);
      req.on('error', fail);
      req.end(options.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function answer<T>(res: IncomingMessage, text: string, url: string): [ControlError | undefined, T?] {
  const status = res.statusCode ?? 0;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [new ControlError(`unexpected answer from ${url}: HTTP ${status} without a JSON body (is this a Meshwork control service?)`, { status, code: 'bad_response', url })];
  }
  if (status >= 200 && status < 300) return [undefined, body as T];
  const o = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const code = typeof o.error === 'string' ? o.error : 'error';
  let message = typeof o.message === 'string' && o.message ? o.message : `HTTP ${status}`;
  const retry = res.headers['retry-after'];
  if (status === 429 && retry) message += `; retry after ${retry} s`;
  return [new ControlError(`${message} (HTTP ${status} ${code})`, { status, code, url, body: o })];
}

/** Reports a control failure: one line on stderr, and with --json an `{ error }` document on stdout. */
export function reportControlError(e: ControlError, io: Io, json: boolean, extra: Record<string, unknown> = {}): number {
  io.err(`meshwork: ${e.message}\n`);
  if (json) io.out(JSON.stringify({ ...extra, error: e.toJSON() }, null, 2) + '\n');
  return e.exitCode;
}

/**
 * Runs a command against the control service: resolves the connection (a UsageError when it
 * cannot), reports a `ControlError` the command did not handle itself, and closes the client.
 */
export async function withControl(flags: ConnectionFlags & { json?: boolean | undefined }, io: Io, fn: (client: ControlClient) => Promise<number>): Promise<number> {
  const client = new ControlClient(resolveConnection(flags));
  try {
    return await fn(client);
  } catch (e) {
    if (e instanceof ControlError) return reportControlError(e, io, flags.json === true);
    throw e;
  } finally {
    client.close();
  }
}
