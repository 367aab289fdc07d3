// Policy engine benchmark (issue #3 §4): compile time and memory of one workload's snapshot,
// outbound decision and inbound authorization cost. Run: npm run bench -- policy
// Figures are medians of repeated batches; budgets are printed beside them as ratios.
import { performance } from 'node:perf_hooks';
import { compileSnapshot, decideOutbound, decideInbound, pickWeighted, loadText } from '@meshwork/policy';

const gc = globalThis.gc ?? (() => {});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function fixture({ services = 1000, workloads = 10_000 } = {}) {
  const docs = [];
  for (let i = 0; i < services; i++) {
    const ns = `ns${i % 20}`;
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc${i}, namespace: ${ns}}
spec:
  selector: {app: svc${i}}
  ports: [{name: http, port: 8080}]`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs${i}, namespace: ${ns}}
spec:
  hosts: [svc${i}]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: svc${i}, subset: v2}}]
  - match: [{uri: {prefix: /admin}, method: {exact: POST}}]
    route: [{destination: {host: svc${i}, subset: v1}}]
    timeout: 2s
  - match: [{queryParams: {debug: {exact: "1"}}}]
    route: [{destination: {host: svc${i}, subset: v1}}]
  - match: [{uri: {exact: /healthz}}]
    directResponse: {status: 200, body: {string: ok}}
  - match: [{uri: {prefix: /api/}}]
    route:
    - {destination: {host: svc${i}, subset: v1}, weight: 90}
    - {destination: {host: svc${i}, subset: v2}, weight: 10}
    retries: {attempts: 3, perTryTimeout: 1s, retryOn: "5xx,reset"}`);
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr${i}, namespace: ${ns}}
spec:
  host: svc${i}
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 3}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]`);
  }
  for (let i = 0; i < workloads; i++) {
    const svc = i % services;
    docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: we${i}, namespace: ns${svc % 20}}
spec:
  address: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}
  labels: {app: svc${svc}, version: v${(i % 2) + 1}}
  serviceAccount: sa${svc}`);
  }
  const r = loadText(docs.join('\n---\n'), 'bench.yaml', { maxDocuments: 100_000, maxFileBytes: 256 * 1024 * 1024 });
  if (r.diagnostics.length > 0) throw new Error(r.diagnostics[0].message);
  return r.resources;
}

function authzFixture() {
  const docs = [];
  for (let i = 0; i < 19; i++) {
    docs.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: p${String(i).padStart(2, '0')}, namespace: shop}
spec:
  action: ${i < 4 ? 'DENY' : 'ALLOW'}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/other${i}/sa/client"], namespaces: ["other${i}"]}}]
    to: [{operation: {methods: ["GET", "POST"], paths: ["/api/v${i}/*"]}}]
    when: [{key: request.headers[x-tenant], values: ["t${i}"]}]`);
  }
  docs.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: zz-allow-frontend, namespace: shop}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/shop/sa/frontend"]}}]
    to: [{operation: {methods: ["GET"], paths: ["/cart/*"]}}]`);
  return loadText(docs.join('\n---\n'), 'authz.yaml').resources;
}

function timePerOp(fn, { batch = 100_000, rounds = 15 } = {}) {
  for (let i = 0; i < batch; i++) fn(i); // warm-up
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn(i);
    samples.push(((performance.now() - t0) * 1e6) / batch);
  }
  return median(samples);
}

export function run() {
  const resources = fixture();
  console.log(`fixture: ${resources.length} documents`);
  const workload = { namespace: 'ns0', labels: { app: 'client' }, serviceAccount: 'client' };
  const compileMs = [];
  let snap;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    snap = compileSnapshot(resources, workload);
    compileMs.push(performance.now() - t0);
  }
  // Memory: heap after compiling one more snapshot (kept alive) minus heap before.
  gc(); gc();
  const before = process.memoryUsage().heapUsed;
  const kept = compileSnapshot(resources, workload);
  gc(); gc();
  const snapshotBytes = process.memoryUsage().heapUsed - before;

  const req = { method: 'GET', scheme: 'http', authority: 'svc0:8080', port: 8080, target: '/api/items?id=7', headers: { host: 'svc0:8080', 'user-agent': 'bench' } };
  // The request misses the first four rules and matches the fifth: five matchers evaluated.
  let sink = 0;
  const outNs = timePerOp((i) => {
    const d = decideOutbound(snap, req);
    sink += pickWeighted(d.destinations, (i % 100) / 100);
  });
  // The same decision when the deciding matcher is an RE2 regex (native re2 call per test).
  const reSnap = compileSnapshot(loadText(`apiVersion: v1
kind: Service
metadata: {name: re, namespace: ns0}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: re, namespace: ns0}
spec:
  hosts: [re]
  http:
  - match: [{uri: {regex: "/api/v[0-9]+/items/[0-9]+"}}]
    route: [{destination: {host: re}}]
`, 're.yaml').resources, workload);
  // Distinct path strings, as real requests have: re2 caches the UTF-8 form of the last input.
  const reReqs = Array.from({ length: 256 }, (_, i) => ({ ...req, authority: 're:8080', target: `/api/v2/items/${1000 + i}`, headers: { host: 're:8080' } }));
  const reNs = timePerOp((i) => { sink += decideOutbound(reSnap, reReqs[i & 255]).destinations.length; });
  const authz = compileSnapshot(authzFixture(), { namespace: 'shop', labels: { app: 'cart' } });
  const inReq = { port: 8080, principal: 'cluster.local/ns/shop/sa/frontend', method: 'GET', target: '/cart/42', headers: { 'x-tenant': 't1' } };
  const inNs = timePerOp(() => { sink += decideInbound(authz, inReq).decision === 'ALLOW' ? 1 : 0; });
  if (sink < 0) console.log(sink);
  void kept;

  const rows = [
    ['compile 1,000 VS + 1,000 DR + 10,000 WorkloadEntries (median of 7)', `${median(compileMs).toFixed(1)} ms`, '100 ms', median(compileMs) / 100],
    ['snapshot heap size', `${(snapshotBytes / 1024 / 1024).toFixed(1)} MiB`, '-', NaN],
    ['outbound decision (host, 5 matchers, weighted pick)', `${outNs.toFixed(0)} ns/op`, '1000 ns', outNs / 1000],
    ['outbound decision, one RE2 regex URI matcher', `${reNs.toFixed(0)} ns/op`, '-', NaN],
    ['inbound authorization, 20 policies', `${inNs.toFixed(0)} ns/op`, '2000 ns', inNs / 2000],
  ];
  console.log('policy benchmark — node', process.version, '—', new Date().toISOString());
  for (const [what, value, budget, ratio] of rows) {
    console.log(`${what.padEnd(70)} ${value.padStart(12)}   budget ${budget.padStart(8)}   ${Number.isNaN(ratio) ? '' : `${ratio.toFixed(2)}x of budget`}`);
  }
  return { compileMs: median(compileMs), snapshotBytes, outNs, reNs, inNs };
}

if (import.meta.url === `file://${process.argv[1]}`) run();
