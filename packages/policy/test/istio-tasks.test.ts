/**
 * The istio.io tasks, decided as Istio decides them: request routing, traffic shifting,
 * fault injection, request timeouts, authorization for HTTP traffic, mutual TLS migration.
 */
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { decideInbound } from '../src/decide/inbound.js';
import { decideOutbound, pickWeighted } from '../src/decide/outbound.js';
import { explainInboundJson, explainOutboundJson } from '../src/decide/explain.js';
import { loadPaths, loadText } from '../src/load/loader.js';
import type { Resource } from '../src/load/resource.js';
import type { WorkloadIdentity } from '../src/mesh.js';
import { bookinfoKube, bookinfoNet } from './support/corpus.js';

const productpage: WorkloadIdentity = { namespace: 'default', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'bookinfo-productpage' };
const reviewsV2: WorkloadIdentity = { namespace: 'default', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews' };

function bookinfo(...files: string[]): Resource[] {
  const r = loadPaths([bookinfoKube, bookinfoNet('destination-rule-all.yaml'), ...files.map(bookinfoNet)]);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.resources;
}

function outbound(resources: Resource[], w: WorkloadIdentity, url: string, headers: Record<string, string> = {}, method = 'GET') {
  const u = /^(https?):\/\/([^/]+)(.*)$/.exec(url)!;
  const port = /:(\d+)$/.exec(u[2]!) ? Number(/:(\d+)$/.exec(u[2]!)![1]) : 80;
  const snap = compileSnapshot(resources, w);
  const d = decideOutbound(snap, { method, scheme: u[1] as 'http', authority: u[2]!, port, target: u[3] || '/', headers: { host: u[2]!, ...headers } });
  return explainOutboundJson(d);
}

const DEFAULT_RETRIES = { attempts: 2, perTryTimeoutMs: null, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes' };

describe('request routing (virtual-service-all-v1, virtual-service-reviews-test-v2)', () => {
  it('sends every reviews request to v1', () => {
    const out = outbound(bookinfo('virtual-service-all-v1.yaml'), productpage, 'http://reviews:9080/reviews/0');
    expect(out).toMatchObject({
      host: 'reviews.default.svc.cluster.local', virtualService: 'default/reviews', rule: 0, action: 'route',
      destinations: [{ host: 'reviews.default.svc.cluster.local', subset: 'v1', port: 9080, weight: 100 }],
      timeoutMs: null, retries: DEFAULT_RETRIES, fault: null, mirror: null, redirect: null, directResponse: null,
    });
  });

  it('routes end-user jason to v2 and everyone else to v1', () => {
    const rs = bookinfo('virtual-service-reviews-test-v2.yaml');
    expect(outbound(rs, productpage, 'http://reviews:9080/reviews/0', { 'end-user': 'jason' })).toMatchObject({ rule: 0, destinations: [{ subset: 'v2', weight: 100 }] });
    expect(outbound(rs, productpage, 'http://reviews:9080/reviews/0', { 'end-user': 'Jason' })).toMatchObject({ rule: 1, destinations: [{ subset: 'v1' }] });
    expect(outbound(rs, productpage, 'http://reviews:9080/reviews/0')).toMatchObject({ rule: 1, destinations: [{ subset: 'v1' }] });
  });

  it('resolves reviews, reviews.default and the FQDN the same way, and not another namespace\'s short name', () => {
    const rs = bookinfo('virtual-service-all-v1.yaml');
    for (const h of ['reviews:9080', 'reviews.default:9080', 'reviews.default.svc:9080', 'reviews.default.svc.cluster.local:9080']) {
      expect(outbound(rs, productpage, `http://${h}/`)).toMatchObject({ virtualService: 'default/reviews', destinations: [{ subset: 'v1' }] });
    }
    const other = outbound(rs, { namespace: 'other', labels: {} }, 'http://reviews:9080/');
    expect(other).toMatchObject({ action: 'passthrough', host: 'reviews', destinations: [], retries: null, timeoutMs: null });
  });
});

describe('traffic shifting', () => {
  it.each([
    ['virtual-service-reviews-50-v3.yaml', [['v1', 50], ['v3', 50]]],
    ['virtual-service-reviews-80-20.yaml', [['v1', 80], ['v2', 20]]],
    ['virtual-service-reviews-90-10.yaml', [['v1', 90], ['v2', 10]]],
    ['virtual-service-reviews-v3.yaml', [['v3', 100]]],
  ])('%s', (file, want) => {
    const out = outbound(bookinfo(file), productpage, 'http://reviews:9080/reviews/0');
    expect(out.destinations.map((d) => [d.subset, d.weight])).toEqual(want);
  });

  it('splits 50/50 within statistical bounds', () => {
    const snap = compileSnapshot(bookinfo('virtual-service-reviews-50-v3.yaml'), productpage);
    const d = decideOutbound(snap, { method: 'GET', scheme: 'http', authority: 'reviews:9080', port: 9080, target: '/', headers: {} });
    const n = 20_000;
    let v3 = 0;
    for (let i = 0; i < n; i++) if (d.destinations[pickWeighted(d.destinations, Math.random())]!.subset === 'v3') v3++;
    // 6 standard deviations of a binomial(20000, 0.5): fails by chance about once in 10^9 runs.
    const sd = Math.sqrt(n * 0.25);
    expect(Math.abs(v3 - n / 2)).toBeLessThan(6 * sd);
  });
});

describe('fault injection', () => {
  it('delays ratings by 7s for jason only', () => {
    const rs = bookinfo('virtual-service-ratings-test-delay.yaml');
    expect(outbound(rs, reviewsV2, 'http://ratings:9080/ratings/0', { 'end-user': 'jason' })).toMatchObject({ rule: 0, fault: { delay: { ms: 7000, percent: 100 }, abort: null } });
    expect(outbound(rs, reviewsV2, 'http://ratings:9080/ratings/0')).toMatchObject({ rule: 1, fault: null });
  });

  it('aborts with 500 for jason', () => {
    const rs = bookinfo('virtual-service-ratings-test-abort.yaml');
    expect(outbound(rs, reviewsV2, 'http://ratings:9080/ratings/0', { 'end-user': 'jason' })).toMatchObject({ fault: { delay: null, abort: { httpStatus: 500, percent: 100 } } });
  });

  it('first match wins: the catch-all abort rule shadows the second rule', () => {
    const out = outbound(bookinfo('fault-injection-details-v1.yaml'), productpage, 'http://details:9080/details/0');
    expect(out).toMatchObject({ rule: 0, fault: { abort: { httpStatus: 555, percent: 100 } } });
  });
});

describe('request timeouts', () => {
  const yaml = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v2}
    timeout: 0.5s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - fault:
      delay: {percentage: {value: 100}, fixedDelay: 2s}
    route:
    - destination: {host: ratings, subset: v1}
`;
  it('gives reviews a 500 ms route timeout and ratings a 2 s delay, no timeout', () => {
    const rs = [...bookinfo(), ...loadText(yaml, 'timeouts.yaml', {}, 1000).resources];
    expect(outbound(rs, productpage, 'http://reviews:9080/reviews/0')).toMatchObject({ timeoutMs: 500, destinations: [{ subset: 'v2' }], retries: DEFAULT_RETRIES });
    expect(outbound(rs, reviewsV2, 'http://ratings:9080/ratings/0')).toMatchObject({ timeoutMs: null, fault: { delay: { ms: 2000, percent: 100 } } });
  });
});

// istio.io/latest/docs/tasks/security/authorization/authz-http/
const AUTHZ = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: productpage}}
  action: ALLOW
  rules:
  - to:
    - operation: {methods: ["GET"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: details-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: details}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]}
    to:
    - operation: {methods: ["GET"]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]}
    to:
    - operation: {methods: ["GET"]}
`;

describe('authorization for HTTP traffic', () => {
  const rs = loadText(AUTHZ, 'authz.yaml').resources;
  const inbound = (w: WorkloadIdentity, method: string, principal: string | undefined, path = '/') =>
    explainInboundJson(decideInbound(compileSnapshot(rs, w), { port: 9080, principal, method, target: path, headers: {} }));

  it('allow-nothing denies everything with no deciding policy', () => {
    expect(inbound({ namespace: 'default', labels: { app: 'ratings' } }, 'GET', 'cluster.local/ns/default/sa/bookinfo-reviews')).toMatchObject({ decision: 'DENY', policy: null, rule: null, connection: 'accepted', mtls: 'PERMISSIVE' });
  });
  it('productpage-viewer allows GET from anyone, not POST', () => {
    const pp = { namespace: 'default', labels: { app: 'productpage' } };
    expect(inbound(pp, 'GET', undefined, '/productpage')).toMatchObject({ decision: 'ALLOW', policy: 'default/productpage-viewer', rule: 0 });
    expect(inbound(pp, 'POST', undefined, '/productpage')).toMatchObject({ decision: 'DENY', policy: null });
  });
  it('details-viewer allows only productpage\'s identity', () => {
    const details = { namespace: 'default', labels: { app: 'details' } };
    expect(inbound(details, 'GET', 'cluster.local/ns/default/sa/bookinfo-productpage')).toMatchObject({ decision: 'ALLOW', policy: 'default/details-viewer' });
    expect(inbound(details, 'GET', 'cluster.local/ns/default/sa/sleep')).toMatchObject({ decision: 'DENY', policy: null });
    expect(inbound(details, 'GET', undefined)).toMatchObject({ decision: 'DENY' });
  });
});

// istio.io/latest/docs/tasks/security/authentication/mtls-migration/
describe('mutual TLS migration', () => {
  const pa = (ns: string, mode: string, extra = '') => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ${ns}}
spec:
  ${extra}mtls: {mode: ${mode}}
`;
  const decide = (yaml: string, ns: string, principal?: string) =>
    explainInboundJson(decideInbound(compileSnapshot(loadText(yaml).resources, { namespace: ns, labels: { app: 'httpbin' } }), { port: 8000, principal, method: 'GET', target: '/ip', headers: {} }));

  it('PERMISSIVE by default: plaintext and mTLS both accepted', () => {
    expect(decide('', 'foo')).toMatchObject({ mtls: 'PERMISSIVE', connection: 'accepted', decision: 'ALLOW' });
    expect(decide('', 'foo', 'cluster.local/ns/bar/sa/sleep')).toMatchObject({ connection: 'accepted' });
  });
  it('namespace STRICT rejects plaintext from the legacy client and keeps mTLS', () => {
    const y = pa('foo', 'STRICT');
    expect(decide(y, 'foo')).toMatchObject({ mtls: 'STRICT', connection: 'rejected', decision: 'DENY', policy: null, rule: null });
    expect(decide(y, 'foo', 'cluster.local/ns/foo/sa/sleep')).toMatchObject({ mtls: 'STRICT', connection: 'accepted', decision: 'ALLOW' });
    expect(decide(y, 'bar')).toMatchObject({ mtls: 'PERMISSIVE', connection: 'accepted' });
  });
  it('mesh-wide STRICT in istio-system applies everywhere; a namespace PERMISSIVE overrides it', () => {
    const y = pa('istio-system', 'STRICT') + '---\n' + pa('legacy', 'PERMISSIVE');
    expect(decide(y, 'foo')).toMatchObject({ mtls: 'STRICT', connection: 'rejected' });
    expect(decide(y, 'legacy')).toMatchObject({ mtls: 'PERMISSIVE', connection: 'accepted' });
  });
});
