/**
 * The traps of ../shared/reference/istio-semantics.md §0.7, one test each where the policy
 * engine decides them (data-plane and telemetry traps are tested with those packages).
 */
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { clusterPolicy, avoidPreviousHosts, UNLIMITED } from '../src/compile/cluster-policy.js';
import { decideInbound } from '../src/decide/inbound.js';
import { decideOutbound, destinationPolicy } from '../src/decide/outbound.js';
import { explainInboundJson, explainOutboundJson } from '../src/decide/explain.js';
import { loadText } from '../src/load/loader.js';
import { meshConfig, type WorkloadIdentity } from '../src/mesh.js';

const SVC = (name: string, ns = 'default', port = 9080) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: ${port}}]
---
`;
const client: WorkloadIdentity = { namespace: 'default', labels: { app: 'sleep' } };

function out(yaml: string, url: string, opts: { headers?: Record<string, string>; w?: WorkloadIdentity; method?: string; mesh?: Parameters<typeof compileSnapshot>[2] } = {}) {
  const snap = compileSnapshot(loadText(yaml, 'traps.yaml').resources, opts.w ?? client, opts.mesh);
  const m = /^(https?):\/\/([^/]+)(.*)$/.exec(url)!;
  const pm = /:(\d+)$/.exec(m[2]!);
  const d = decideOutbound(snap, { method: opts.method ?? 'GET', scheme: m[1] as 'http', authority: m[2]!, port: pm ? Number(pm[1]) : 80, target: m[3] || '/', headers: { host: m[2]!, ...(opts.headers ?? {}) } });
  return { json: explainOutboundJson(d), d, snap };
}

const vs = (http: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [reviews]
${extra}  http:
${http}
---
`;

describe('1. retries are on by default; attempts counts retries; 0 disables', () => {
  it('default policy when the rule has no retries', () => {
    expect(out(SVC('reviews'), 'http://reviews:9080/').json.retries).toEqual({ attempts: 2, perTryTimeoutMs: null, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes' });
  });
  it('attempts: 0 and retries: {} disable retries, even the default', () => {
    for (const r of ['{attempts: 0}', '{}']) {
      expect(out(SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    retries: ${r}`), 'http://reviews:9080/').json.retries).toBeNull();
    }
  });
  it('explicit attempts keep the default retryOn; perTryTimeout in ms', () => {
    expect(out(SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    retries: {attempts: 3, perTryTimeout: 2s}`), 'http://reviews:9080/').json.retries)
      .toEqual({ attempts: 3, perTryTimeoutMs: 2000, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes' });
  });
  it('previous-hosts predicate is dropped only for a single-destination consistent-hash route', () => {
    expect(avoidPreviousHosts(undefined, true, true)).toBe(false);
    expect(avoidPreviousHosts(undefined, false, true)).toBe(true);
    expect(avoidPreviousHosts(undefined, true, false)).toBe(true);
    expect(avoidPreviousHosts(true, true, true)).toBe(true);
  });
});

describe('2. route timeout is off by default', () => {
  it('null without timeout, ms with', () => {
    expect(out(SVC('reviews'), 'http://reviews:9080/').json.timeoutMs).toBeNull();
    expect(out(SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    timeout: 1.5s`), 'http://reviews:9080/').json.timeoutMs).toBe(1500);
  });
});

describe('3. a VS that matches nothing answers 404 NR, unless config-time filters leave it without routes', () => {
  const y = SVC('reviews') + vs(`  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: reviews}}]`);
  it('noRoute with the VS named', () => {
    expect(out(y, 'http://reviews:9080/other').json).toMatchObject({ action: 'noRoute', virtualService: 'default/r', rule: null, destinations: [], retries: null, timeoutMs: null });
  });
  it('sourceLabels that exclude this client: the default route applies', () => {
    const y2 = SVC('reviews') + vs(`  - match: [{sourceLabels: {app: productpage}}]\n    route: [{destination: {host: reviews}}]\n    timeout: 3s`);
    expect(out(y2, 'http://reviews:9080/').json).toMatchObject({ action: 'route', virtualService: null, timeoutMs: null });
    expect(out(y2, 'http://reviews:9080/', { w: { namespace: 'default', labels: { app: 'productpage' } } }).json).toMatchObject({ virtualService: 'default/r', timeoutMs: 3000 });
  });
  it('match port other than the request port: the default route applies', () => {
    const y3 = SVC('reviews') + vs(`  - match: [{port: 8080}]\n    route: [{destination: {host: reviews}}]`);
    expect(out(y3, 'http://reviews:9080/').json).toMatchObject({ virtualService: null, action: 'route' });
  });
});

describe('4. weights are relative; 0 among several gets nothing; one destination gets 100', () => {
  it('1:3 becomes 25/75; weight 0 dropped; single destination 100', () => {
    const y = SVC('reviews') + vs(`  - route:\n    - {destination: {host: reviews, subset: a}, weight: 1}\n    - {destination: {host: reviews, subset: b}, weight: 3}\n    - {destination: {host: reviews, subset: c}}`);
    expect(out(y, 'http://reviews:9080/').json.destinations.map((d) => [d.subset, d.weight])).toEqual([['a', 25], ['b', 75]]);
    const one = SVC('reviews') + vs(`  - route: [{destination: {host: reviews}, weight: 0}]`);
    expect(out(one, 'http://reviews:9080/').json.destinations).toEqual([{ host: 'reviews.default.svc.cluster.local', subset: null, port: 9080, weight: 100 }]);
  });
  it('largest remainder: three equal weights sum to 100', () => {
    const y = SVC('reviews') + vs(`  - route:\n    - {destination: {host: reviews, subset: a}, weight: 1}\n    - {destination: {host: reviews, subset: b}, weight: 1}\n    - {destination: {host: reviews, subset: c}, weight: 1}`);
    expect(out(y, 'http://reviews:9080/').json.destinations.map((d) => d.weight)).toEqual([34, 33, 33]);
  });
});

describe('5. short names resolve in the resource\'s namespace; a.b is not expanded', () => {
  it('a VS in namespace foo for host reviews means reviews.foo, not reviews.default', () => {
    const y = SVC('reviews') + SVC('reviews', 'foo') + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: foo}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}], timeout: 1s}]
`;
    expect(out(y, 'http://reviews:9080/').json).toMatchObject({ host: 'reviews.default.svc.cluster.local', virtualService: null });
    expect(out(y, 'http://reviews.foo:9080/').json).toMatchObject({ host: 'reviews.foo.svc.cluster.local', virtualService: 'foo/r', destinations: [{ host: 'reviews.foo.svc.cluster.local' }] });
  });
  it('destination host reviews.default is used verbatim (and is no service): 503 NC noted', () => {
    const y = SVC('reviews') + vs(`  - route: [{destination: {host: reviews.default}}]`);
    const r = out(y, 'http://reviews:9080/');
    expect(r.json.destinations[0]!.host).toBe('reviews.default');
    expect(r.json.notes.join(' ')).toMatch(/503 \(NC\)/);
  });
});

describe('6. regex is RE2 and a full match; URI ignores the query; authority includes the port', () => {
  it('regex \\d+ matches /123 fully, not /a123', () => {
    const y = SVC('reviews') + vs(`  - match: [{uri: {regex: "/\\\\d+"}}]\n    route: [{destination: {host: reviews, subset: num}}]\n  - route: [{destination: {host: reviews, subset: other}}]`);
    expect(out(y, 'http://reviews:9080/123').json.destinations[0]!.subset).toBe('num');
    expect(out(y, 'http://reviews:9080/a123').json.destinations[0]!.subset).toBe('other');
    expect(out(y, 'http://reviews:9080/123?x=abc').json.destinations[0]!.subset).toBe('num');
  });
  it('authority exact "reviews" does not match "reviews:9080"', () => {
    const y = SVC('reviews') + vs(`  - match: [{authority: {exact: reviews}}]\n    route: [{destination: {host: reviews, subset: a}}]\n  - route: [{destination: {host: reviews, subset: b}}]`);
    expect(out(y, 'http://reviews:9080/').json.destinations[0]!.subset).toBe('b');
    expect(out(y, 'http://reviews/', { mesh: undefined }).json.action).toBe('passthrough'); // port 80: no such service port... host still resolves by name
  });
});

describe('7. fault percentage omitted never fires; grpcStatus is a name', () => {
  it('abort without percentage: percent 0', () => {
    const y = SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    fault: {abort: {httpStatus: 503}}`);
    expect(out(y, 'http://reviews:9080/').json.fault).toEqual({ delay: null, abort: { httpStatus: 503, percent: 0 } });
  });
  it('grpc abort carries the status name; percentage 0.1 means 0.1 %', () => {
    const y = SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.1}}}`);
    expect(out(y, 'http://reviews:9080/').json.fault).toEqual({ delay: null, abort: { grpcStatus: 'UNAVAILABLE', percent: 0.1 } });
  });
});

describe('8. mirror percentage omitted = 100 %', () => {
  it('mirror without percentage, explicit 0, and mirror port defaults to the request port', () => {
    const y = SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    mirror: {host: reviews, subset: v2}`);
    expect(out(y, 'http://reviews:9080/').json.mirror).toEqual({ host: 'reviews.default.svc.cluster.local', subset: 'v2', port: 9080, percent: 100 });
    const z = SVC('reviews') + vs(`  - route: [{destination: {host: reviews}}]\n    mirror: {host: reviews}\n    mirrorPercentage: {value: 0}`);
    expect(out(z, 'http://reviews:9080/').json.mirror!.percent).toBe(0);
  });
});

describe('9. exactly one DestinationRule applies: client namespace, then service namespace, then root', () => {
  const dr = (ns: string, name: string, subsets: string, exportTo = '') => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: reviews.prod.svc.cluster.local
  ${exportTo}trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets: [${subsets}]
---
`;
  const vsProd = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: prod}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v2}}]}]
---
`;
  it('a DR in the client namespace hides the service owner\'s DR and its subsets: 503 NC', () => {
    const y = SVC('reviews', 'prod') + vsProd + dr('prod', 'owner', '{name: v2, labels: {version: v2}}') + dr('default', 'mine', '{name: v1, labels: {version: v1}}');
    const r = out(y, 'http://reviews.prod:9080/');
    expect(r.json.destinationRules).toEqual([]);
    const dp = destinationPolicy(r.snap, r.d.destinations[0]!);
    expect(dp.destinationRule?.ids).toEqual(['default/mine']);
    expect(r.d.destinations[0]!.missing).toBe('subset');
    const other = out(y, 'http://reviews.prod:9080/', { w: { namespace: 'other', labels: {} } });
    expect(destinationPolicy(other.snap, other.d.destinations[0]!).destinationRule?.ids).toEqual(['prod/owner']);
    expect(other.d.destinations[0]!.missing).toBeUndefined();
  });
  it('a client-namespace DR exported elsewhere is not visible in its own namespace', () => {
    const y = SVC('reviews', 'prod') + vsProd + dr('prod', 'owner', '{name: v2}') + dr('default', 'mine', '{name: v1}', 'exportTo: [bar]\n  ');
    const r = out(y, 'http://reviews.prod:9080/');
    expect(destinationPolicy(r.snap, r.d.destinations[0]!).destinationRule?.ids).toEqual(['prod/owner']);
  });
  it('root namespace DR applies last', () => {
    const y = SVC('reviews', 'prod') + vsProd + dr('istio-system', 'mesh', '{name: v2}');
    const r = out(y, 'http://reviews.prod:9080/');
    expect(destinationPolicy(r.snap, r.d.destinations[0]!).destinationRule?.ids).toEqual(['istio-system/mesh']);
  });
  it('a subset traffic policy replaces whole blocks; port-level replaces the top level wholesale', () => {
    const y = SVC('reviews') + `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 10}, http: {http2MaxRequests: 5}}
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 8080}
      outlierDetection: {consecutive5xxErrors: 2}
  subsets:
  - name: v2
    trafficPolicy:
      connectionPool: {http: {http1MaxPendingRequests: 1}}
`;
    const snap = compileSnapshot(loadText(y).resources, client);
    const svc = snap.services[0]!;
    const base = destinationPolicy(snap, { host: svc.hostname, subset: null, port: 9080, weight: 100, service: svc }).trafficPolicy;
    expect(base).toMatchObject({ connectionPool: { tcp: { maxConnections: 10 } }, loadBalancer: { simple: 'RANDOM' } });
    const sub = destinationPolicy(snap, { host: svc.hostname, subset: 'v2', port: 9080, weight: 100, service: svc }).trafficPolicy;
    expect(sub).toEqual({ connectionPool: { http: { http1MaxPendingRequests: 1 } }, loadBalancer: { simple: 'RANDOM' } });
    const port = destinationPolicy(snap, { host: svc.hostname, subset: null, port: 8080, weight: 100, service: svc }).trafficPolicy;
    expect(port).toEqual({ outlierDetection: { consecutive5xxErrors: 2 } });
  });
});

describe('10–12. cluster defaults: pool limits, outlier detection, LEAST_REQUEST, tls disables auto-mTLS', () => {
  const mesh = meshConfig();
  it('Istio defaults without a DR', () => {
    const p = clusterPolicy({}, undefined, mesh);
    expect(p.loadBalancer).toEqual({ kind: 'simple', simple: 'LEAST_REQUEST' });
    expect(p.connectionPool).toMatchObject({ maxConnections: UNLIMITED, http1MaxPendingRequests: UNLIMITED, http2MaxRequests: UNLIMITED, maxRetries: UNLIMITED, connectTimeoutMs: 10_000, maxRequestsPerConnection: 0 });
    expect(p.outlierDetection).toBeNull();
    expect(p.tls).toEqual({ mode: 'ISTIO_MUTUAL', auto: true });
  });
  it('outlierDetection: {} turns it on with 5 / 10 s / 30 s / 10 % / panic 0', () => {
    expect(clusterPolicy({ outlierDetection: {} }, undefined, mesh).outlierDetection).toMatchObject({ consecutive5xxErrors: 5, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, minHealthPercent: 0, consecutiveGatewayErrors: 0 });
  });
  it('values <= 0 mean the default; LEAST_CONN means LEAST_REQUEST', () => {
    expect(clusterPolicy({ connectionPool: { tcp: { maxConnections: 0 } }, loadBalancer: { simple: 'LEAST_CONN' } }, undefined, mesh)).toMatchObject({ connectionPool: { maxConnections: UNLIMITED }, loadBalancer: { simple: 'LEAST_REQUEST' } });
  });
  it('an explicit tls block turns auto-mTLS off; MESH_EXTERNAL and DISABLE servers get plaintext', () => {
    expect(clusterPolicy({ tls: { mode: 'DISABLE' } }, undefined, mesh).tls).toMatchObject({ mode: 'DISABLE', auto: false });
    expect(clusterPolicy({}, undefined, mesh, 'DISABLE').tls).toEqual({ mode: 'DISABLE', auto: false });
  });
});

describe('13. outbound policy: ALLOW_ANY by default; REGISTRY_ONLY blocks; Sidecar {} means REGISTRY_ONLY', () => {
  it('passthrough and blocked', () => {
    expect(out('', 'https://API.example.com:8443/x').json).toMatchObject({ action: 'passthrough', host: 'api.example.com', destinations: [], retries: null, timeoutMs: null, virtualService: null, rule: null });
    const sc = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  outboundTrafficPolicy: {}
`;
    expect(out(sc, 'http://api.example.com/').json).toMatchObject({ action: 'blocked', host: 'api.example.com' });
    expect(out('', 'http://api.example.com/', { mesh: { mesh: { outboundTrafficPolicy: 'REGISTRY_ONLY' } } }).json.action).toBe('blocked');
  });
});

const pa = (ns: string, name: string, body: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: ${name}, namespace: ${ns}}
spec:
${body}
---
`;
function inbound(yaml: string, w: WorkloadIdentity, req: Partial<Parameters<typeof decideInbound>[1]> = {}) {
  return explainInboundJson(decideInbound(compileSnapshot(loadText(yaml).resources, w), { port: 8080, method: 'GET', target: '/', headers: {}, ...req }));
}

describe('14. PeerAuthentication: workload > namespace > mesh; UNSET inherits; root selectors ignored; container ports', () => {
  const w = { namespace: 'foo', labels: { app: 'web' } };
  it('composition and port-level override', () => {
    const y = pa('istio-system', 'mesh', '  mtls: {mode: STRICT}') + pa('foo', 'ns', '  mtls: {mode: UNSET}') +
      pa('foo', 'wl', '  selector: {matchLabels: {app: web}}\n  mtls: {mode: UNSET}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n    9090: {mode: UNSET}');
    expect(inbound(y, w, { port: 8080 })).toMatchObject({ mtls: 'DISABLE' });
    expect(inbound(y, w, { port: 9090 })).toMatchObject({ mtls: 'STRICT' });
    expect(inbound(y, w, { port: 7070 })).toMatchObject({ mtls: 'STRICT' });
    expect(inbound(y, w, { port: 8080, principal: 'cluster.local/ns/foo/sa/x' })).toMatchObject({ connection: 'rejected', decision: 'DENY' });
  });
  it('a root-namespace PA with a selector is ignored', () => {
    const y = pa('istio-system', 'sel', '  selector: {matchLabels: {app: web}}\n  mtls: {mode: STRICT}');
    expect(inbound(y, w)).toMatchObject({ mtls: 'PERMISSIVE' });
  });
});

const ap = (name: string, body: string, ns = 'foo', annotations = '') => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: ${ns}${annotations}}
spec:
${body}
---
`;
describe('15. authorization order and degenerate policies', () => {
  const w = { namespace: 'foo', labels: { app: 'web' } };
  it('spec {} denies all; rules [{}] allows all; DENY rules [{}] denies all', () => {
    expect(inbound(ap('none', '  {}'), w)).toMatchObject({ decision: 'DENY', policy: null });
    expect(inbound(ap('none', '  {}') + ap('all', '  rules: [{}]'), w)).toMatchObject({ decision: 'ALLOW', policy: 'foo/all', rule: 0 });
    expect(inbound(ap('all', '  rules: [{}]') + ap('deny', '  action: DENY\n  rules: [{}]'), w)).toMatchObject({ decision: 'DENY', policy: 'foo/deny', rule: 0 });
  });
  it('dry-run policies never decide, never count as an ALLOW policy, and are reported when they would change the decision', () => {
    const dry = ',\n  annotations: {"istio.io/dry-run": "true"}';
    const r = inbound(ap('dry-deny', '  action: DENY\n  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]', 'foo', dry) + ap('dry-allow', '  rules: [{to: [{operation: {methods: [POST]}}]}]', 'foo', dry), w, { target: '/admin/x' });
    expect(r).toMatchObject({ decision: 'ALLOW', policy: null, dryRun: ['foo/dry-allow', 'foo/dry-deny'] });
  });
  it('root-namespace policies apply to every namespace; AUDIT never decides', () => {
    expect(inbound(ap('mesh-deny', '  action: DENY\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]', 'istio-system'), w, { method: 'DELETE' })).toMatchObject({ decision: 'DENY', policy: 'istio-system/mesh-deny' });
    expect(inbound(ap('audit', '  action: AUDIT\n  rules: [{}]'), w)).toMatchObject({ decision: 'ALLOW', audit: ['foo/audit'] });
  });
});

describe('16. hosts case-insensitive with the port; paths without the query, normalised; ports are workload ports', () => {
  const w = { namespace: 'foo', labels: { app: 'web' } };
  const y = ap('a', '  rules:\n  - to: [{operation: {hosts: ["Example.com"], paths: ["/public/*"], ports: ["8080"]}}]');
  it('matches', () => {
    expect(inbound(y, w, { host: 'EXAMPLE.COM', target: '/public/x?y=1' })).toMatchObject({ decision: 'ALLOW', policy: 'foo/a' });
    expect(inbound(y, w, { host: 'example.com:8080', target: '/public/x' })).toMatchObject({ decision: 'DENY' });
    expect(inbound(y, w, { host: 'example.com', target: '/public/../private' })).toMatchObject({ decision: 'DENY', path: '/private' });
    expect(inbound(y, w, { host: 'example.com', target: '/public/x', port: 9090 })).toMatchObject({ decision: 'DENY' });
  });
});

describe('17. a missing JWT passes authentication; request principal is iss/sub', () => {
  const w = { namespace: 'foo', labels: { app: 'web' } };
  const ra = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks"}]
---
`;
  const require = ap('require', '  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]');
  it('no token: denied only because a policy requires a principal', () => {
    expect(inbound(ra, w)).toMatchObject({ decision: 'ALLOW' });
    expect(inbound(ra + require, w)).toMatchObject({ decision: 'DENY' });
    expect(inbound(ra + require, w, { jwtClaims: { iss: 'https://issuer.example.com', sub: 'alice' } })).toMatchObject({ decision: 'ALLOW', requestPrincipal: 'https://issuer.example.com/alice' });
    expect(inbound(ra + require, w, { jwtClaims: { iss: 'https://other', sub: 'alice' } })).toMatchObject({ decision: 'DENY', requestPrincipal: null });
  });
  it('nested and list claims', () => {
    const p = ap('claims', '  rules:\n  - when:\n    - key: request.auth.claims[groups]\n      values: ["admin"]\n    - key: request.auth.claims[org][team]\n      values: ["mesh"]');
    const claims = { iss: 'https://issuer.example.com', sub: 'a', groups: ['dev', 'admin'], org: { team: 'mesh' } };
    expect(inbound(ra + p, w, { jwtClaims: claims })).toMatchObject({ decision: 'ALLOW', policy: 'foo/claims' });
    expect(inbound(ra + p, w, { jwtClaims: { ...claims, groups: ['dev'] } })).toMatchObject({ decision: 'DENY' });
  });
});

import { LOCAL_REPLY, localReply } from '../src/decide/local-reply.js';

describe('18. denied is 403 "RBAC: access denied"; gRPC callers get HTTP 200 + grpc-status', () => {
  it('HTTP and gRPC forms of local replies', () => {
    expect(localReply(403, LOCAL_REPLY.rbacDenied)).toEqual({ status: 403, headers: { 'content-type': 'text/plain' }, body: 'RBAC: access denied' });
    expect(localReply(403, LOCAL_REPLY.rbacDenied, { grpc: true })).toEqual({ status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'RBAC: access denied' }, body: '' });
    expect(localReply(503, LOCAL_REPLY.noHealthyUpstream, { grpc: true }).headers['grpc-status']).toBe('14');
    expect(localReply(404, '', { grpc: true }).headers['grpc-status']).toBe('12');
    expect(localReply(401, LOCAL_REPLY.jwtFailed, { grpc: true }).headers['grpc-status']).toBe('16');
    expect(localReply(500, LOCAL_REPLY.faultAbort, { grpc: true, grpcStatus: 'UNAVAILABLE' }).headers['grpc-status']).toBe('14');
    expect(localReply(418, 'x', { grpc: true }).headers['grpc-status']).toBe('2');
    expect(localReply(503, '100% é\n', { grpc: true }).headers['grpc-message']).toBe('100%25 %C3%A9%0A');
    // REGISTRY_ONLY: 502 with an empty body and no content-type.
    expect(localReply(502, '')).toEqual({ status: 502, headers: {}, body: '' });
  });
});
