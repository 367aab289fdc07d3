/**
 * No private key or token in any log line (issue #5). Runs the failure paths that produce
 * messages — invalid and expired JWTs, a JWKS server that is down, a CUSTOM policy warning,
 * secure-naming and TLS failures, certificate files that are bad — and greps everything
 * written: the JWT logger's lines, process warnings, stdout and stderr, error messages and
 * response bodies, and `util.inspect` of the identity material.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { request } from 'undici';
import { Mesh } from '@meshwork/core';
import { createMeshDispatcher } from '@meshwork/fetch';
import { CertificateAuthority, createCaIdentitySource, createFileIdentitySource, issueIdentity, writeIdentityFiles, type CaIdentitySource, type IdentityMaterial } from '@meshwork/identity';
import { createInbound, createMeshServer, type MeshServer } from '@meshwork/server';
import { call } from './support.js';

const captured: string[] = [];
const log = (level: string) => (fields: unknown, msg?: string) => captured.push(`${level} ${msg ?? ''} ${JSON.stringify(fields)}`);
let restore: (() => void) | undefined;

let ca: CertificateAuthority;
let serverId: CaIdentitySource;
let client: IdentityMaterial;
let dir: string;
let jwks: http.Server;
const tokens: string[] = [];

beforeAll(async () => {
  // Everything the process writes while the scenarios run.
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap = (write: typeof process.stdout.write) => ((chunk: unknown, ...rest: unknown[]) => {
    captured.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stdout.write = tap(out);
  process.stderr.write = tap(err);
  const onWarning = (w: Error) => captured.push(`warning ${w.name} ${w.message}`);
  process.on('warning', onWarning);
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
    process.off('warning', onWarning);
  };
  ca = await CertificateAuthority.selfSigned({ trustDomain: 'cluster.local' });
  serverId = await createCaIdentitySource({ signer: ca, spiffeId: 'spiffe://cluster.local/ns/foo/sa/httpbin' });
  client = await issueIdentity(ca, { spiffeId: 'spiffe://cluster.local/ns/foo/sa/sleep' });
  dir = mkdtempSync(join(tmpdir(), 'meshwork-secrets-'));
  // A JWKS server that answers 503: its issuer's tokens fail and the authenticator logs why.
  jwks = http.createServer((_req, res) => res.writeHead(503).end());
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
});

afterAll(async () => {
  restore?.();
  await serverId?.close();
  jwks?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Substrings that must never be printed: PEM key markers, pieces of key bodies, whole tokens and their signatures. */
function secrets(): string[] {
  const keyPems = [serverId.current().keyPem, client.keyPem];
  const out = ['PRIVATE KEY'];
  for (const pem of keyPems) {
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    for (let i = 0; i + 32 <= body.length; i += 32) out.push(body.slice(i, i + 32));
  }
  for (const t of tokens) out.push(t, t.split('.')[2]!);
  return out;
}

describe('no private key or token in any log line', () => {
  it('the failure paths write nothing secret', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const iss = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
    const now = Math.floor(Date.now() / 1000);
    tokens.push(
      await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(iss).setExpirationTime(now + 600).sign(privateKey),
      await new SignJWT({ sub: 'bob' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(iss).setExpirationTime(now - 600).sign(privateKey),
      await new SignJWT({ sub: 'eve' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer('https://unknown.test').setExpirationTime(now + 600).sign(privateKey),
    );
    const mesh = new Mesh({
      workload: { namespace: 'foo', labels: { app: 'httpbin' } },
      identity: serverId,
      configYaml: `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "${iss}", jwksUri: "${iss}/jwks"}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: ext-authz}
  rules: [{to: [{operation: {paths: [/ext]}}]}]
`,
    });
    const inbound = createInbound({ mesh, jwt: { logger: { warn: log('warn'), debug: log('debug') } } });
    const server: MeshServer = createMeshServer((_req, res) => res.end('ok'), { inbound, identity: serverId });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const bodies: string[] = [];
    try {
      for (const t of tokens) {
        for (const where of [{ headers: { authorization: `Bearer ${t}` } }, { path: `/?access_token=${t}` }]) {
          const r = await call(port, { as: client, roots: ca.rootsPem, ...where });
          bodies.push('error' in r ? r.error : `${r.status} ${r.body}`);
        }
      }
      const custom = await call(port, { as: client, roots: ca.rootsPem, path: '/ext' });
      bodies.push('error' in custom ? custom.error : `${custom.status} ${custom.body}`);
      // The client side: secure naming fails (the server runs as httpbin, the registry says reviews).
      const d = createMeshDispatcher({
        identity: await createCaIdentitySource({ signer: ca, spiffeId: 'spiffe://cluster.local/ns/foo/sa/sleep' }),
        workload: { namespace: 'foo', labels: { app: 'sleep' } },
        configYaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: foo}
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, serviceAccount: reviews}]
`,
      });
      const res = await request('http://httpbin.foo.svc.cluster.local/', { dispatcher: d });
      bodies.push(`${res.statusCode} ${await res.body.text()}`);
      await d.close();
      d.mesh.close();
      await d.mesh.identity?.close();
      // Bad certificate files: the key does not match the certificate.
      await writeIdentityFiles(dir, client);
      writeFileSync(join(dir, 'key.pem'), serverId.current().keyPem);
      await createFileIdentitySource({ dir, watch: false }).then(
        (s) => s.close(),
        (e: Error) => bodies.push(e.message),
      );
      // What a careless `console.log(material)` would print.
      bodies.push(inspect(client), inspect(serverId.current()), JSON.stringify(client));
    } finally {
      server.closeAllConnections();
      server.close();
      inbound.close();
      mesh.close();
    }
    // The scenarios did produce messages: the grep below has something to read.
    expect(bodies.some((b) => b.startsWith('401'))).toBe(true);
    expect(bodies.filter((b) => b.startsWith('503')), bodies.join('\n')).toEqual([expect.stringContaining('secure naming')]);
    expect(captured.some((l) => l.includes('CUSTOM'))).toBe(true);
    expect(captured.some((l) => l.startsWith('warn'))).toBe(true);
    const text = [...captured, ...bodies].join('\n');
    const leaks = secrets().filter((s) => text.includes(s));
    expect(leaks, 'secret material found in logs or messages').toEqual([]);
  });
});
