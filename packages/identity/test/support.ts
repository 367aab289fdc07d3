/** Helpers for tests: temp folders, real servers on 127.0.0.1 port 0, requests that report rather than throw. */
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions, TLSSocket, TlsOptions } from 'node:tls';
import { onTestFinished } from 'vitest';
import { peerSpiffeId } from '../src/index.js';

/** A fresh temp folder, removed when the test ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshwork-identity-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestServer {
  server: https.Server;
  port: number;
  /**
   * Handshakes the server refused (`tlsClientError`), with OpenSSL's verdict on the client's
   * certificate (`authorizationError`, e.g. `CERT_HAS_EXPIRED`): Node drops such a client
   * without a TLS alert, so the client itself only sees the connection close.
   */
  clientErrors: { message: string; authorizationError: string | undefined }[];
  /** SPIFFE IDs of the clients, one per request served. */
  peers: (string | undefined)[];
}

/** An HTTPS server on 127.0.0.1:0 that answers with the client's SPIFFE ID; closed when the test ends. */
export async function startServer(options: TlsOptions): Promise<TestServer> {
  const peers: (string | undefined)[] = [];
  const clientErrors: TestServer['clientErrors'] = [];
  const server = https.createServer(options, (req, res) => {
    const peer = peerSpiffeId(req.socket as TLSSocket);
    peers.push(peer);
    res.setHeader('content-type', 'text/plain');
    res.end(peer ?? '<none>');
  });
  server.on('tlsClientError', (e, socket) => clientErrors.push({ message: e.message, authorizationError: socket.authorizationError?.toString() }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { server, port: (server.address() as AddressInfo).port, clientErrors, peers };
}

export type Outcome =
  | { ok: true; status: number; body: string; serverId: string | undefined; serial: string | undefined; alpn: string | false | null; socket: TLSSocket }
  | { ok: false; error: Error & { code?: string; reason?: string } };

/** One GET; resolves with the response or the error (never rejects). */
export function request(port: number, tls: ConnectionOptions, agent: https.Agent | false = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent, ...(tls as https.RequestOptions) }, (res) => {
      const socket = res.socket as TLSSocket;
      // Read the connection now: once the response ends, the socket may be closed or reused.
      const serverId = peerSpiffeId(socket);
      const serial = socket.getPeerCertificate().serialNumber;
      const alpn = socket.alpnProtocol;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body, serverId, serial, alpn, socket }));
      res.on('error', (error) => resolve({ ok: false, error }));
    });
    req.on('error', (error) => resolve({ ok: false, error }));
    req.end();
  });
}

/** Asserts a failed outcome and returns its error. */
export function failure(o: Outcome): Error & { code?: string; reason?: string } {
  if (o.ok) throw new Error(`expected the request to fail, it got ${o.status} ${o.body}`);
  return o.error;
}

/** Asserts a successful outcome. */
export function success(o: Outcome): Extract<Outcome, { ok: true }> {
  if (!o.ok) throw new Error(`expected the request to succeed, it failed: ${o.error.message}`);
  return o;
}
