/**
 * The service registry built from configuration: Kubernetes `Service` objects (names,
 * namespaces, ports, selectors), ServiceEntries, and the endpoints of WorkloadEntries and
 * ServiceEntry `endpoints`. This is the Service / Workload model the data plane uses too.
 */
import type { MeshConfig } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { resolveShortName } from './hosts.js';
import { labelsMatch } from './order.js';

export interface ServicePort {
  name: string;
  number: number;
  protocol: string;
  /** Port on the workload (`targetPort`); defaults to `number`. */
  targetPort: number;
}

export interface Endpoint {
  address: string;
  /** Port name -> endpoint port (WorkloadEntry `ports`). */
  ports: Record<string, number>;
  labels: Record<string, string>;
  serviceAccount?: string | undefined;
  locality?: string | undefined;
  network?: string | undefined;
  weight: number;
  /**
   * Whether the endpoint runs the mesh and takes Istio mTLS (auto-mTLS sends mTLS only to
   * these): its `security.istio.io/tlsMode` label, else `istio` when it has a service account
   * (serviceentry/conversion.go: getTLSModeFromWorkloadEntry).
   */
  tlsMode: string;
  /** `WorkloadEntry/ns/name` or `ServiceEntry/ns/name#i`. */
  source: string;
}

/** serviceentry/conversion.go: getTLSModeFromWorkloadEntry. */
function tlsModeOf(labels: Record<string, string>, serviceAccount: unknown): string {
  return labels['security.istio.io/tlsMode'] ?? (typeof serviceAccount === 'string' && serviceAccount !== '' ? 'istio' : 'disabled');
}

export interface MeshService {
  /** FQDN (Kubernetes) or ServiceEntry host, lower-case. */
  hostname: string;
  /** Short name: Kubernetes metadata.name, or the host up to its first dot. */
  name: string;
  namespace: string;
  ports: ServicePort[];
  origin: 'Kubernetes' | 'ServiceEntry';
  location: 'MESH_INTERNAL' | 'MESH_EXTERNAL';
  resolution: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS' | 'CLIENT_SIDE_LB';
  /** Namespaces that see the service; `['*']` = all. */
  exportTo: string[];
  addresses: string[];
  /** Label selector for workloads (Kubernetes `spec.selector`, ServiceEntry `workloadSelector`). */
  selector?: Record<string, string> | undefined;
  /** Service accounts of the workloads (secure naming); ServiceEntry `subjectAltNames` too. */
  serviceAccounts: string[];
  endpoints: Endpoint[];
  resource: string;
  /** creation order key (oldest first). */
  order: number;
}

export interface Registry {
  services: MeshService[];
  /** All WorkloadEntries (also those no service selects). */
  workloads: Endpoint[];
}

const SE_PROTOCOL_DEFAULT = 'TCP';

function exportToOf(list: unknown, ownNs: string): string[] {
  if (!Array.isArray(list) || list.length === 0) return ['*'];
  return list.map((x) => (x === '.' ? ownNs : String(x)));
}

// Object.fromEntries: every key an own property, `__proto__` included (`out[k] = ...` would set the prototype).
function labelsOf(v: unknown): Record<string, string> {
  return v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
}

function numberMap(v: unknown): Record<string, number> {
  return v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, Number(x)])) : {};
}

/** Builds the registry. Endpoints are matched to selecting services through a label index. */
export function buildRegistry(resources: readonly Resource[], mesh: MeshConfig): Registry {
  const services: MeshService[] = [];
  const workloads: Endpoint[] = [];
  const workloadsByNs = new Map<string, Endpoint[]>();

  for (const r of resources) {
    if (r.kind === 'WorkloadEntry' && r.group === 'networking.istio.io') {
      const s = r.spec ?? {};
      // Endpoint labels are the spec's labels only, not the resource's metadata labels
      // (serviceentry/conversion.go: convertWorkloadEntryToWorkloadInstance).
      const labels = labelsOf(s.labels);
      const ep: Endpoint = {
        address: String(s.address ?? ''),
        ports: numberMap(s.ports),
        labels,
        serviceAccount: s.serviceAccount,
        locality: s.locality,
        network: s.network,
        weight: Number(s.weight) > 0 ? Number(s.weight) : 1,
        tlsMode: tlsModeOf(labels, s.serviceAccount),
        source: r.key,
      };
      workloads.push(ep);
      const list = workloadsByNs.get(r.metadata.namespace);
      if (list) list.push(ep);
      else workloadsByNs.set(r.metadata.namespace, [ep]);
    }
  }

  // Index workloads by namespace and by each label pair, so 1,000 selectors over 10,000
  // workloads cost a few set lookups each instead of a full scan.
  const index = new Map<string, Endpoint[]>();
  for (const [ns, list] of workloadsByNs) {
    for (const ep of list) {
      for (const k in ep.labels) {
        const key = `${ns}\u0000${k}\u0000${ep.labels[k]}`;
        const bucket = index.get(key);
        if (bucket) bucket.push(ep);
        else index.set(key, [ep]);
      }
    }
  }
  const selectWorkloads = (ns: string, selector: Record<string, string>): Endpoint[] => {
    const keys = Object.entries(selector);
    if (keys.length === 0) return [];
    let smallest: Endpoint[] | undefined;
    for (const [k, v] of keys) {
      const bucket = index.get(`${ns}\u0000${k}\u0000${v}`);
      if (!bucket) return [];
      if (!smallest || bucket.length < smallest.length) smallest = bucket;
    }
    return (smallest ?? []).filter((ep) => labelsMatch(selector, ep.labels));
  };

  for (const r of resources) {
    if (r.kind === 'Service' && r.group === '' && r.version === 'v1') {
      const s = r.spec ?? {};
      const ns = r.metadata.namespace;
      const ports: ServicePort[] = Array.isArray(s.ports)
        ? s.ports
            .filter((p: any) => p && Number.isInteger(Number(p.port)))
            .map((p: any) => ({
              name: String(p.name ?? ''),
              number: Number(p.port),
              protocol: String(p.appProtocol ?? protocolFromName(String(p.name ?? '')) ?? p.protocol ?? 'TCP'),
              targetPort: Number.isInteger(Number(p.targetPort)) ? Number(p.targetPort) : Number(p.port),
            }))
        : [];
      const selector = s.selector && typeof s.selector === 'object' ? labelsOf(s.selector) : undefined;
      const endpoints = selector ? selectWorkloads(ns, selector) : [];
      const annotation = r.metadata.annotations['networking.istio.io/exportTo'];
      services.push({
        hostname: `${r.metadata.name}.${ns}.svc.${mesh.domainSuffix}`,
        name: r.metadata.name,
        namespace: ns,
        ports,
        origin: 'Kubernetes',
        location: 'MESH_INTERNAL',
        resolution: s.clusterIP === 'None' ? 'NONE' : 'CLIENT_SIDE_LB',
        exportTo: annotation ? exportToOf(annotation.split(',').map((x) => x.trim()), ns) : ['*'],
        addresses: typeof s.clusterIP === 'string' && s.clusterIP !== 'None' ? [s.clusterIP] : [],
        selector,
        serviceAccounts: [...new Set(endpoints.map((e) => e.serviceAccount).filter((x): x is string => !!x))],
        endpoints,
        resource: r.key,
        order: r.order,
      });
    } else if (r.kind === 'ServiceEntry' && r.group === 'networking.istio.io') {
      const s = r.spec ?? {};
      const ns = r.metadata.namespace;
      const ports: ServicePort[] = (Array.isArray(s.ports) ? s.ports : []).map((p: any) => ({
        name: String(p.name ?? ''),
        number: Number(p.number),
        protocol: String(p.protocol ?? SE_PROTOCOL_DEFAULT).toUpperCase(),
        targetPort: Number(p.targetPort) > 0 ? Number(p.targetPort) : Number(p.number),
      }));
      const selector = s.workloadSelector?.labels ? labelsOf(s.workloadSelector.labels) : undefined;
      const declared: Endpoint[] = (Array.isArray(s.endpoints) ? s.endpoints : []).map((e: any, i: number) => ({
        address: String(e.address ?? ''),
        ports: Object.fromEntries(Object.entries(e.ports ?? {}).map(([k, v]) => [k, Number(v)])),
        labels: labelsOf(e.labels),
        serviceAccount: e.serviceAccount,
        locality: e.locality,
        network: e.network,
        weight: Number(e.weight) > 0 ? Number(e.weight) : 1,
        tlsMode: tlsModeOf(labelsOf(e.labels), e.serviceAccount),
        source: `${r.key}#${i}`,
      }));
      const endpoints = selector ? selectWorkloads(ns, selector) : declared;
      const sans: string[] = Array.isArray(s.subjectAltNames) ? s.subjectAltNames.map(String) : [];
      for (const h of Array.isArray(s.hosts) ? s.hosts : []) {
        const hostname = resolveShortName(String(h), ns, mesh);
        services.push({
          hostname,
          name: hostname.split('.')[0] ?? hostname,
          namespace: ns,
          ports,
          origin: 'ServiceEntry',
          location: s.location === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL',
          resolution: (s.resolution ?? 'NONE') as MeshService['resolution'],
          exportTo: exportToOf(s.exportTo, ns),
          addresses: Array.isArray(s.addresses) ? s.addresses.map(String) : [],
          selector,
          serviceAccounts: [...new Set([...sans, ...endpoints.map((e) => e.serviceAccount).filter((x): x is string => !!x)])],
          endpoints,
          resource: r.key,
          order: r.order,
        });
      }
    }
  }
  return { services, workloads };
}

/** Istio's protocol selection by port name prefix (`http-web` -> HTTP). */
function protocolFromName(name: string): string | undefined {
  const prefix = name.split('-')[0]!.toLowerCase();
  const table: Record<string, string> = { http: 'HTTP', http2: 'HTTP2', https: 'HTTPS', grpc: 'GRPC', 'grpc-web': 'GRPC-Web', tcp: 'TCP', tls: 'TLS', mongo: 'Mongo', redis: 'Redis', mysql: 'MySQL' };
  return table[prefix];
}

/** Is the service visible to a client namespace? (exportTo). */
export function visibleTo(exportTo: readonly string[], ownNs: string, clientNs: string): boolean {
  for (const e of exportTo) {
    if (e === '*' || e === clientNs) return true;
    if (e === '.' && ownNs === clientNs) return true;
  }
  return false;
}

/**
 * The service a workload serves, for its inbound telemetry (`destination_service` on the server
 * side): a service of its namespace whose selector matches its labels, Kubernetes before
 * ServiceEntries, then the oldest; failing that (registries given in code select by a label
 * of their own), the service of its namespace named after one of `names` (its canonical
 * service, its workload name).
 */
export function servedService(
  snap: { workload: { namespace: string; labels: Record<string, string> }; registry: Registry },
  names: readonly (string | undefined)[] = [],
): MeshService | undefined {
  const w = snap.workload;
  let hit: MeshService | undefined;
  for (const s of snap.registry.services) {
    if (s.namespace !== w.namespace || !s.selector || Object.keys(s.selector).length === 0 || !labelsMatch(s.selector, w.labels)) continue;
    if (!hit || (s.origin === 'Kubernetes' && hit.origin !== 'Kubernetes') || (s.origin === hit.origin && s.order < hit.order)) hit = s;
  }
  if (hit) return hit;
  const wanted = names.filter((n): n is string => !!n);
  return snap.registry.services.find((s) => s.namespace === w.namespace && wanted.includes(s.name));
}
