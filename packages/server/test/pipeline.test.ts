/** The pipeline on its own (no one-port listener): order of the checks and the form of its replies. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePeerMetadata } from '@meshwork/telemetry';
import { createInbound, createMeshServer, runInbound } from '../src/index.js';

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(configYaml: string) {
  const inbound = createInbound({ workload: { namespace: 'foo', labels: { app: 'httpbin' } }, configYaml });
  const server = http.createServer((req, res) => runInbound(inbound, req, res, (_req, r) => r.end('ok')));
  servers.push(server);
  server.on('close', () => inbound.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string } | 'closed'> {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    }).on('error', () => resolve('closed'));
  });
}

const jwt = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "https://issuer.test", jwks: '{"keys":[]}'}]
`;

describe('the inbound pipeline without the one-port listener', () => {
  it('PeerAuthentication comes first: plaintext with a bad token on a STRICT workload is closed, not answered 401', async () => {
    const port = await serve(`${jwt}---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: STRICT}}
`);
    expect(await get(port, { authorization: 'Bearer not.a.jwt' })).toBe('closed');
  });

  it('a bad token on a PERMISSIVE workload gets Envoy\'s 401; a gRPC caller gets grpc-status 16 instead', async () => {
    const port = await serve(jwt);
    const plain = await get(port, { authorization: 'Bearer not-a-jwt' });
    expect(plain).toMatchObject({ status: 401 });
    expect((plain as { headers: http.IncomingHttpHeaders }).headers['www-authenticate']).toMatch(/^Bearer realm="http:\/\/.*", error="invalid_token"$/);
    const grpc = await get(port, { authorization: 'Bearer not-a-jwt', 'content-type': 'application/grpc' });
    expect(grpc).toMatchObject({ status: 200, body: '' });
    expect((grpc as { headers: http.IncomingHttpHeaders }).headers['grpc-status']).toBe('16');
  });

  it('an RBAC denial is Envoy\'s 403 text, or grpc-status 7 (PERMISSION_DENIED) for gRPC callers', async () => {
    const port = await serve(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: foo}
spec: {action: DENY, rules: [{}]}
`);
    expect(await get(port)).toMatchObject({ status: 403, body: 'RBAC: access denied' });
    const grpc = await get(port, { 'content-type': 'application/grpc' });
    expect((grpc as { headers: http.IncomingHttpHeaders }).headers['grpc-status']).toBe('7');
    expect((grpc as { headers: http.IncomingHttpHeaders }).headers['grpc-message']).toBe('RBAC: access denied');
  });
});

describe('JWT without a token costs no promise', () => {
  it('authenticate answers synchronously when no rule finds a token, and with a Promise when one does', async () => {
    const { JwtAuthenticator } = await import('../src/index.js');
    const { compileSnapshot, loadText } = await import('@meshwork/policy');
    const rules = compileSnapshot(loadText(jwt, 'jwt.yaml').resources, { namespace: 'foo', labels: {} }).inbound.jwtRules;
    const auth = new JwtAuthenticator();
    try {
      const none = auth.authenticate(rules, { method: 'GET', target: '/', headers: {} });
      expect(none instanceof Promise).toBe(false);
      expect(none).toMatchObject({ kind: 'none' });
      const some = auth.authenticate(rules, { method: 'GET', target: '/', headers: { authorization: 'Bearer a.b.c' } });
      expect(some instanceof Promise).toBe(true);
      expect(await some).toMatchObject({ kind: 'invalid', status: 401 });
    } finally {
      auth.close();
    }
  });
});

describe('the exchange headers leave no trace in the request the handler gets', () => {
  // A caller's exchange pair, as a meshed client sends it (the value: any metadata encoding).
  const exchange = { 'x-envoy-peer-metadata-id': 'sidecar~10.0.0.1~productpage-v1.default~default.svc.cluster.local', 'x-envoy-peer-metadata': encodePeerMetadata({ instanceName: 'productpage-v1', namespace: 'default', workloadName: 'productpage-v1' }) };
  const seen = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // node:http builds headersDistinct from rawHeaders up to the count it parsed: it threw here
    // once the pair was cut out of rawHeaders.
    try {
      res.end(JSON.stringify({ raw: req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()), headers: Object.keys(req.headers), distinct: Object.keys(req.headersDistinct), accept: req.headersDistinct['x-two'] }));
    } catch (e) {
      res.statusCode = 500;
      res.end(String(e));
    }
  };

  async function check(port: number) {
    const r = await get(port, { ...exchange, 'x-two': 'a' });
    expect(r).toMatchObject({ status: 200 });
    const body = JSON.parse((r as { body: string }).body) as { raw: string[]; headers: string[]; distinct: string[]; accept: string[] };
    for (const names of [body.raw, body.headers, body.distinct]) {
      expect(names).toContain('x-two');
      expect(names).not.toContain('x-envoy-peer-metadata');
      expect(names).not.toContain('x-envoy-peer-metadata-id');
    }
    expect(body.accept).toEqual(['a']);
  }

  it("node:http's own request class (an application's server): headersDistinct is rebuilt", async () => {
    const inbound = createInbound({ workload: { namespace: 'foo', labels: { app: 'httpbin' } } });
    const server = http.createServer((req, res) => runInbound(inbound, req, res, seen));
    servers.push(server);
    server.on('close', () => inbound.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await check((server.address() as AddressInfo).port);
  });

  it("the answer pair is an ordinary response header: the handler reads it, may drop it, and the caller gets what is left", async () => {
    // The pair is stored without setHeader's per-response character check (it is checked once):
    // it must still be in node:http's own header store, like any header set with setHeader.
    const inbound = createInbound({ workload: { namespace: 'foo', labels: { app: 'httpbin' } } });
    const server = http.createServer((req, res) => runInbound(inbound, req, res, (rq, rs) => {
      const names = rs.getHeaderNames();
      const id = rs.getHeader('x-envoy-peer-metadata-id');
      rs.setHeader('x-after', '1');
      if (rq.url === '/drop') rs.removeHeader('x-envoy-peer-metadata');
      rs.end(JSON.stringify({ names, id }));
    }));
    servers.push(server);
    server.on('close', () => inbound.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const answer = async (path: string) => new Promise<{ headers: http.IncomingHttpHeaders; body: { names: string[]; id: string } }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, headers: exchange, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c)).on('end', () => resolve({ headers: res.headers, body: JSON.parse(body) }));
      }).on('error', reject);
    });
    for (let i = 0; i < 3; i++) {
      const { headers, body } = await answer('/');
      expect(body.names).toEqual(expect.arrayContaining(['x-envoy-peer-metadata', 'x-envoy-peer-metadata-id']));
      expect(body.id).toMatch(/^sidecar~/);
      expect(headers['x-envoy-peer-metadata-id']).toBe(body.id);
      expect(typeof headers['x-envoy-peer-metadata']).toBe('string');
      expect(headers['x-after']).toBe('1');
    }
    const dropped = await answer('/drop');
    expect(dropped.headers['x-envoy-peer-metadata']).toBeUndefined();
    expect(dropped.headers['x-envoy-peer-metadata-id']).toBe(dropped.body.id);
  });

  it('a MeshServer (MeshIncomingMessage): headersDistinct reads rawHeaders as they are', async () => {
    const server = createMeshServer(seen, { workload: { namespace: 'foo', labels: { app: 'httpbin' } } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await check((server.address() as AddressInfo).port);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
