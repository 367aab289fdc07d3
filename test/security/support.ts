/**
 * The three ways to serve a workload behind the mesh's inbound pipeline — node:http through
 * createMeshServer, Express with meshworkMiddleware, Fastify with meshworkPlugin — and a
 * client that speaks plaintext or mTLS with any certificate, over real sockets on 127.0.0.1.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Mesh } from '@meshwork/core';
import { clientTlsOptions, type IdentityMaterial, type IdentitySource } from '@meshwork/identity';
import { createInbound, createMeshServer, meshworkOf, type MeshServer, type MeshworkContext } from '@meshwork/server';
import { meshworkMiddleware } from '@meshwork/express';
import { meshServerFactory, meshworkPlugin } from '@meshwork/fastify';

export type ServerKind = 'node:http' | 'express' | 'fastify';
export const SERVER_KINDS: ServerKind[] = ['node:http', 'express', 'fastify'];

export interface MeshedServer {
  kind: ServerKind;
  port: number;
  mesh: Mesh;
  /** Connections PeerAuthentication closed before any HTTP exchange. */
  rejected(): number;
  close(): Promise<void>;
}

/** What every handler answers: what the pipeline put on the request. */
function echo(ctx: MeshworkContext | undefined | null, url: string | undefined, headers: http.IncomingHttpHeaders) {
  return {
    principal: ctx?.principal ?? null,
    mtls: ctx?.mtls ?? null,
    requestPrincipal: ctx?.requestPrincipal ?? null,
    decision: ctx?.decision ?? null,
    policy: ctx?.policy ?? null,
    audit: ctx?.audit ?? [],
    dryRun: ctx?.dryRun ?? [],
    sub: (ctx?.claims as { sub?: string } | undefined)?.sub ?? null,
    url,
    authorization: headers.authorization ?? null,
    forwarded: headers['x-jwt-sub'] ?? null,
    xfcc: headers['x-forwarded-client-cert'] ?? null,
  };
}

export async function startMeshedServer(kind: ServerKind, identity: IdentitySource): Promise<MeshedServer> {
  const mesh = new Mesh({ workload: { namespace: 'foo', labels: { app: 'httpbin' }, serviceAccount: 'httpbin' }, configYaml: '', identity });
  const inbound = createInbound({ mesh });
  let server: MeshServer;
  let closeApp: () => Promise<void> = async () => {};
  if (kind === 'node:http') {
    server = createMeshServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(echo(meshworkOf(req), req.url, req.headers)));
    }, { inbound, identity });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  } else if (kind === 'express') {
    const app = express();
    app.use(meshworkMiddleware({ inbound }));
    app.use((req, res) => {
      res.json(echo(req.meshwork, req.originalUrl, req.headers));
    });
    server = createMeshServer(app, { inbound, identity, pipeline: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  } else {
    const app = Fastify({ serverFactory: meshServerFactory({ inbound, identity }) });
    await app.register(meshworkPlugin, { inbound });
    app.all('*', async (request) => echo(request.meshwork, request.raw.url, request.headers));
    await app.listen({ port: 0, host: '127.0.0.1' });
    server = app.server as unknown as MeshServer;
    closeApp = () => app.close();
  }
  const port = (server.address() as AddressInfo).port;
  return {
    kind,
    port,
    mesh,
    rejected: () => server.rejectedConnections,
    async close() {
      server.closeAllConnections();
      if (kind === 'fastify') await closeApp();
      else await new Promise<void>((r) => server.close(() => r()));
      inbound.close();
      mesh.close();
    },
  };
}

export type CallResult = { status: number; body: string; json: any } | { error: string };

export interface CallOptions {
  /** plaintext, mTLS with this certificate, or TLS without a client certificate. */
  as: 'plaintext' | 'tls-no-cert' | IdentityMaterial;
  /** Roots the client trusts (to verify the server). */
  roots?: readonly string[];
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

/** One request on a fresh connection; connection-level failures come back as `{ error }`. */
export function call(port: number, o: CallOptions): Promise<CallResult> {
  return new Promise((resolve) => {
    const base = { host: '127.0.0.1', port, path: o.path ?? '/', method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false as const };
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
      res.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    };
    let req: http.ClientRequest;
    if (o.as === 'plaintext') {
      req = http.request(base, onResponse);
    } else if (o.as === 'tls-no-cert') {
      req = https.request({ ...base, ca: [...(o.roots ?? [])], checkServerIdentity: () => undefined }, onResponse);
    } else {
      const tls = clientTlsOptions(o.as, { allowedIds: [] });
      req = https.request({ ...base, ...tls, ...(o.roots ? { ca: [...o.roots] } : {}) } as https.RequestOptions, onResponse);
    }
    req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}
