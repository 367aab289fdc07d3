/**
 * Cross-resource analysis, as `istioctl analyze` reports it (codes from Istio's message
 * catalogue, pkg/config/analysis/msg/messages.yaml): accepted configuration that will not
 * do what its author meant.
 */
import type { Diagnostic } from '../diagnostics.js';
import { formatPath, type PathSegment, type Resource } from '../load/resource.js';
import { meshConfig, type MeshConfig } from '../mesh.js';
import { buildRegistry } from '../compile/registry.js';
import { hostMatches, isWildcard, resolveShortName } from '../compile/hosts.js';
import { appliesToMesh } from '../compile/virtual-service.js';

function at(r: Resource, path: PathSegment[], severity: Diagnostic['severity'], code: string, message: string, fix?: string): Diagnostic {
  const loc = r.locate(path);
  return { severity, code, message, fix, file: loc.file, line: loc.line, column: loc.column, resource: r.key, path: formatPath(path) };
}


/** Analyzes validated resources. */
export function analyzeResources(resources: readonly Resource[], meshOverrides: Partial<MeshConfig> = {}): Diagnostic[] {
  const mesh = meshConfig(meshOverrides);
  const out: Diagnostic[] = [];
  const registry = buildRegistry(resources, mesh);
  const hosts = new Set(registry.services.map((s) => s.hostname));
  const hostKnown = (h: string) => hosts.has(h) || [...hosts].some((s) => isWildcard(s) && hostMatches(s, h));
  const gateways = new Set(resources.filter((r) => r.kind === 'Gateway').map((r) => `${r.metadata.namespace}/${r.metadata.name}`));
  const delegates = new Map(resources.filter((r) => r.kind === 'VirtualService' && !(r.spec?.hosts?.length > 0)).map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r]));
  const drs = resources.filter((r) => r.kind === 'DestinationRule');
  const subsetsFor = (host: string): Set<string> | undefined => {
    let found: Set<string> | undefined;
    for (const dr of drs) {
      const h = resolveShortName(String(dr.spec?.host ?? ''), dr.metadata.namespace, mesh);
      if (h === host || (isWildcard(h) && hostMatches(h, host))) {
        found ??= new Set();
        for (const s of Array.isArray(dr.spec?.subsets) ? dr.spec.subsets : []) found.add(String(s?.name));
      }
    }
    return found;
  };

  const meshHostOwners = new Map<string, Resource[]>();
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const s = r.spec ?? {};
    const ns = r.metadata.namespace;
    // IST0101: gateways that do not exist.
    (Array.isArray(s.gateways) ? s.gateways : []).forEach((g: string, i: number) => {
      if (g === 'mesh') return;
      const id = g.includes('/') ? g : `${ns}/${g}`;
      if (!gateways.has(id)) out.push(at(r, ['spec', 'gateways', i], 'warning', 'IST0101', `Referenced gateway not found: "${g}"`, 'apply the Gateway, or bind the VirtualService to "mesh"'));
    });
    if (appliesToMesh(s) && Array.isArray(s.hosts)) {
      for (const h of s.hosts) {
        const fq = resolveShortName(String(h), ns, mesh);
        const list = meshHostOwners.get(fq) ?? [];
        list.push(r);
        meshHostOwners.set(fq, list);
      }
    }
    const checkDest = (d: any, path: PathSegment[]) => {
      if (!d?.host) return;
      const fq = resolveShortName(String(d.host), ns, mesh);
      if (!hostKnown(fq)) {
        out.push(at(r, [...path, 'host'], 'warning', 'IST0101', `Referenced host not found: "${d.host}"`, 'define the Service or a ServiceEntry for it, or fix the host name (short names expand in the VirtualService\'s namespace)'));
        return;
      }
      if (d.subset) {
        const subsets = subsetsFor(fq);
        if (!subsets || !subsets.has(String(d.subset))) {
          out.push(at(r, [...path, 'subset'], 'warning', 'IST0101', `Referenced host+subset in destinationrule not found: "${d.host}+${d.subset}"`, 'define the subset in the DestinationRule for this host; until then requests get 503 (NC)'));
        }
      }
    };
    // Unreachable rules and duplicate matches are Istio webhook warnings (validation.go:
    // analyzeUnreachableHTTPRules), reported by semantic validation, not here.
    const http: any[] = Array.isArray(s.http) ? s.http : [];
    http.forEach((rule, i) => {
      (Array.isArray(rule?.route) ? rule.route : []).forEach((d: any, j: number) => checkDest(d?.destination, ['spec', 'http', i, 'route', j, 'destination']));
      if (rule?.mirror) checkDest(rule.mirror, ['spec', 'http', i, 'mirror']);
      (Array.isArray(rule?.mirrors) ? rule.mirrors : []).forEach((m: any, j: number) => checkDest(m?.destination, ['spec', 'http', i, 'mirrors', j, 'destination']));
      if (rule?.delegate) {
        const id = `${rule.delegate.namespace ?? ns}/${rule.delegate.name}`;
        if (!delegates.has(id)) out.push(at(r, ['spec', 'http', i, 'delegate'], 'warning', 'IST0101', `Referenced delegate VirtualService not found: "${id}"`, 'apply the delegate VirtualService (a VirtualService without hosts)'));
      }
    });
  }
  // IST0109: several mesh VirtualServices for one host — only the oldest applies.
  for (const [host, owners] of meshHostOwners) {
    if (owners.length < 2 || isWildcard(host)) continue;
    const byNs = new Map<string, Resource[]>();
    for (const o of owners) {
      const exp = Array.isArray(o.spec?.exportTo) && o.spec.exportTo.length > 0 ? JSON.stringify(o.spec.exportTo) : '*';
      const list = byNs.get(exp) ?? [];
      list.push(o);
      byNs.set(exp, list);
    }
    for (const list of byNs.values()) {
      if (list.length < 2) continue;
      const names = list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).join(', ');
      for (const o of list) out.push(at(o, ['spec', 'hosts'], 'warning', 'IST0109', `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`, 'merge them into one VirtualService'));
    }
  }
  // DestinationRules whose host names nothing in the registry.
  for (const dr of drs) {
    const h = resolveShortName(String(dr.spec?.host ?? ''), dr.metadata.namespace, mesh);
    if (!isWildcard(h) && !hostKnown(h)) out.push(at(dr, ['spec', 'host'], 'warning', 'IST0101', `Referenced host not found: "${dr.spec?.host}"`, 'define the Service or ServiceEntry, or fix the host (short names expand in the DestinationRule\'s namespace)'));
  }
  return out;
}
