/**
 * DestinationRule TLS origination (issue #5): the application sends plain HTTP to a
 * ServiceEntry host and the data plane opens TLS as the DR says — SIMPLE with caCertificates,
 * sni, subjectAltNames, insecureSkipVerify, and MUTUAL with a client certificate — against a
 * real https server on 127.0.0.1 with an ordinary (DNS-name) certificate made by openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher, type RequestInfo } from '@meshwork/fetch';

const HOST = 'api.example.test';
let dir: string;
let server: https.Server;
let port: number;
const seen: { sni: string | undefined; clientCn: string | undefined }[] = [];

/** A self-signed certificate for `cn` (with that DNS name), by openssl as an operator would make it. */
function selfSigned(name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

let serverCert: { cert: string; key: string };
let clientCert: { cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshwork-tls-'));
  serverCert = selfSigned('server', HOST);
  clientCert = selfSigned('client', 'client.example.test');
  server = https.createServer({
    cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key),
    // Client certificates are asked for, checked against the client's own (self-signed) root, optional.
    requestCert: true, rejectUnauthorized: false, ca: readFileSync(clientCert.cert),
  }, (req, res) => {
    const s = req.socket as TLSSocket;
    const peer = s.authorized ? s.getPeerCertificate() : undefined;
    seen.push({ sni: s.servername || undefined, clientCn: peer?.subject?.CN });
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const config = (tls: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [${HOST}]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: ${HOST}
  trafficPolicy:
    tls: ${tls}
`;

async function call(tls: string) {
  const infos: RequestInfo[] = [];
  const d = createMeshDispatcher({ workload: { namespace: 'default', labels: { app: 'client' } }, configYaml: config(tls), onRequestEnd: (i) => infos.push(i) });
  try {
    seen.length = 0;
    const res = await request(`http://${HOST}/`, { dispatcher: d });
    return { status: res.statusCode, body: await res.body.text(), flags: infos.at(-1)?.flags ?? [], seen: seen.at(-1) };
  } finally {
    await d.close();
    d.mesh.close();
  }
}

describe('DestinationRule TLS origination', () => {
  it('SIMPLE with caCertificates: TLS to the endpoint, SNI = the host when sni is unset, the host name verified', async () => {
    const r = await call(`{mode: SIMPLE, caCertificates: ${serverCert.cert}}`);
    expect(r.status).toBe(200);
    expect(r.seen).toEqual({ sni: HOST, clientCn: undefined });
  });

  it('SIMPLE with an explicit sni that the certificate does not name fails with UF', async () => {
    const r = await call(`{mode: SIMPLE, caCertificates: ${serverCert.cert}, sni: other.example.test}`);
    expect(r.status).toBe(503);
    expect(r.flags).toContain('UF');
    expect(r.body).toMatch(/transport failure reason: TLS_error/);
  });

  it('SIMPLE without caCertificates verifies against the system roots: a self-signed server fails with UF', async () => {
    const r = await call('{mode: SIMPLE}');
    expect(r.status).toBe(503);
    expect(r.flags).toContain('UF');
  });

  it('SIMPLE with insecureSkipVerify connects to any server', async () => {
    const r = await call('{mode: SIMPLE, insecureSkipVerify: true}');
    expect(r.status).toBe(200);
  });

  it('subjectAltNames: one of them must be in the server certificate', async () => {
    expect((await call(`{mode: SIMPLE, caCertificates: ${serverCert.cert}, subjectAltNames: [${HOST}]}`)).status).toBe(200);
    const bad = await call(`{mode: SIMPLE, caCertificates: ${serverCert.cert}, subjectAltNames: [wrong.example.test]}`);
    expect(bad.status).toBe(503);
    expect(bad.body).toContain('wrong.example.test');
  });

  it('MUTUAL presents the client certificate from the DR files; without them the call fails with UF and says why', async () => {
    const r = await call(`{mode: MUTUAL, caCertificates: ${serverCert.cert}, clientCertificate: ${clientCert.cert}, privateKey: ${clientCert.key}}`);
    expect(r.status).toBe(200);
    expect(r.seen?.clientCn).toBe('client.example.test');
    const missing = await call(`{mode: MUTUAL, caCertificates: ${serverCert.cert}, clientCertificate: ${join(dir, 'nope.pem')}, privateKey: ${clientCert.key}}`);
    expect(missing.status).toBe(503);
    expect(missing.flags).toContain('UF');
    expect(missing.body).toContain('nope.pem');
  });

  it('DISABLE sends plaintext (the TLS server refuses it)', async () => {
    const r = await call('{mode: DISABLE}');
    expect(r.status).toBe(503);
  });
});
