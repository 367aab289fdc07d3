import { loadText } from '/work/main/packages/policy/dist/load/loader.js';
export function fixture({ services = 1000, workloads = 10_000 } = {}) {
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
