// Istio config, identities and requests of the mesh security benchmark (security.mjs), shared by
// the runner, the server and client processes and the authorization micro-benchmark, so that
// every part measures the same policies and the same requests.
export const loadIdentity = () => import('@meshwork/identity');
export const loadCore = () => import('@meshwork/core');
export const loadServer = () => import('@meshwork/server');
export const loadFastifyAdapter = () => import('@meshwork/fastify');
export const loadPolicy = () => import('@meshwork/policy');
export const loadFetch = () => import('@meshwork/fetch');
export const loadUndici = () => import('undici');
export const loadFastify = async () => (await import('fastify')).default;

export const TRUST_DOMAIN = 'cluster.local';
/** The server workload: the `catalog` service in namespace `shop`. */
export const SERVER = { namespace: 'shop', labels: { app: 'catalog', version: 'v1' }, serviceAccount: 'catalog' };
export const SERVER_ID = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/catalog`;
/** The client workload: `web` in namespace `frontend`. */
export const CLIENT = { namespace: 'frontend', labels: { app: 'web' }, serviceAccount: 'web' };
export const CLIENT_ID = `spiffe://${TRUST_DOMAIN}/ns/frontend/sa/web`;
/** The mesh name the client calls (FQDN: the client runs in another namespace). */
export const MESH_HOST = 'catalog.shop.svc.cluster.local';
export const MESH_PORT = 8080;

/** Part 1's server: PERMISSIVE (plaintext and mTLS on one port), no authorization policy. */
export const PERMISSIVE_YAML = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
`;

/**
 * Part 2's and part 3's policies: STRICT mTLS and ten AuthorizationPolicies of the kind a real
 * namespace collects — three DENY (foreign namespaces, admin paths, DELETE) and seven ALLOW, one
 * per caller. The benchmark's request (web reading products) is allowed by `allow-web`, which
 * sorts last among the ALLOW policies (Envoy orders policies by namespace/name), so every request
 * runs every policy's matchers: 3 DENY misses, 6 ALLOW misses, 1 ALLOW hit.
 */
export const AUTHZ_YAML = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-foreign-namespaces, namespace: shop}
spec:
  action: DENY
  rules:
  - from: [{source: {notNamespaces: [shop, frontend, checkout, search, batch, monitoring, ops, istio-system]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin-paths, namespace: shop}
spec:
  action: DENY
  rules:
  - from: [{source: {notPrincipals: [cluster.local/ns/ops/sa/admin]}}]
    to: [{operation: {ports: ["${MESH_PORT}"], paths: ["/admin/*", "/debug/*", "/internal/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  action: DENY
  rules:
  - to: [{operation: {ports: ["${MESH_PORT}"], methods: [DELETE]}}]
    when: [{key: "request.headers[x-break-glass]", notValues: ["yes"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-admin, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/ops/sa/admin]}}]
    to: [{operation: {paths: ["/admin/*", "/debug/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-batch, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules:
  - from: [{source: {namespaces: [batch]}}]
    to: [{operation: {methods: [GET, PUT], paths: ["/api/v1/inventory/*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-checkout, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/checkout/sa/checkout]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/api/v1/orders", "/api/v1/orders/*", "/api/v1/products/*"]}}]
    when: [{key: "request.headers[x-checkout-session]", values: ["*"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-health, namespace: shop}
spec:
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], paths: ["/healthz", "/readyz"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-metrics, namespace: shop}
spec:
  action: ALLOW
  rules:
  - from: [{source: {namespaces: [monitoring]}}]
    to: [{operation: {methods: [GET], paths: ["/metrics"], ports: ["${MESH_PORT}", "15020"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-search, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/search/sa/indexer]}}]
    to: [{operation: {methods: [GET], paths: ["/api/v1/products/*", "/api/v1/categories/*"]}}]
    when: [{key: "request.headers[x-api-version]", values: ["2", "3"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-web, namespace: shop}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/frontend/sa/web, cluster.local/ns/frontend/sa/mobile-bff]}}]
    to: [{operation: {methods: [GET, HEAD], paths: ["/api/v1/products/*", "/api/v1/categories/*"], notPaths: ["/api/v1/products/internal/*"]}}]
    when: [{key: "request.headers[x-tenant]", values: [acme, globex, initech]}]
`;

/** The request of parts 2 and 3 (the id varies per request in part 2; the decision does not). */
export const AUTHZ_REQUEST = {
  method: 'GET',
  path: (i) => `/api/v1/products/${1000 + (i % 512)}`,
  headers: { 'x-tenant': 'acme', 'user-agent': 'meshwork-bench', accept: '*/*' },
};

/** The client's view of the server (part 1): a Service and one WorkloadEntry running as `catalog`, so auto-mTLS applies. */
export function clientMeshYaml(port) {
  return `apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: shop}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: ${MESH_PORT}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: catalog-1, namespace: shop}
spec:
  address: 127.0.0.1
  ports: {http: ${port}}
  labels: {app: catalog, version: v1}
  serviceAccount: catalog
`;
}
