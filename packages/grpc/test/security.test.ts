/**
 * The gRPC server behind a Meshwork port, and the client's mTLS: PeerAuthentication on one
 * port (STRICT, PERMISSIVE), auto-mTLS with secure naming from the client, authorization on
 * `/package.Service/Method`, RequestAuthentication from metadata. Real TLS on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Mesh } from '@meshwork/core';
import { CertificateAuthority, createCaIdentitySource, issueIdentity, type CaIdentitySource, type IdentityMaterial, type IdentitySource } from '@meshwork/identity';
import { MeshGrpcServer, createMeshClient, meshworkOf, type GrpcCallInfo } from '../src/index.js';
import { EchoClient, codeOf, say, type EchoService, type Msg } from './servers.js';

const TD = 'cluster.local';
const spiffe = (sa: string) => `spiffe://${TD}/ns/default/sa/${sa}`;
let ca: CertificateAuthority;
let serverIdentity: CaIdentitySource;
let callerIdentity: CaIdentitySource;
let server: MeshGrpcServer;
let serverMesh: Mesh;
let port: number;

/** Handlers that answer what the pipeline found: the caller's principal, JWT subject, metadata. */
function handlers() {
  const who = (call: { metadata: grpc.Metadata }, text: string): Msg => {
    const ctx = meshworkOf(call.metadata);
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') md[k] = v;
    return { text, server: `${ctx?.principal ?? 'anonymous'}|${ctx?.mtls ?? false}|${(ctx?.claims as { sub?: string } | undefined)?.sub ?? ''}`, metadata: md };
  };
  return {
    Say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, who(call, call.request.text)),
    Watch: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      call.write(who(call, 'w'));
      call.end();
    },
    Collect: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      call.on('data', () => {});
      call.on('end', () => cb(null, who(call, 'c')));
    },
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on('data', () => call.write(who(call, 'x')));
      call.on('end', () => call.end());
    },
  };
}

beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned({ trustDomain: TD });
  serverIdentity = await createCaIdentitySource({ signer: ca, spiffeId: spiffe('echo') });
  callerIdentity = await createCaIdentitySource({ signer: ca, spiffeId: spiffe('caller') });
  serverMesh = new Mesh({ workload: { namespace: 'default', labels: { app: 'echo' }, serviceAccount: 'echo' }, configYaml: '', identity: serverIdentity, telemetry: false });
  server = new MeshGrpcServer({ mesh: serverMesh });
  server.addService(EchoClient.service, handlers());
  port = await server.bindMesh('127.0.0.1:0');
});
afterAll(async () => {
  server.forceShutdown();
  await serverMesh.close();
  serverIdentity.close();
  callerIdentity.close();
});

const clients: { c: EchoService; mesh: Mesh }[] = [];
afterEach(async () => {
  for (const { c, mesh } of clients.splice(0)) {
    c.close();
    await mesh.close();
  }
  serverMesh.configure({ configYaml: '' });
});

/** The caller's view of echo: one endpoint (our server), running as `sa` (null: not known to take mTLS). */
function caller(sa: string | null, extra = '', infos?: GrpcCallInfo[], identity: CaIdentitySource | undefined = callerIdentity): EchoService {
  const mesh = new Mesh({
    workload: { namespace: 'default', labels: { app: 'caller' }, serviceAccount: 'caller' }, identity, telemetry: false,
    configYaml: `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {grpc: ${port}}
  labels: {app: echo}
${sa ? `  serviceAccount: ${sa}\n` : ''}${extra ? `---\n${extra}` : ''}`,
  });
  const c = createMeshClient(EchoClient, 'echo.default:9090', { mesh, onCallEnd: infos ? (i) => infos.push(i) : undefined }) as EchoService;
  clients.push({ c, mesh });
  return c;
}

/** A source that always holds `m` (a certificate made for one test). */
function fixed(m: IdentityMaterial): CaIdentitySource {
  const source: IdentitySource = { current: () => m, on: () => ({ dispose() {} }), close: async () => {} };
  return source as CaIdentitySource;
}

const STRICT = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: STRICT}}
`;

describe('PeerAuthentication on one port', () => {
  it('STRICT: an mTLS caller gets through with its principal; a plaintext connection is closed', async () => {
    serverMesh.configure({ configYaml: STRICT });
    const r = await say(caller('echo'), 'hi');
    expect(r.server).toBe('cluster.local/ns/default/sa/caller|true|');
    const rejectedBefore = server.rejectedConnections();
    const infos: GrpcCallInfo[] = [];
    expect(await codeOf(say(caller(null, '', infos), 'plain'))).toBe(grpc.status.UNAVAILABLE);
    expect(server.rejectedConnections()).toBeGreaterThan(rejectedBefore);
    expect(infos[0]!.flags).toContain('UF');
  });

  it('PERMISSIVE (the default): plaintext and mTLS callers on the same port; x-forwarded-client-cert for the mTLS one, as from a sidecar', async () => {
    const plain = await say(caller(null), 'plain');
    expect(plain.server).toBe('anonymous|false|');
    expect(plain.metadata!['x-forwarded-client-cert']).toBeUndefined();
    const tls = await say(caller('echo'), 'tls');
    expect(tls.server).toBe('cluster.local/ns/default/sa/caller|true|');
    expect(tls.metadata!['x-forwarded-client-cert']).toMatch(/^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/caller$/);
  });

  it('secure naming: a server whose certificate is not the service account the caller expects fails the call (UF), naming both identities', async () => {
    const infos: GrpcCallInfo[] = [];
    const err = await say(caller('reviews', '', infos), 'x').then(() => null, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(err?.details).toContain('spiffe://cluster.local/ns/default/sa/echo');
    expect(err?.details).toContain('spiffe://cluster.local/ns/default/sa/reviews');
    expect(infos[0]!.flags).toContain('UF');
  });

  it('a caller with a certificate from a foreign CA is refused by the server', async () => {
    serverMesh.configure({ configYaml: STRICT });
    const otherCa = await CertificateAuthority.selfSigned({ trustDomain: TD });
    const stranger = await createCaIdentitySource({ signer: otherCa, spiffeId: spiffe('caller') });
    try {
      // The stranger trusts the server's CA too (so only the server's check is tested).
      const trusting = fixed({ ...stranger.current(), rootsPem: [...stranger.current().rootsPem, ...serverIdentity.current().rootsPem] });
      const infos: GrpcCallInfo[] = [];
      expect(await codeOf(say(caller('echo', '', infos, trusting), 'x'))).toBe(grpc.status.UNAVAILABLE);
      // The client accepted the server; the server refused the client's certificate in the handshake.
      expect(infos[0]!.flags).toContain('UF');
    } finally {
      stranger.close();
    }
  });
});

describe('certificates: validity and rotation', () => {
  it('expired and not-yet-valid client certificates are refused in the handshake', async () => {
    serverMesh.configure({ configYaml: STRICT });
    const day = 24 * 3600 * 1000;
    const now = Date.now();
    const expired = await issueIdentity(ca, { spiffeId: spiffe('caller'), notBefore: new Date(now - 2 * day), notAfter: new Date(now - day) });
    const early = await issueIdentity(ca, { spiffeId: spiffe('caller'), notBefore: new Date(now + day), notAfter: new Date(now + 2 * day) });
    for (const m of [expired, early]) expect(await codeOf(say(caller('echo', '', undefined, fixed(m)), 'x'))).toBe(grpc.status.UNAVAILABLE);
    expect((await say(caller('echo'), 'valid')).server).toBe('cluster.local/ns/default/sa/caller|true|');
  });

  it('rotating the server and client certificates under load fails no call', async () => {
    serverMesh.configure({ configYaml: STRICT });
    const c = caller('echo');
    const before = serverIdentity.current().certChainPem;
    let failed = 0;
    let done = 0;
    const worker = async () => {
      for (let i = 0; i < 50; i++) {
        try {
          await say(c, `r${i}`);
        } catch {
          failed++;
        }
        done++;
      }
    };
    const rotations = (async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 30));
        await Promise.all([serverIdentity.rotateNow(), callerIdentity.rotateNow()]);
      }
    })();
    await Promise.all([worker(), worker(), worker(), worker(), rotations]);
    expect(done).toBe(200);
    expect(failed).toBe(0);
    expect(serverIdentity.current().certChainPem).not.toBe(before);
    // New connections after the rotation use the new certificates.
    expect((await say(caller('echo'), 'after')).server).toBe('cluster.local/ns/default/sa/caller|true|');
  });
});

describe('AuthorizationPolicy and RequestAuthentication on gRPC calls', () => {
  it('ALLOW by method path and principal; other methods get PERMISSION_DENIED "RBAC: access denied"', async () => {
    serverMesh.configure({ configYaml: `${STRICT}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/caller]}}]
    to: [{operation: {paths: [/meshwork.test.Echo/Say], methods: [POST]}}]
` });
    const c = caller('echo');
    expect((await say(c, 'ok')).text).toBe('ok');
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      const s = (c as unknown as { Watch(m: Msg): grpc.ClientReadableStream<Msg> }).Watch({ text: 'w' });
      s.on('data', () => {});
      s.on('error', (e: grpc.ServiceError) => resolve(e));
      s.on('end', () => resolve(null));
    });
    expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err?.details).toBe('RBAC: access denied');
  });

  it('DENY on metadata (request.headers) wins over ALLOW', async () => {
    serverMesh.configure({ configYaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-beta, namespace: default}
spec:
  action: DENY
  rules: [{when: [{key: "request.headers[x-channel]", values: [beta]}]}]
` });
    const c = caller(null);
    expect(await codeOf(say(c, 'a'))).toBe(0);
    const md = { 'x-channel': 'beta' };
    expect(await codeOf(say(c, 'b', { metadata: md }))).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('JWT from metadata: invalid is UNAUTHENTICATED "Jwt verification fails", valid gives the claims, missing is denied by requestPrincipals', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    serverMesh.configure({ configYaml: `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  jwtRules:
  - issuer: https://issuer.example
    jwks: '${JSON.stringify({ keys: [jwk] })}'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: need-jwt, namespace: default}
spec:
  action: ALLOW
  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]
` });
    const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://issuer.example').setIssuedAt().setExpirationTime('1h').sign(privateKey);
    const c = caller(null);
    const ok = await say(c, 'j', { metadata: { authorization: `Bearer ${token}` } });
    expect(ok.server).toBe('anonymous|false|alice');
    const bad = await say(c, 'j', { metadata: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } }).then(() => null, (e: grpc.ServiceError) => e);
    expect(bad?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(bad?.details).toBe('Jwt verification fails');
    expect(await codeOf(say(c, 'none'))).toBe(grpc.status.PERMISSION_DENIED);
  });
});
