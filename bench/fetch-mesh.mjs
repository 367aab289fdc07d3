// The Istio config of the HTTP client benchmark's mesh row (fetch.mjs).

/**
 * The Istio config of the mesh row ("full policy"): a route match, a weighted v1/v2 subset split,
 * LEAST_REQUEST, Istio's default retries (no retries field), outlier detection with defaults,
 * and one request header operation. Both subsets are instances of the same nginx upstream.
 */
export function meshYaml(ports) {
  return `apiVersion: v1
kind: Service
metadata: {name: upstream, namespace: default}
spec:
  selector: {app: upstream}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: upstream-v1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: ${ports.v1}}
  labels: {app: upstream, version: v1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: upstream-v2, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: ${ports.v2}}
  labels: {app: upstream, version: v2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: upstream, namespace: default}
spec:
  hosts: [upstream]
  http:
  - name: main
    match: [{uri: {prefix: /}, method: {exact: GET}}]
    headers:
      request:
        set: {x-meshwork-bench: "1"}
    route:
    - destination: {host: upstream, subset: v1}
      weight: 90
    - destination: {host: upstream, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: upstream, namespace: default}
spec:
  host: upstream
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    outlierDetection: {}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`;
}
