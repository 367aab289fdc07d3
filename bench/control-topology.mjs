// The mesh the control benchmark registers (issue #6): namespaces of services, each service a
// Kubernetes Service selecting two WorkloadGroups (v1, v2) with a DestinationRule of those
// subsets, every other service with a VirtualService (90/10 split, retries, timeout), a
// mesh-wide PeerAuthentication in the root namespace. The first namespace, `platform`, holds
// services every namespace calls (exported everywhere, Istio's default); the services of the
// other namespaces are exported to their own namespace only (`exportTo: ['.']`), as a mesh of
// this size scopes them (Istio: exportTo or Sidecar egress hosts), unless `exportAll` is set.
// Workloads are registered as the API registers them (WorkloadEntry auto-registration: labels
// from the group, the template's service account, id `<ns>/<group>-<address>`).

export const ROOT_NAMESPACE = 'istio-system';
export const SHARED_NAMESPACE = 'platform';
/** The service every namespace sees, whose VirtualService each measured round changes. */
export const PUSH_SERVICE = 'svc-00';
/** The namespace and service of the cold-start target (a MeshServer) and the cold-started client's group. */
export const COLD_NAMESPACE = 'team-01';
export const COLD_TARGET = 'echo';
export const COLD_CLIENT = 'cold-client';

const CREATED = '2024-05-01T12:00:00Z';
const meta = (name, namespace, extra = {}) => ({ name, namespace, creationTimestamp: CREATED, ...extra });

/**
 * @param {{ workloads: number, namespaces: number, servicesPerNamespace: number, exportAll: boolean }} o
 * @returns {{ resources: object[], workloads: object[], namespaces: string[], serviceAccounts: Array<[string, string]> }}
 */
export function topology(o) {
  const namespaces = [SHARED_NAMESPACE];
  for (let i = 1; i < o.namespaces; i++) namespaces.push(`team-${String(i).padStart(2, '0')}`);
  const perNs = Math.ceil(o.workloads / o.namespaces);
  const replicas = Math.max(2, Math.ceil(perNs / o.servicesPerNamespace));
  const resources = [
    { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('default', ROOT_NAMESPACE), spec: { mtls: { mode: 'PERMISSIVE' } } },
  ];
  const workloads = [];
  const serviceAccounts = [];
  let made = 0;
  namespaces.forEach((ns, n) => {
    const exportTo = ns === SHARED_NAMESPACE || o.exportAll ? undefined : ['.'];
    for (let s = 0; s < o.servicesPerNamespace; s++) {
      const svc = `svc-${String(s).padStart(2, '0')}`;
      const host = `${svc}.${ns}.svc.cluster.local`;
      serviceAccounts.push([ns, svc]);
      resources.push({
        apiVersion: 'v1', kind: 'Service', metadata: meta(svc, ns),
        spec: { selector: { app: svc }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
      });
      if (exportTo) resources.at(-1).metadata.annotations = { 'networking.istio.io/exportTo': exportTo.join(',') };
      for (const version of ['v1', 'v2']) {
        resources.push({
          apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: meta(`${svc}-${version}`, ns),
          spec: { metadata: { labels: { app: svc, version } }, template: { serviceAccount: svc, ports: { http: 8080 } } },
        });
      }
      resources.push({
        apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(svc, ns),
        spec: {
          host, ...(exportTo ? { exportTo } : {}),
          trafficPolicy: { connectionPool: { http: { http1MaxPendingRequests: 100 } }, outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
        },
      });
      if (s % 2 === 0) resources.push(virtualService(ns, svc, exportTo, 'seed'));
      for (let r = 0; r < replicas && made < o.workloads; r++, made++) {
        const version = r % 2 === 0 ? 'v1' : 'v2';
        const address = `10.${(made >> 16) & 255}.${(made >> 8) & 255}.${made & 255}`;
        const name = `${svc}-${version}-${address.replace(/\./g, '-')}`;
        workloads.push({
          id: `${ns}/${name}`, namespace: ns, name, address, ports: { http: 8080 }, labels: { app: svc, version },
          serviceAccount: svc, locality: `region-a/zone-${n % 3}`, group: `${ns}/${svc}-${version}`,
        });
      }
    }
  });
  // The cold-start target (a MeshServer registered at start-up) and the cold-started client's group.
  resources.push(
    { apiVersion: 'v1', kind: 'Service', metadata: meta(COLD_TARGET, COLD_NAMESPACE), spec: { selector: { app: COLD_TARGET }, ports: [{ name: 'http', port: 8080 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: meta(COLD_TARGET, COLD_NAMESPACE), spec: { metadata: { labels: { app: COLD_TARGET } }, template: { serviceAccount: COLD_TARGET } } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: meta(COLD_CLIENT, COLD_NAMESPACE), spec: { metadata: { labels: { app: COLD_CLIENT } }, template: { serviceAccount: COLD_CLIENT } } },
  );
  serviceAccounts.push([COLD_NAMESPACE, COLD_TARGET], [COLD_NAMESPACE, COLD_CLIENT]);
  return { resources, workloads, namespaces, serviceAccounts };
}

/** The VirtualService of a service; `marker` goes into a response header, so each round's apply is a real change. */
export function virtualService(ns, svc, exportTo, marker) {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta(svc, ns),
    spec: {
      hosts: [svc], ...(exportTo ? { exportTo } : {}),
      http: [{
        route: [{ destination: { host: svc, subset: 'v1' }, weight: 90 }, { destination: { host: svc, subset: 'v2' }, weight: 10 }],
        timeout: '2s', retries: { attempts: 2, perTryTimeout: '500ms', retryOn: '5xx,reset' },
        headers: { response: { set: { 'x-config': marker } } },
      }],
    },
  };
}
