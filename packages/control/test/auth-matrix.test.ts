/**
 * The auth matrix of API v1 over real HTTPS (startControlService: temp data directory, its own
 * CA, 127.0.0.1 port 0, an injected clock): every route, in the variants where scope
 * matters, × every kind of caller — no token, an unknown join token, a near-miss of the admin
 * token, a revoked join token, an expired one, a join token of another namespace, one of the
 * right namespace but another service account, the right one, and the admin — with the status
 * each must get. No answer may carry a token.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, ROUTES, startControlService, type ControlService } from '../src/index.js';
import { workloadCsr } from './support.js';

const ADMIN = 'matrix-admin-token-0123456789abcdef';

/** Who calls. The first five never get past authentication. */
const CALLERS = ['none', 'unknownJoin', 'nearAdmin', 'revoked', 'expired', 'otherNs', 'otherSa', 'join', 'admin'] as const;
type Caller = (typeof CALLERS)[number];
const UNAUTHENTICATED: readonly Caller[] = ['none', 'unknownJoin', 'nearAdmin', 'revoked', 'expired'];

const CONFIG = `
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: reviews-v1, namespace: shop }
spec:
  metadata: { labels: { app: reviews } }
  template: { serviceAccount: reviews }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: ratings, namespace: shop }
spec:
  template: { serviceAccount: ratings }
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: app, namespace: other }
spec:
  template: { serviceAccount: app }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: other }
spec: { hosts: [web], http: [{ route: [{ destination: { host: web } }] }] }
`;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

interface Ctx {
  service: ControlService;
  ca: string;
  tokens: Record<Caller, string | null>;
  /** A registered workload of shop (SA reviews) and of other (SA app). */
  shopId: string;
  otherId: string;
  csr: Record<'shopReviews' | 'shopRatings' | 'otherReviews' | 'foreignDomain', string>;
}

/** One HTTPS call trusting the service's CA. A watch stream is read up to its first snapshot, then dropped. */
function call(c: Ctx, caller: Caller, method: string, path: string, body?: string, type = 'application/json'): Promise<Reply> {
  const token = c.tokens[caller];
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1', port: c.service.port, method, path, agent: false, ca: c.ca,
        headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        const stream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: stream || !text ? undefined : JSON.parse(text) });
        res.on('data', (d: string) => {
          text += d;
          if (stream && /\n\nid: [^\n]+\nevent: snapshot\ndata: [^\n]*\n\n/.test(`\n\n${text}`)) {
            done();
            req.destroy();
          }
        });
        res.on('end', done);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end(body);
  });
}

interface Case {
  name: string;
  method: string;
  path: (c: Ctx) => string;
  body?: (c: Ctx) => string;
  type?: string;
  /** Runs (as the admin, or on the store) before each caller's request: what a destructive request consumes. */
  setup?: (c: Ctx) => Promise<string | void>;
  /** The status of each authenticated caller; the unauthenticated ones always get 401. */
  expect: Record<'otherNs' | 'otherSa' | 'join' | 'admin', number>;
}

const enc = encodeURIComponent;
const json = (v: unknown): string => JSON.stringify(v);
const by = (otherNs: number, otherSa: number, joinStatus: number, admin: number) => ({ otherNs, otherSa, join: joinStatus, admin });

let victims = 0;
/** The path variable a destructive case's setup made. */
let made = '';

const CASES: Case[] = [
  // Resources: join tokens read their own namespace only, and never write.
  { name: 'apply a batch', method: 'POST', path: () => '/v1/resources:apply', type: 'application/yaml', body: () => 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: new, namespace: shop}\nspec: {host: reviews}\n', expect: by(403, 403, 403, 200) },
  { name: 'list resources of all namespaces', method: 'GET', path: () => '/v1/resources', expect: by(403, 403, 403, 200) },
  { name: 'list resources with an empty namespace', method: 'GET', path: () => '/v1/resources?namespace=', expect: by(403, 403, 403, 200) },
  { name: 'list resources of its own namespace', method: 'GET', path: () => '/v1/resources?namespace=shop&kind=VirtualService', expect: by(403, 200, 200, 200) },
  { name: 'list resources of another namespace', method: 'GET', path: () => '/v1/resources?namespace=other', expect: by(200, 403, 403, 200) },
  { name: 'list resources, own namespace first, another second', method: 'GET', path: () => '/v1/resources?namespace=shop&namespace=other', expect: by(403, 200, 200, 200) },
  { name: 'get a resource of its own namespace', method: 'GET', path: () => '/v1/resources/VirtualService/shop/reviews', expect: by(403, 200, 200, 200) },
  { name: 'get a resource of another namespace', method: 'GET', path: () => '/v1/resources/VirtualService/other/web', expect: by(200, 403, 403, 200) },
  // 403 before the lookup: whether it exists does not leak.
  { name: 'get a missing resource of another namespace', method: 'GET', path: () => '/v1/resources/VirtualService/other/missing', expect: by(404, 403, 403, 404) },
  { name: 'get a resource through an encoded ../ namespace', method: 'GET', path: () => `/v1/resources/VirtualService/${enc('shop/../other')}/web`, expect: by(403, 403, 403, 404) },
  {
    name: 'delete a resource of its own namespace',
    method: 'DELETE',
    path: () => `/v1/resources/DestinationRule/shop/${made}`,
    setup: async (c) => {
      const name = `victim-${victims++}`;
      await c.service.store.applyBatch([{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'shop' }, spec: { host: 'reviews' } }]);
      return name;
    },
    expect: by(403, 403, 403, 200),
  },

  // Registration: into its own namespace's groups, with the group's service account only.
  { name: 'register into its own group', method: 'POST', path: () => '/v1/workloads:register', body: () => json({ group: 'shop/reviews-v1', address: '10.0.1.1' }), expect: by(403, 403, 200, 200) },
  { name: 'register into a group of its namespace with another service account', method: 'POST', path: () => '/v1/workloads:register', body: () => json({ group: 'shop/ratings', address: '10.0.1.2' }), expect: by(403, 200, 403, 200) },
  { name: 'register into a group of another namespace', method: 'POST', path: () => '/v1/workloads:register', body: () => json({ group: 'other/app', address: '10.0.1.3' }), expect: by(403, 403, 403, 200) },
  { name: 'register into a missing group of another namespace', method: 'POST', path: () => '/v1/workloads:register', body: () => json({ group: 'other/missing', address: '10.0.1.4' }), expect: by(404, 403, 403, 404) },
  { name: 'register claiming another service account', method: 'POST', path: () => '/v1/workloads:register', body: () => json({ group: 'shop/reviews-v1', address: '10.0.1.5', serviceAccount: 'admin' }), expect: by(403, 403, 400, 400) },

  // Workloads: read in its own namespace only; heartbeat, watch, ack and deregister only workloads of its own
  // namespace that run as its own service account (the shop workloads run as reviews, so otherSa, scoped to ratings,
  // gets 403; those of other run as app, so otherNs, scoped to other/reviews, gets 403 there too).
  { name: 'list workloads of all namespaces', method: 'GET', path: () => '/v1/workloads', expect: by(403, 403, 403, 200) },
  { name: 'list workloads of its own namespace', method: 'GET', path: () => '/v1/workloads?namespace=shop', expect: by(403, 200, 200, 200) },
  { name: 'list workloads of another namespace', method: 'GET', path: () => '/v1/workloads?namespace=other', expect: by(200, 403, 403, 200) },
  { name: 'heartbeat a workload of its own namespace', method: 'POST', path: (c) => `/v1/workloads/${enc(c.shopId)}:heartbeat`, expect: by(403, 403, 200, 200) },
  { name: 'heartbeat a workload of another namespace', method: 'POST', path: (c) => `/v1/workloads/${enc(c.otherId)}:heartbeat`, expect: by(403, 403, 403, 200) },
  { name: 'heartbeat an id without a namespace', method: 'POST', path: () => '/v1/workloads/no-namespace:heartbeat', expect: by(403, 403, 403, 404) },
  { name: 'heartbeat through an encoded ../ id', method: 'POST', path: (c) => `/v1/workloads/${enc(`shop/../${c.otherId}`)}:heartbeat`, expect: by(403, 404, 404, 404) },
  { name: 'watch a workload of its own namespace', method: 'GET', path: (c) => `/v1/workloads/${enc(c.shopId)}:watch`, expect: by(403, 403, 200, 200) },
  { name: 'watch a workload of another namespace', method: 'GET', path: (c) => `/v1/workloads/${enc(c.otherId)}:watch`, expect: by(403, 403, 403, 200) },
  { name: 'watch a missing workload of its own namespace', method: 'GET', path: () => `/v1/workloads/${enc('shop/missing')}:watch`, expect: by(403, 404, 404, 404) },
  { name: 'watch a missing workload of another namespace', method: 'GET', path: () => `/v1/workloads/${enc('other/missing')}:watch`, expect: by(404, 403, 403, 404) },
  { name: 'ack for a workload of its own namespace', method: 'POST', path: (c) => `/v1/workloads/${enc(c.shopId)}:ack`, body: () => json({ version: 'v-matrix' }), expect: by(403, 403, 200, 200) },
  { name: 'ack for a workload of another namespace', method: 'POST', path: (c) => `/v1/workloads/${enc(c.otherId)}:ack`, body: () => json({ version: 'v-matrix', error: 'forged NACK' }), expect: by(403, 403, 403, 200) },
  { name: 'status of all namespaces', method: 'GET', path: () => '/v1/status', expect: by(403, 403, 403, 200) },
  { name: 'status of its own namespace', method: 'GET', path: () => '/v1/status?namespace=shop', expect: by(403, 200, 200, 200) },
  { name: 'status of another namespace', method: 'GET', path: () => '/v1/status?namespace=other', expect: by(200, 403, 403, 200) },
  {
    name: 'deregister a workload of its own namespace',
    method: 'DELETE',
    path: () => `/v1/workloads/${enc(made)}`,
    setup: async (c) => {
      const name = `victim-${victims++}`;
      await c.service.store.upsertWorkload({ id: `shop/${name}`, namespace: 'shop', name, address: '10.0.9.1', ports: {}, labels: {}, serviceAccount: 'reviews', locality: '' });
      return `shop/${name}`;
    },
    expect: by(403, 403, 200, 200),
  },
  {
    name: 'deregister a workload of its own namespace that runs as another service account',
    method: 'DELETE',
    path: () => `/v1/workloads/${enc(made)}`,
    setup: async (c) => {
      const name = `victim-${victims++}`;
      await c.service.store.upsertWorkload({ id: `shop/${name}`, namespace: 'shop', name, address: '10.0.9.3', ports: {}, labels: {}, serviceAccount: 'ratings', locality: '' });
      return `shop/${name}`;
    },
    expect: by(403, 200, 403, 200),
  },
  {
    name: 'deregister a workload of another namespace',
    method: 'DELETE',
    path: () => `/v1/workloads/${enc(made)}`,
    setup: async (c) => {
      const name = `victim-${victims++}`;
      await c.service.store.upsertWorkload({ id: `other/${name}`, namespace: 'other', name, address: '10.0.9.2', ports: {}, labels: {}, serviceAccount: 'app', locality: '' });
      return `other/${name}`;
    },
    expect: by(403, 403, 403, 200),
  },

  // Certificates: a join token gets its own SPIFFE ID only; the admin any ID of the trust domain.
  { name: 'sign a CSR for shop/reviews', method: 'POST', path: () => '/v1/certificates:sign', body: (c) => json({ csr: c.csr.shopReviews }), expect: by(403, 403, 200, 200) },
  { name: 'sign a CSR for shop/ratings', method: 'POST', path: () => '/v1/certificates:sign', body: (c) => json({ csr: c.csr.shopRatings }), expect: by(403, 200, 403, 200) },
  { name: 'sign a CSR for other/reviews', method: 'POST', path: () => '/v1/certificates:sign', body: (c) => json({ csr: c.csr.otherReviews }), expect: by(200, 403, 403, 200) },
  { name: 'sign a CSR for shop/reviews of another trust domain', method: 'POST', path: () => '/v1/certificates:sign', body: (c) => json({ csr: c.csr.foreignDomain }), expect: by(403, 403, 403, 403) },
  { name: 'read the trust bundle', method: 'GET', path: () => '/v1/trust-bundle', expect: by(200, 200, 200, 200) },

  // Tokens: the admin only.
  { name: 'create a join token', method: 'POST', path: () => '/v1/tokens', body: () => json({ namespace: 'shop', serviceAccount: 'admin' }), expect: by(403, 403, 403, 201) },
  {
    name: 'revoke a join token',
    method: 'DELETE',
    path: () => `/v1/tokens/${made}`,
    setup: async (c) => {
      const raw = `mwj_victim-${victims++}-${'x'.repeat(40)}`;
      const hash = hashToken(raw);
      await c.service.store.putToken({ hash, namespace: 'shop', serviceAccount: 'reviews', expiresAtMs: Date.now() + 3_600_000 * 48, createdAtMs: Date.now() });
      return hash;
    },
    expect: by(403, 403, 403, 200),
  },
  { name: 'revoke an unknown join token', method: 'DELETE', path: () => `/v1/tokens/${'0'.repeat(64)}`, expect: by(403, 403, 403, 404) },
];

describe('API v1 auth matrix over HTTPS', () => {
  let dir: string;
  let c: Ctx;
  const clock = { now: Date.now() };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshwork-auth-matrix-'));
    // Rate limits are tested apart (rate-limit.test.ts); here they would only turn a cell into 429.
    const service = await startControlService({ dataDir: join(dir, 'data'), port: 0, adminToken: ADMIN, now: () => clock.now, rateLimit: false, pollIntervalMs: 0 });
    const ca = readFileSync(service.rootCertPath, 'utf8');
    c = { service, ca, tokens: { none: null, unknownJoin: `mwj_${'A'.repeat(43)}`, nearAdmin: `${ADMIN}x`, admin: ADMIN } as Ctx['tokens'], shopId: '', otherId: '', csr: {} as Ctx['csr'] };

    const applied = await call(c, 'admin', 'POST', '/v1/resources:apply', CONFIG, 'application/yaml');
    expect(applied.status).toBe(200);
    const token = async (namespace: string, serviceAccount: string, ttlSeconds?: number): Promise<{ token: string; hash: string }> => {
      const r = await call(c, 'admin', 'POST', '/v1/tokens', json({ namespace, serviceAccount, ttlSeconds }));
      expect(r.status).toBe(201);
      return r.body;
    };
    c.tokens.join = (await token('shop', 'reviews')).token;
    c.tokens.otherSa = (await token('shop', 'ratings')).token;
    c.tokens.otherNs = (await token('other', 'reviews')).token;
    const revoked = await token('shop', 'reviews');
    expect((await call(c, 'admin', 'DELETE', `/v1/tokens/${revoked.hash}`)).status).toBe(200);
    c.tokens.revoked = revoked.token;
    c.tokens.expired = (await token('shop', 'reviews', 60)).token;
    clock.now += 120_000;

    const register = async (group: string, address: string): Promise<string> => {
      const r = await call(c, 'admin', 'POST', '/v1/workloads:register', json({ group, address }));
      expect(r.status).toBe(200);
      return r.body.id;
    };
    c.shopId = await register('shop/reviews-v1', '10.0.0.1');
    c.otherId = await register('other/app', '10.0.0.2');
    c.csr = {
      shopReviews: (await workloadCsr('spiffe://cluster.local/ns/shop/sa/reviews')).csr,
      shopRatings: (await workloadCsr('spiffe://cluster.local/ns/shop/sa/ratings')).csr,
      otherReviews: (await workloadCsr('spiffe://cluster.local/ns/other/sa/reviews')).csr,
      foreignDomain: (await workloadCsr('spiffe://evil.example/ns/shop/sa/reviews')).csr,
    };
  });

  afterAll(async () => {
    await c?.service.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every route × every caller gets the status its scope allows, and no answer carries a token', async () => {
    const secrets = CALLERS.map((k) => c.tokens[k]).filter((t): t is string => t !== null);
    const mismatches: string[] = [];
    const leaks: string[] = [];
    let cells = 0;
    for (const k of CASES) {
      for (const caller of CALLERS) {
        made = (await k.setup?.(c)) ?? '';
        const want = UNAUTHENTICATED.includes(caller) ? 401 : k.expect[caller as keyof Case['expect']];
        const r = await call(c, caller, k.method, k.path(c), k.body?.(c), k.type);
        cells++;
        if (r.status !== want) mismatches.push(`${k.name} as ${caller}: ${r.status} (want ${want}) ${r.text.slice(0, 200)}`);
        for (const s of secrets) if (r.text.includes(s)) leaks.push(`${k.name} as ${caller}: the answer holds the ${CALLERS.find((x) => c.tokens[x] === s)} token`);
        // What each refusal says: 401 asks for a bearer token (and says when it expired), 403 names the scope, never the token.
        if (r.status === 401) {
          if (r.body?.error !== 'unauthenticated' || !String(r.headers['www-authenticate']).startsWith('Bearer')) mismatches.push(`${k.name} as ${caller}: 401 without unauthenticated/WWW-Authenticate`);
          if ((caller === 'expired') !== (r.body?.reason === 'expired')) mismatches.push(`${k.name} as ${caller}: 401 reason ${r.body?.reason}`);
        }
        if (r.status === 403 && caller !== 'admin') {
          const scope = { join: ['shop', 'reviews'], otherSa: ['shop', 'ratings'], otherNs: ['other', 'reviews'] }[caller as 'join' | 'otherSa' | 'otherNs'];
          if (r.body?.error !== 'forbidden' || r.body?.scope?.namespace !== scope[0] || r.body?.scope?.serviceAccount !== scope[1]) mismatches.push(`${k.name} as ${caller}: 403 without its scope: ${r.text.slice(0, 200)}`);
        }
      }
    }
    console.log(`auth matrix: ${CASES.length} routes and variants × ${CALLERS.length} callers = ${cells} cells, over HTTPS`);
    expect(cells).toBe(CASES.length * CALLERS.length);
    expect(mismatches).toEqual([]);
    expect(leaks).toEqual([]);
  });

  it('covers every route and method the server serves', () => {
    made = 'placeholder';
    const served = ROUTES.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.path}`));
    const covered = new Set(
      CASES.map((k) => {
        const path = k.path(c).split('?')[0]!;
        const route = ROUTES.find((r) => r.pattern.test(path));
        return `${k.method} ${route?.path}`;
      }),
    );
    expect([...covered].sort()).toEqual([...served].sort());
  });
});
