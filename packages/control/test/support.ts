/** Helpers for the CA, signing, HTTPS and rate-limit tests: temp folders, real servers on 127.0.0.1:0, CSRs. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { onTestFinished } from 'vitest';
import { createCsr, generateWorkloadKey } from '@meshwork/identity';
import { createControlServer, openSqliteStore, type ControlServerOptions, type ControlStore } from '../src/index.js';

export const ADMIN = 'test-admin-token-0123456789';

/** A fresh temp folder, removed when the test ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-control-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Running {
  store: ControlStore;
  server: Server | https.Server;
  base: string;
  port: number;
  clock: { now: number };
}

/** A control server (HTTP, or HTTPS with `tls`) on 127.0.0.1:0 with an in-memory store and a settable clock; closed when the test ends. */
export async function startControl(options: Partial<ControlServerOptions> = {}): Promise<Running> {
  const store = await openSqliteStore({ dataDir: ':memory:' });
  const clock = { now: Date.now() };
  const server = createControlServer({ store, adminToken: ADMIN, now: () => clock.now, ...options });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  });
  return { store, server, port, base: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, clock };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** One request over plain HTTP with fetch. `token: null` sends none; default the admin token. */
export async function call(base: string, method: string, path: string, init: { body?: string; type?: string; token?: string | null } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = init.token === undefined ? ADMIN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.type) headers['content-type'] = init.type;
  const res = await fetch(base + path, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
}

export const json = (body: unknown) => ({ body: JSON.stringify(body), type: 'application/json' });

export type HttpsOutcome =
  | { ok: true; status: number; body: any; text: string; serial: string | undefined }
  | { ok: false; error: Error & { code?: string } };

/** One HTTPS request with node:https (never rejects): `ca` is what the client trusts. */
export function httpsCall(port: number, path: string, tls: https.RequestOptions, init: { method?: string; token?: string | null; body?: string } = {}): Promise<HttpsOutcome> {
  const token = init.token === undefined ? ADMIN : init.token;
  return new Promise((resolve) => {
    const req = https.request({
      host: '127.0.0.1', port, path, method: init.method ?? 'GET', agent: false,
      headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...tls,
    }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, text, serial }));
    });
    req.on('error', (error) => resolve({ ok: false, error }));
    req.end(init.body);
  });
}

/** A new ECDSA key and a CSR for `spiffeId` made by @meshwork/identity (empty subject, one URI SAN). */
export async function workloadCsr(spiffeId: string): Promise<{ keyPem: string; csr: string }> {
  const key = await generateWorkloadKey();
  return { keyPem: key.keyPem, csr: await createCsr(key.privateKey, spiffeId) };
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A CSR made by the openssl command line with any subjectAltName (`URI:a,URI:b`, `DNS:x`),
 * or none: what a client other than ours might send.
 */
export async function opensslCsr(subjectAltName: string | undefined, subject = '/'): Promise<string> {
  const dir = tempDir();
  const key = await generateWorkloadKey();
  writeFileSync(join(dir, 'key.pem'), key.keyPem, { mode: 0o600 });
  const args = ['req', '-new', '-key', 'key.pem', '-subj', subject, '-out', 'csr.pem'];
  if (subjectAltName) args.push('-addext', `subjectAltName=${subjectAltName}`);
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  return readFileSync(join(dir, 'csr.pem'), 'utf8');
}

/** The same CSR with one byte of its signature flipped: it no longer verifies. */
export function tamper(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0xff;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
}
