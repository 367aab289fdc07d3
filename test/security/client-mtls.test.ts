/**
 * The client side of mesh mTLS (issue #5): the fetch data plane's auto-mTLS, DestinationRule
 * tls modes and secure naming against a meshed server, certificate rotation on both ends under
 * load with no failed request, and root rotation with two roots in the bundle.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Mesh } from '@meshwork/core';
import { createMeshDispatcher, type MeshDispatcher, type RequestInfo } from '@meshwork/fetch';
import { CertificateAuthority, createCaIdentitySource, TrustBundle, type CaIdentitySource } from '@meshwork/identity';
import { startMeshedServer, type MeshedServer } from './support.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

let ca: CertificateAuthority;
let serverIdentity: CaIdentitySource;
let clientIdentity: CaIdentitySource;
let server: MeshedServer;

beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned({ trustDomain: TD });
  serverIdentity = await createCaIdentitySource({ signer: ca, spiffeId: id('foo', 'httpbin') });
  clientIdentity = await createCaIdentitySource({ signer: ca, spiffeId: id('foo', 'sleep') });
  server = await startMeshedServer('node:http', serverIdentity);
  server.mesh.configure({ configYaml: strictServer });
});

afterAll(async () => {
  await server?.close();
  await serverIdentity?.close();
  await clientIdentity?.close();
});

const strictServer = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: STRICT}}
`;

/** The client's view: the httpbin service, its one endpoint (our server) running as `sa`. */
const clientConfig = (port: number, sa: string | null, extra = '') => `apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec: {selector: {app: httpbin}, ports: [{name: http, port: 8000}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: httpbin-1, namespace: foo}
spec:
  address: 127.0.0.1
  ports: {http: ${port}}
  labels: {app: httpbin}
${sa ? `  serviceAccount: ${sa}\n` : ''}---
${strictServer}${extra}`;

function client(yaml: string, identity: CaIdentitySource | undefined, infos?: RequestInfo[]): MeshDispatcher {
  const mesh = new Mesh({ workload: { namespace: 'foo', labels: { app: 'sleep' }, serviceAccount: 'sleep' }, configYaml: yaml, identity });
  return createMeshDispatcher({ mesh, onRequestEnd: (i) => infos?.push(i) });
}

async function get(d: MeshDispatcher, path = '/get') {
  const res = await request(`http://httpbin.foo:8000${path}`, { dispatcher: d });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: res.headers['content-type']?.includes('json') ? JSON.parse(text) : undefined };
}

describe('the fetch data plane over mesh mTLS', () => {
  it('auto-mTLS: an endpoint with a service account gets mTLS, and the server sees the client principal', async () => {
    const d = client(clientConfig(server.port, 'httpbin'), clientIdentity);
    try {
      const r = await get(d);
      expect(r.status).toBe(200);
      expect(r.json.principal).toBe('cluster.local/ns/foo/sa/sleep');
      expect(r.json.mtls).toBe(true);
      // As an Istio sidecar's inbound listener (APPEND_FORWARD with Subject, URI, DNS): the app sees who called, by certificate.
      const hash = new X509Certificate(clientIdentity.current().certChainPem).fingerprint256.replace(/:/g, '').toLowerCase();
      expect(r.json.xfcc).toBe(`By=spiffe://cluster.local/ns/foo/sa/httpbin;Hash=${hash};Subject="";URI=spiffe://cluster.local/ns/foo/sa/sleep`);
    } finally {
      await d.close();
      d.mesh.close();
    }
  });

  it("Istio's SNI for mTLS reaches the server: connection.sni in an AuthorizationPolicy sees outbound_.<port>_.<subset>_.<host>", async () => {
    server.mesh.configure({ configYaml: `${strictServer}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-sni, namespace: foo}
spec:
  action: ALLOW
  rules: [{when: [{key: connection.sni, values: ["outbound_.8000_._.httpbin.foo.svc.cluster.local"]}]}]
` });
    const d = client(clientConfig(server.port, 'httpbin'), clientIdentity);
    const other = client(`${clientConfig(server.port, 'httpbin')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: something.else}}
`, clientIdentity);
    try {
      expect((await get(d)).status).toBe(200);
      const r = await get(other);
      expect(r.status).toBe(403);
      expect(r.text).toBe('RBAC: access denied');
    } finally {
      server.mesh.configure({ configYaml: strictServer });
      for (const x of [d, other]) {
        await x.close();
        x.mesh.close();
      }
    }
  });

  it('secure naming: a server running as another service account is refused with UF, naming both identities', async () => {
    const infos: RequestInfo[] = [];
    const d = client(clientConfig(server.port, 'reviews'), clientIdentity, infos);
    try {
      const r = await get(d);
      expect(r.status).toBe(503);
      expect(r.text).toContain('upstream connect error or disconnect/reset before headers');
      expect(r.text).toContain(id('foo', 'reviews'));
      expect(r.text).toContain(id('foo', 'httpbin'));
      expect(infos.at(-1)?.flags).toContain('UF');
    } finally {
      await d.close();
      d.mesh.close();
    }
  });

  it('DestinationRule subjectAltNames override the service accounts; ISTIO_MUTUAL is explicit', async () => {
    const dr = (san: string) => `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: ["${san}"]}}
`;
    // No service account on the endpoint: without the DR auto-mTLS would send plaintext (refused by STRICT).
    const ok = client(clientConfig(server.port, null, dr(id('foo', 'httpbin'))), clientIdentity);
    const bad = client(clientConfig(server.port, null, dr(id('foo', 'details'))), clientIdentity);
    try {
      expect((await get(ok)).json.principal).toBe('cluster.local/ns/foo/sa/sleep');
      const r = await get(bad);
      expect(r.status).toBe(503);
      expect(r.text).toContain(id('foo', 'details'));
    } finally {
      for (const d of [ok, bad]) {
        await d.close();
        d.mesh.close();
      }
    }
  });

  it('plaintext towards STRICT fails as behind a sidecar: a DR with tls DISABLE, or an endpoint not known to run the mesh', async () => {
    const disable = `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
`;
    const infos: RequestInfo[] = [];
    const a = client(clientConfig(server.port, 'httpbin', disable), clientIdentity, infos);
    const b = client(clientConfig(server.port, null), clientIdentity, infos);
    try {
      for (const d of [a, b]) {
        const r = await get(d);
        expect(r.status).toBe(503);
        expect(r.text).toMatch(/upstream connect error or disconnect\/reset before headers/);
      }
      // Envoy's flag for a connection reset before the response: UC (with URX after the retries).
      expect(infos.every((i) => i.flags.includes('UC'))).toBe(true);
    } finally {
      for (const d of [a, b]) {
        await d.close();
        d.mesh.close();
      }
    }
  });

  it('a client without a workload certificate: auto-mTLS falls back to plaintext; an explicit ISTIO_MUTUAL fails with UF and says why', async () => {
    const permissive = clientConfig(server.port, 'httpbin').replace('mode: STRICT', 'mode: PERMISSIVE');
    server.mesh.configure({ configYaml: permissive });
    const infos: RequestInfo[] = [];
    const auto = client(permissive, undefined, infos);
    const explicit = client(`${permissive}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin, namespace: foo}
spec:
  host: httpbin.foo.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`, undefined, infos);
    try {
      const r = await get(auto);
      expect(r.status).toBe(200);
      expect(r.json.principal).toBeNull();
      const e = await get(explicit);
      expect(e.status).toBe(503);
      expect(e.text).toMatch(/needs a workload certificate/);
      expect(infos.at(-1)?.flags).toContain('UF');
    } finally {
      server.mesh.configure({ configYaml: strictServer });
      for (const d of [auto, explicit]) {
        await d.close();
        d.mesh.close();
      }
    }
  });

  it('rotation under load: both workload certificates rotate several times, 0 failed requests', async () => {
    const d = client(clientConfig(server.port, 'httpbin'), clientIdentity);
    const serials = new Set<string>();
    let failures = 0;
    let done = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const r = await get(d);
          if (r.status !== 200) failures++;
        } catch {
          failures++;
        }
        done++;
      }
    };
    try {
      const workers = Array.from({ length: 8 }, worker);
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 60));
        serials.add((await serverIdentity.rotateNow()).certChainPem);
        serials.add((await clientIdentity.rotateNow()).certChainPem);
      }
      await new Promise((r) => setTimeout(r, 60));
      stop = true;
      await Promise.all(workers);
      expect(serials.size).toBe(8);
      expect(done).toBeGreaterThan(50);
      expect(failures).toBe(0);
    } finally {
      stop = true;
      await d.close();
      d.mesh.close();
    }
  });

  it('root rotation: with the old and the new root in the bundle, workloads on either root talk to each other', async () => {
    const original = [...ca.trustBundle.rootsPem];
    const newCa = await CertificateAuthority.selfSigned({ trustDomain: TD });
    // Both CAs trust both roots while workloads move over (Istio's plug-in CA root rotation).
    const both = new TrustBundle([...ca.trustBundle.rootsPem, ...newCa.trustBundle.rootsPem]);
    newCa.setTrustBundle(both);
    const newServerId = await createCaIdentitySource({ signer: newCa, spiffeId: id('foo', 'httpbin') });
    const oldClientId = await createCaIdentitySource({ signer: ca, spiffeId: id('foo', 'sleep') });
    const newServer = await startMeshedServer('node:http', newServerId);
    newServer.mesh.configure({ configYaml: strictServer });
    const oldOnly = oldClientId;
    try {
      // Old-root client (trusting only the old root) cannot verify the new-root server...
      const d1 = client(clientConfig(newServer.port, 'httpbin'), oldOnly);
      expect((await get(d1)).status).toBe(503);
      await d1.close();
      d1.mesh.close();
      // ...until its bundle carries both roots; the new-root server accepts the old-root client.
      ca.setTrustBundle(both);
      await oldClientId.rotateNow();
      const d2 = client(clientConfig(newServer.port, 'httpbin'), oldClientId);
      const r = await get(d2);
      expect(r.status).toBe(200);
      expect(r.json.principal).toBe('cluster.local/ns/foo/sa/sleep');
      await d2.close();
      d2.mesh.close();
    } finally {
      ca.setTrustBundle(new TrustBundle(original));
      await newServer.close();
      await newServerId.close();
      await oldClientId.close();
    }
  });
});
