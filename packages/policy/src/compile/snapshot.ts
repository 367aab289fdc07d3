/**
 * A Snapshot: everything one workload needs to decide, compiled and indexed once when the
 * configuration arrives. Decisions (decide/*) are pure functions of (snapshot, request).
 */
import { createHash } from 'node:crypto';
import { meshConfig, type MeshConfig, type WorkloadIdentity } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { buildRegistry, visibleTo, type MeshService, type Registry } from './registry.js';
import { compileVirtualService, selectVirtualServices, type CompiledVirtualService } from './virtual-service.js';
import { DestinationRuleIndex } from './destination-rule.js';
import { compileInboundSecurity, namespacePeerAuthentications, peerAuthenticationMode, type InboundSecurity, type MtlsMode } from './security.js';
import { byCreation, labelsMatch, strMap } from './order.js';
import { hostMatches, isWildcard } from './hosts.js';
import { compileTelemetry, type CompiledTelemetry } from './telemetry.js';

export interface Snapshot {
  workload: WorkloadIdentity;
  mesh: MeshConfig;
  registry: Registry;
  /** Services visible to this workload (exportTo, Sidecar egress). */
  services: MeshService[];
  /** Every accepted Host spelling (FQDN, `name.ns`, `name.ns.svc`, and `name` in the own namespace) -> service. */
  hostIndex: Map<string, MeshService>;
  /** Visible services by their exact hostname (destination hosts name services this way). */
  byHostname: Map<string, MeshService>;
  /** ServiceEntries with wildcard hosts, most specific first. */
  wildcardServices: MeshService[];
  /** VirtualServices in Istio's selection order for this workload. */
  virtualServices: CompiledVirtualService[];
  /** service hostname -> owning VS (null: none). */
  vsByService: Map<string, CompiledVirtualService | null>;
  /** VS hosts that name no service: routed literally, on port 80 only (reference §1.2). */
  vsOnlyHosts: Map<string, CompiledVirtualService>;
  destinationRules: DestinationRuleIndex;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** `ns/name` of the Sidecar resource that applies, if any. */
  sidecar: string | null;
  inbound: InboundSecurity;
  /**
   * Namespace-level and mesh-level PeerAuthentication modes, for auto-mTLS towards other
   * workloads (push_context.go: BestEffortInferServiceMTLSMode reads only these levels).
   */
  serverMtls: { mesh: MtlsMode | undefined; namespaces: Map<string, MtlsMode> };
  /** The Telemetry API resolved for this workload (metrics per reporter, tracing, access logging). */
  telemetry: CompiledTelemetry;
  /** Content hash of the inputs. */
  version: string;
}

export interface CompileOptions {
  mesh?: Partial<MeshConfig> | undefined;
}

/** Compiles the snapshot of one workload from validated resources. */
export function compileSnapshot(resources: readonly Resource[], workload: WorkloadIdentity, options: CompileOptions = {}): Snapshot {
  const mesh = meshConfig(options.mesh);
  const registry = buildRegistry(resources, mesh);
  const sidecar = selectSidecar(resources, workload, mesh);
  const egress = sidecarEgress(sidecar);

  // Services visible to the workload. A ServiceEntry host equal to a Kubernetes service only
  // decorates it, so the first (Kubernetes, then oldest) definition of a hostname wins.
  const services: MeshService[] = [];
  const byHostname = new Map<string, MeshService>();
  const ordered = [...registry.services].sort((a, b) => (a.origin === b.origin ? a.order - b.order : a.origin === 'Kubernetes' ? -1 : 1));
  for (const s of ordered) {
    if (!visibleTo(s.exportTo, s.namespace, workload.namespace)) continue;
    if (egress && !egress(s)) continue;
    const prev = byHostname.get(s.hostname);
    if (prev) {
      if (prev.origin === 'Kubernetes' && s.origin === 'ServiceEntry') prev.serviceAccounts = [...new Set([...prev.serviceAccounts, ...s.serviceAccounts])];
      continue;
    }
    byHostname.set(s.hostname, s);
    services.push(s);
  }

  const hostIndex = new Map<string, MeshService>();
  const wildcardServices: MeshService[] = [];
  const suffix = `.svc.${mesh.domainSuffix}`;
  for (const s of services) {
    if (isWildcard(s.hostname)) {
      wildcardServices.push(s);
      continue;
    }
    hostIndex.set(s.hostname, s);
    for (const a of s.addresses) if (!a.includes('/')) hostIndex.set(a, s);
    if (s.origin === 'Kubernetes' && s.hostname.endsWith(suffix)) {
      const short = s.hostname.slice(0, -suffix.length); // name.ns
      if (!hostIndex.has(short)) hostIndex.set(short, s);
      if (!hostIndex.has(`${short}.svc`)) hostIndex.set(`${short}.svc`, s);
      if (s.namespace === workload.namespace) hostIndex.set(s.name, s);
    }
  }
  wildcardServices.sort((a, b) => b.hostname.length - a.hostname.length);

  const delegates = new Map<string, Resource>();
  for (const r of resources) {
    if (r.kind === 'VirtualService' && (!Array.isArray(r.spec?.hosts) || r.spec.hosts.length === 0)) delegates.set(`${r.metadata.namespace}/${r.metadata.name}`, r);
  }
  const findDelegate = (name: string, ns: string) => {
    const d = delegates.get(`${ns}/${name}`);
    if (!d) return undefined;
    // A delegate must be exported to the root VS namespace; checked by analysis.
    return d;
  };
  const virtualServices = selectVirtualServices(resources, workload, mesh).map((r) => compileVirtualService(r, workload, mesh, findDelegate));

  // Host ownership: the first VS with the exact host, else the most specific wildcard VS.
  const exact = new Map<string, CompiledVirtualService>();
  const wild: { host: string; vs: CompiledVirtualService }[] = [];
  for (const vs of virtualServices) {
    for (const h of vs.hosts) {
      if (isWildcard(h)) wild.push({ host: h, vs });
      else if (!exact.has(h)) exact.set(h, vs);
    }
  }
  wild.sort((a, b) => b.host.length - a.host.length); // stable: equal length keeps VS order
  const vsByService = new Map<string, CompiledVirtualService | null>();
  for (const s of services) {
    let vs = exact.get(s.hostname) ?? null;
    if (!vs) for (const w of wild) if (hostMatches(w.host, s.hostname) || (isWildcard(s.hostname) && s.hostname.endsWith(w.host.slice(1)))) { vs = w.vs; break; }
    vsByService.set(s.hostname, vs);
  }
  const vsOnlyHosts = new Map<string, CompiledVirtualService>();
  for (const [h, vs] of exact) if (!byHostname.has(h)) vsOnlyHosts.set(h, vs);

  const destinationRules = new DestinationRuleIndex(resources, workload, mesh);
  const outbound = sidecar?.spec?.outboundTrafficPolicy;
  // The enum's zero value is REGISTRY_ONLY: `outboundTrafficPolicy: {}` means REGISTRY_ONLY.
  const outboundTrafficPolicy = outbound && typeof outbound === 'object' ? (outbound.mode === 'ALLOW_ANY' ? 'ALLOW_ANY' : 'REGISTRY_ONLY') : mesh.outboundTrafficPolicy;

  return {
    workload,
    mesh,
    registry,
    services,
    hostIndex,
    byHostname,
    wildcardServices,
    virtualServices,
    vsByService,
    vsOnlyHosts,
    destinationRules,
    outboundTrafficPolicy,
    sidecar: sidecar ? `${sidecar.metadata.namespace}/${sidecar.metadata.name}` : null,
    inbound: compileInboundSecurity(resources, workload, mesh),
    serverMtls: namespaceMtlsModes(resources, mesh),
    telemetry: compileTelemetry(resources, workload, mesh),
    version: contentVersion(resources, workload),
  };
}

/** Namespace- and mesh-level modes other than UNSET, for auto-mTLS (push_context.go: BestEffortInferServiceMTLSMode). */
function namespaceMtlsModes(resources: readonly Resource[], mesh: MeshConfig): Snapshot['serverMtls'] {
  const namespaces = new Map<string, MtlsMode>();
  for (const [ns, r] of namespacePeerAuthentications(resources)) {
    const m = peerAuthenticationMode(r);
    if (m !== 'UNSET') namespaces.set(ns, m);
  }
  return { mesh: namespaces.get(mesh.rootNamespace), namespaces };
}

/**
 * The mode a service's servers are assumed to run, for auto-mTLS: its namespace's policy, else
 * the mesh's, else PERMISSIVE (push_context.go: BestEffortInferServiceMTLSMode).
 */
export function inferServerMtlsMode(snap: Snapshot, service: MeshService | undefined): MtlsMode {
  if (!service) return 'PERMISSIVE';
  if (service.location === 'MESH_EXTERNAL') return 'DISABLE';
  return snap.serverMtls.namespaces.get(service.namespace) ?? snap.serverMtls.mesh ?? 'PERMISSIVE';
}

/** sidecar.go: the workload's Sidecar — selector match in its namespace, else its namespace's default, else the root's. */
function selectSidecar(resources: readonly Resource[], w: WorkloadIdentity, mesh: MeshConfig): Resource | undefined {
  const sidecars = resources.filter((r) => r.kind === 'Sidecar').sort(byCreation);
  const sel = (r: Resource) => strMap(r.spec?.workloadSelector?.labels);
  return (
    sidecars.find((r) => r.metadata.namespace === w.namespace && sel(r) && labelsMatch(sel(r), w.labels)) ??
    sidecars.find((r) => r.metadata.namespace === w.namespace && !sel(r)) ??
    sidecars.find((r) => r.metadata.namespace === mesh.rootNamespace && !sel(r))
  );
}

/** Sidecar `egress[].hosts` (`ns/host`) as a visibility filter on services. */
function sidecarEgress(sidecar: Resource | undefined): ((s: MeshService) => boolean) | undefined {
  const egress = sidecar?.spec?.egress;
  if (!Array.isArray(egress) || egress.length === 0) return undefined;
  const own = sidecar!.metadata.namespace;
  const entries: { ns: string; host: string }[] = [];
  for (const e of egress) {
    for (const h of Array.isArray(e?.hosts) ? e.hosts : []) {
      const [ns, host] = String(h).split('/', 2) as [string, string];
      entries.push({ ns: ns === '.' ? own : ns, host: (host ?? '').toLowerCase() });
    }
  }
  return (s) => entries.some((e) => e.ns !== '~' && (e.ns === '*' || e.ns === s.namespace) && (e.host === '*' || hostMatches(e.host, s.hostname)));
}

function contentVersion(resources: readonly Resource[], w: WorkloadIdentity): string {
  // One update over a joined string: thousands of small update() calls cost more than the hash.
  const parts: string[] = [JSON.stringify([w.namespace, w.labels, w.serviceAccount ?? ''])];
  for (const r of resources) parts.push(`${r.key}\u0000${r.digest}\u0000${r.order}`);
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/**
 * Resolves a destination host of a route (an exact registry hostname, or a name under a
 * wildcard ServiceEntry). Unlike request hosts, `reviews.default` is not an alias here: a
 * destination names a cluster, and no cluster has that name (503 NC).
 */
export function resolveDestinationService(snap: Snapshot, hostname: string): MeshService | undefined {
  const hit = snap.byHostname.get(hostname);
  if (hit) return hit;
  for (const s of snap.wildcardServices) if (hostMatches(s.hostname, hostname)) return s;
  return undefined;
}

/** Resolves a request host (already normalised) to a visible service. */
export function resolveService(snap: Snapshot, host: string): MeshService | undefined {
  const hit = snap.hostIndex.get(host);
  if (hit) return hit;
  for (const s of snap.wildcardServices) if (hostMatches(s.hostname, host)) return s;
  return undefined;
}
