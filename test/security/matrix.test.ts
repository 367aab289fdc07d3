/**
 * The security matrix of issue #5, one table run against node:http (createMeshServer),
 * Express (meshworkMiddleware) and Fastify (meshworkPlugin): PeerAuthentication modes and
 * portLevelMtls on one port, client certificates that must be refused, AuthorizationPolicy
 * ALLOW / DENY / AUDIT / dry-run with Istio's path normalisation, and RequestAuthentication
 * JWTs — over real TLS sockets on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { CertificateAuthority, createCaIdentitySource, issueIdentity, type CaIdentitySource, type IdentityMaterial } from '@meshwork/identity';
import { call, SERVER_KINDS, startMeshedServer, type CallOptions, type CallResult, type MeshedServer } from './support.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;
const DAY = 86_400_000;

let ca: CertificateAuthority;
let serverIdentity: CaIdentitySource;
const certs: Record<'sleep' | 'other' | 'expired' | 'notYetValid' | 'foreign', IdentityMaterial> = {} as never;
let jwtKey: CryptoKey;
let jwks: string;
const ISSUER = 'https://issuer.meshwork.test';

beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned({ trustDomain: TD });
  const foreignCa = await CertificateAuthority.selfSigned({ trustDomain: TD });
  serverIdentity = await createCaIdentitySource({ signer: ca, spiffeId: id('foo', 'httpbin') });
  const now = Date.now();
  certs.sleep = await issueIdentity(ca, { spiffeId: id('foo', 'sleep') });
  certs.other = await issueIdentity(ca, { spiffeId: id('bar', 'other') });
  certs.expired = await issueIdentity(ca, { spiffeId: id('foo', 'sleep'), notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) });
  certs.notYetValid = await issueIdentity(ca, { spiffeId: id('foo', 'sleep'), notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) });
  certs.foreign = await issueIdentity(foreignCa, { spiffeId: id('foo', 'sleep') });
  const kp = await generateKeyPair('RS256');
  jwtKey = kp.privateKey as CryptoKey;
  jwks = JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
});

afterAll(async () => {
  await serverIdentity?.close();
});

const token = (claims: Record<string, unknown>, opts: { exp?: number; nbf?: number; iss?: string } = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(opts.iss ?? ISSUER).setSubject(String(claims.sub ?? 'alice')).setIssuedAt(now).setNotBefore(opts.nbf ?? now - 10).setExpirationTime(opts.exp ?? now + 600).sign(jwtKey);
};

// ---- the configurations (a function of the server's port, for portLevelMtls) ----
const pa = (mode: string, extra = '') => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: ${mode}}}
${extra}`;
const workloadPa = (mode: string, port: number, portMode: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  mtls: {mode: ${mode}}
  portLevelMtls:
    ${port}: {mode: ${portMode}}
`;
const authz = (name: string, spec: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: foo}
spec:
${spec}`;
const reqAuthn = () => `---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks}'
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
`;

type Expect =
  | { closed: true }
  | { status: number; body?: string | RegExp; principal?: string | null; requestPrincipal?: string | null; audit?: string[]; dryRun?: string[]; authorization?: null; forwarded?: string };

interface Case {
  name: string;
  config: (port: number) => string;
  requests: { label: string; req: () => Promise<CallOptions> | CallOptions; expect: Expect }[];
}

const asSleep = (path = '/', extra: Partial<CallOptions> = {}): CallOptions => ({ as: certs.sleep, roots: ca.trustBundle.rootsPem, path, ...extra });

const CASES: Case[] = [
  {
    name: 'STRICT: only mTLS with a certificate chained to the mesh root',
    config: () => pa('STRICT'),
    requests: [
      { label: 'plaintext is closed before any HTTP exchange', req: () => ({ as: 'plaintext' }), expect: { closed: true } },
      { label: 'mTLS reaches the handler with the peer principal', req: () => asSleep(), expect: { status: 200, principal: 'cluster.local/ns/foo/sa/sleep' } },
      { label: 'TLS without a client certificate is refused', req: () => ({ as: 'tls-no-cert', roots: ca.trustBundle.rootsPem }), expect: { closed: true } },
      { label: 'an expired client certificate is refused', req: () => ({ as: certs.expired, roots: ca.trustBundle.rootsPem }), expect: { closed: true } },
      { label: 'a not-yet-valid client certificate is refused', req: () => ({ as: certs.notYetValid, roots: ca.trustBundle.rootsPem }), expect: { closed: true } },
      { label: 'a certificate of a foreign CA is refused', req: () => ({ as: certs.foreign, roots: ca.trustBundle.rootsPem }), expect: { closed: true } },
    ],
  },
  {
    name: 'PERMISSIVE (the default): plaintext and mTLS on one port',
    config: () => '',
    requests: [
      { label: 'plaintext is served, with no principal', req: () => ({ as: 'plaintext' }), expect: { status: 200, principal: null } },
      { label: 'mTLS is served, with the principal', req: () => asSleep(), expect: { status: 200, principal: 'cluster.local/ns/foo/sa/sleep' } },
    ],
  },
  {
    name: 'DISABLE: plaintext only',
    config: () => pa('DISABLE'),
    requests: [
      { label: 'plaintext is served', req: () => ({ as: 'plaintext' }), expect: { status: 200, principal: null } },
      { label: 'an mTLS handshake fails', req: () => asSleep(), expect: { closed: true } },
    ],
  },
  {
    name: 'portLevelMtls: this port PERMISSIVE under a workload-level STRICT',
    config: (port) => workloadPa('STRICT', port, 'PERMISSIVE'),
    requests: [{ label: 'plaintext is served on the PERMISSIVE port', req: () => ({ as: 'plaintext' }), expect: { status: 200, principal: null } }],
  },
  {
    name: 'portLevelMtls: this port STRICT under a namespace-level PERMISSIVE',
    config: (port) => pa('PERMISSIVE', `---\n${workloadPa('PERMISSIVE', port, 'STRICT')}`),
    requests: [
      { label: 'plaintext is closed', req: () => ({ as: 'plaintext' }), expect: { closed: true } },
      { label: 'mTLS is served', req: () => asSleep(), expect: { status: 200, principal: 'cluster.local/ns/foo/sa/sleep' } },
    ],
  },
  {
    name: 'AuthorizationPolicy ALLOW by principal',
    config: () => authz('allow-sleep', `  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/foo/sa/sleep]}}]}]
`),
    requests: [
      { label: 'the allowed principal gets through', req: () => asSleep('/get'), expect: { status: 200, principal: 'cluster.local/ns/foo/sa/sleep' } },
      { label: 'another principal is denied', req: () => ({ as: certs.other, roots: ca.trustBundle.rootsPem, path: '/get' }), expect: { status: 403, body: 'RBAC: access denied' } },
      { label: 'plaintext (no principal) is denied', req: () => ({ as: 'plaintext', path: '/get' }), expect: { status: 403, body: 'RBAC: access denied' } },
    ],
  },
  {
    name: 'AuthorizationPolicy DENY on paths and namespaces, with path normalisation',
    config: () => authz('deny-admin', `  action: DENY
  rules:
  - to: [{operation: {paths: [/admin/*], methods: [GET, POST]}}]
  - from: [{source: {namespaces: [bar]}}]
`),
    requests: [
      { label: 'a normal path is allowed', req: () => asSleep('/status/200'), expect: { status: 200 } },
      { label: '/admin/* is denied', req: () => asSleep('/admin/users'), expect: { status: 403, body: 'RBAC: access denied' } },
      { label: '/ok/../admin/users is normalised and denied', req: () => asSleep('/ok/../admin/users'), expect: { status: 403 } },
      { label: 'a percent-encoded path /%61dmin/x is normalised and denied', req: () => asSleep('/%61dmin/x'), expect: { status: 403 } },
      { label: 'a method outside the rule is allowed', req: () => asSleep('/admin/users', { method: 'DELETE' }), expect: { status: 200 } },
      { label: 'a caller from namespace bar is denied anywhere', req: () => ({ as: certs.other, roots: ca.trustBundle.rootsPem, path: '/status/200' }), expect: { status: 403 } },
    ],
  },
  {
    name: 'AUDIT and dry-run are reported, never enforced',
    config: () => authz('audit-get', `  action: AUDIT
  rules: [{to: [{operation: {methods: [GET]}}]}]
`) + `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: would-deny, namespace: foo, annotations: {istio.io/dry-run: "true"}}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/headers]}}]}]
`,
    requests: [
      { label: 'the request passes, AUDIT and the dry-run DENY are on the context', req: () => asSleep('/headers'), expect: { status: 200, audit: ['foo/audit-get'], dryRun: ['foo/would-deny'] } },
    ],
  },
  {
    name: 'CUSTOM has no provider in-process: requests its rules match are denied, as Istio does for an unusable provider',
    config: () => authz('ext-authz', `  action: CUSTOM
  provider: {name: my-ext-authz}
  rules: [{to: [{operation: {paths: [/private/*]}}]}]
`),
    requests: [
      { label: 'a path the CUSTOM rule matches is denied', req: () => asSleep('/private/x'), expect: { status: 403, body: 'RBAC: access denied' } },
      { label: 'other paths go on to DENY/ALLOW (none here) and are served', req: () => asSleep('/public'), expect: { status: 200 } },
    ],
  },
  {
    name: 'ipBlocks match the socket peer; remoteIpBlocks the last X-Forwarded-For hop, as a sidecar reads it',
    config: () => authz('deny-remote', `  action: DENY
  rules:
  - from: [{source: {remoteIpBlocks: [203.0.113.0/24]}}]
  - from: [{source: {notIpBlocks: [127.0.0.0/8]}}]
`),
    requests: [
      { label: 'the last hop in a denied block is denied', req: () => asSleep('/', { headers: { 'x-forwarded-for': '10.0.0.1, 203.0.113.7' } }), expect: { status: 403 } },
      { label: 'an earlier hop in the block is not the remote IP', req: () => asSleep('/', { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } }), expect: { status: 200 } },
      { label: 'without X-Forwarded-For the socket peer (127.0.0.1) decides', req: () => asSleep('/'), expect: { status: 200 } },
    ],
  },
  {
    name: 'RequestAuthentication with a policy that requires a request principal',
    config: () => reqAuthn() + authz('require-jwt', `  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules: [{from: [{source: {requestPrincipals: ["${ISSUER}/*"]}}]}]
`),
    requests: [
      { label: 'a valid token passes; the token is removed and the claim forwarded', req: async () => asSleep('/get', { headers: { authorization: `Bearer ${await token({ sub: 'alice' })}` } }), expect: { status: 200, requestPrincipal: `${ISSUER}/alice`, authorization: null, forwarded: 'alice' } },
      { label: 'a token in the access_token query parameter passes', req: async () => asSleep(`/get?access_token=${await token({ sub: 'bob' })}`), expect: { status: 200, requestPrincipal: `${ISSUER}/bob` } },
      { label: 'an expired token gets 401', req: async () => asSleep('/get', { headers: { authorization: `Bearer ${await token({ sub: 'alice' }, { exp: Math.floor(Date.now() / 1000) - 3600 })}` } }), expect: { status: 401, body: 'Jwt is expired' } },
      { label: 'a token of another issuer gets 401', req: async () => asSleep('/get', { headers: { authorization: `Bearer ${await token({ sub: 'alice' }, { iss: 'https://evil.test' })}` } }), expect: { status: 401, body: 'Jwt issuer is not configured' } },
      { label: 'a malformed token gets 401', req: () => asSleep('/get', { headers: { authorization: 'Bearer not-a-jwt' } }), expect: { status: 401 } },
      { label: 'no token: authentication passes, authorization denies', req: () => asSleep('/get'), expect: { status: 403, body: 'RBAC: access denied' } },
    ],
  },
];

function check(got: CallResult, want: Expect, where: string): void {
  if ('closed' in want) {
    expect('error' in got ? 'closed' : `HTTP ${got.status}`, where).toBe('closed');
    return;
  }
  if ('error' in got) throw new Error(`${where}: expected HTTP ${want.status}, the connection failed: ${got.error}`);
  expect(got.status, `${where}: ${got.body}`).toBe(want.status);
  if (want.body !== undefined) {
    if (typeof want.body === 'string') expect(got.body, where).toBe(want.body);
    else expect(got.body, where).toMatch(want.body);
  }
  if (want.principal !== undefined) expect(got.json?.principal, where).toBe(want.principal);
  if (want.requestPrincipal !== undefined) expect(got.json?.requestPrincipal, where).toBe(want.requestPrincipal);
  if (want.audit !== undefined) expect(got.json?.audit, where).toEqual(want.audit);
  if (want.dryRun !== undefined) expect(got.json?.dryRun, where).toEqual(want.dryRun);
  if (want.authorization !== undefined) expect(got.json?.authorization, where).toBe(want.authorization);
  if (want.forwarded !== undefined) expect(got.json?.forwarded, where).toBe(want.forwarded);
}

const tally: Record<string, { pass: number; total: number }> = {};

describe.each(SERVER_KINDS)('security matrix on %s', (kind) => {
  let server: MeshedServer;
  beforeAll(async () => {
    server = await startMeshedServer(kind, serverIdentity);
  });
  afterAll(async () => {
    await server?.close();
    if (kind === SERVER_KINDS[SERVER_KINDS.length - 1]) {
      // The figures for the issue's closing note.
      console.log(`security matrix: ${Object.entries(tally).map(([k, t]) => `${k} ${t.pass}/${t.total}`).join(', ')}`);
    }
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const applied = server.mesh.configure({ configYaml: c.config(server.port) });
      expect(applied.diagnostics.map((d) => d.message)).toEqual([]);
      const t = (tally[kind] ??= { pass: 0, total: 0 });
      for (const r of c.requests) {
        t.total++;
        check(await call(server.port, await r.req()), r.expect, `${kind} / ${c.name} / ${r.label}`);
        t.pass++;
      }
    });
  }
});
