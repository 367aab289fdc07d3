/**
 * A registry given in code (tests, quick starts, other discovery systems), turned into the
 * same Kubernetes Service and WorkloadEntry documents that YAML would hold, so it flows
 * through the one loader, validator and compiler.
 */
import { loadObjects, type Resource } from '@meshwork/policy';

export interface RegistryEndpoint {
  address: string;
  /** Port by service port name (`{ http: 8080 }`), or one port for every service port. */
  ports?: Record<string, number> | undefined;
  port?: number | undefined;
  labels?: Record<string, string> | undefined;
  serviceAccount?: string | undefined;
  locality?: string | undefined;
  weight?: number | undefined;
}

export interface RegistryService {
  name: string;
  namespace?: string | undefined;
  ports: { name: string; port: number; protocol?: string | undefined; targetPort?: number | undefined }[];
  endpoints: RegistryEndpoint[];
}

/** Services and endpoints as resources (a Service selecting WorkloadEntries by a generated label). */
export function registryResources(services: readonly RegistryService[], file = '<registry>'): Resource[] {
  const docs: unknown[] = [];
  for (const s of services) {
    const ns = s.namespace ?? 'default';
    const selector = { 'meshwork.dev/registry-service': s.name };
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: ns }, spec: { selector, ports: s.ports.map((p) => ({ name: p.name, port: p.port, ...(p.targetPort ? { targetPort: p.targetPort } : {}), ...(p.protocol ? { appProtocol: p.protocol } : {}) })) } });
    s.endpoints.forEach((e, i) => {
      const ports = e.ports ?? (e.port ? Object.fromEntries(s.ports.map((p) => [p.name, e.port!])) : undefined);
      docs.push({
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: `${s.name}-${i}`, namespace: ns },
        spec: { address: e.address, ...(ports ? { ports } : {}), labels: { ...e.labels, ...selector }, ...(e.serviceAccount ? { serviceAccount: e.serviceAccount } : {}), ...(e.locality ? { locality: e.locality } : {}), ...(e.weight ? { weight: e.weight } : {}) },
      });
    });
  }
  // Through the one loader (and its checks), document i on line i + 1 of `file`.
  return loadObjects(docs, file).resources;
}
