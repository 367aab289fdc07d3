/**
 * Test helpers for RequestAuthentication: a real JWKS server on 127.0.0.1, keys made by jose,
 * tokens signed by jose, and jwtRules compiled from real Istio YAML by @meshwork/policy.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { compileSnapshot, loadText, validateResources, type JwtRuleRef, type Snapshot, type WorkloadIdentity } from '@meshwork/policy';

export interface TestKey {
  alg: 'RS256' | 'ES256';
  kid: string;
  privateKey: CryptoKey;
  /** Public JWK with kid, alg and use. */
  jwk: JWK;
}

export async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

export function jwksOf(...keys: TestKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Signs `claims` with `key`; `iat` now and `exp` in an hour unless given. `header` overrides the protected header (e.g. another kid). */
export function sign(key: TestKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ iat: nowSeconds(), exp: nowSeconds() + 3600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
    .sign(key.privateKey);
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A token assembled by hand (for `alg: none` and other tokens jose refuses to make). */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

export interface JwksServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  jwksUrl: string;
  /** Requests served per path. */
  hits(path?: string): number;
  setJwks(jwks: unknown): void;
  /** Answer every request with this status instead (503 = the JWKS endpoint is down). */
  setStatus(status: number | undefined): void;
  close(): Promise<void>;
}

/** A JWKS server (and OpenID discovery document) on 127.0.0.1, port 0. */
export async function startJwksServer(jwks: unknown): Promise<JwksServer> {
  let current = jwks;
  let status: number | undefined;
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(current));
    } else if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: origin, jwks_uri: `${origin}/jwks` }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    jwksUrl: `${origin}/jwks`,
    hits: (path = '/jwks') => counts.get(path) ?? 0,
    setJwks: (j) => {
      current = j;
    },
    setStatus: (s) => {
      status = s;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A 127.0.0.1 URL nothing listens on (a server bound, then closed). */
export async function deadUrl(path = '/jwks'): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}${path}`;
}

export const workload: WorkloadIdentity = { namespace: 'default', labels: { app: 'api' }, serviceAccount: 'api' };

/** Loads and validates Istio YAML (no error allowed) and compiles the workload's snapshot. */
export function snapshotFromYaml(yaml: string, w: WorkloadIdentity = workload): Snapshot {
  const loaded = loadText(yaml, 'test.yaml');
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`YAML does not load: ${errors.map((d) => d.message).join('; ')}`);
  const validated = validateResources(loaded.resources);
  const invalid = validated.diagnostics.filter((d) => d.severity === 'error');
  if (invalid.length > 0) throw new Error(`Istio rejects the YAML: ${invalid.map((d) => `${d.path ?? ''}: ${d.message}`).join('; ')}`);
  return compileSnapshot(validated.valid, w);
}

/** The workload's jwtRules compiled from real RequestAuthentication YAML. */
export function rulesFromYaml(yaml: string, w: WorkloadIdentity = workload): JwtRuleRef[] {
  return snapshotFromYaml(yaml, w).inbound.jwtRules;
}

/** A RequestAuthentication selecting the test workload, with the given jwtRules (YAML block, indented by 2). */
export function requestAuthentication(name: string, jwtRulesYaml: string): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: ${name}
  namespace: default
spec:
  selector:
    matchLabels:
      app: api
  jwtRules:
${jwtRulesYaml.replace(/^/gm, '  ')}
`;
}

/** A YAML double-quoted scalar holding `value` (JSON string escapes are valid YAML). */
export const yamlString = (value: string): string => JSON.stringify(value);
