/**
 * The view of one namespace: the resources that can change a decision of some workload of
 * that namespace, and nothing else. The control service sends each workload its namespace's
 * view (a join token of namespace `a` never receives, say, the AuthorizationPolicies of `b`),
 * and the SDK compiles its Snapshot from it with `compileSnapshot`, as it would from the
 * whole configuration.
 *
 * Every rule below is read off the compiler (compile/snapshot.ts and the files it calls); the
 * comment on each names the function that reads the kind. When the compiler starts reading
 * something new, this file must follow (test/view.test.ts compares the two over Istio's
 * corpus).
 */
import { meshConfig, type MeshConfig } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { buildRegistry, visibleTo, type MeshService } from './registry.js';
import { selectVirtualServices } from './virtual-service.js';
import { namespacePeerAuthentications, peerAuthenticationMode } from './security.js';
import { hostMatches, mostSpecificMatch, resolveShortName } from './hosts.js';
import { labelsMatch, strMap } from './order.js';

/**
 * The subset of `resources` (the same objects, in the same order) that workloads of
 * `namespace` need: for every workload of that namespace, whatever its labels and service
 * account, `compileSnapshot(view, workload, { mesh })` makes the same decisions as
 * `compileSnapshot(resources, workload, { mesh })`. Only the `version` differs (it hashes
 * the inputs).
 *
 * What is kept:
 * - Services and ServiceEntries exported to the namespace (`networking.istio.io/exportTo`,
 *   `spec.exportTo`), and the WorkloadEntries they select (their endpoints and service
 *   accounts), plus the namespace's own WorkloadEntries.
 * - VirtualServices bound to `mesh` and exported to the namespace, and the delegates they name.
 * - DestinationRules the lookup can reach for a visible host: the namespace's own, then the
 *   service's namespace's and the root namespace's exported to it, plus a more specific one
 *   that is not exported but hides a less specific one that is (Istio's lookup does that).
 * - PeerAuthentications of the namespace and the root namespace; elsewhere only the
 *   namespace-level one auto-mTLS reads for a visible service's namespace.
 * - Every other kind (Sidecar, AuthorizationPolicy, RequestAuthentication, Telemetry, ...) from
 *   the namespace and the root namespace only.
 *
 * The view is for compiling, not for analysis: `analyzeResources` over a view reports
 * references (gateways, hosts of other namespaces) that the whole configuration resolves.
 *
 * @example
 * const view = viewForNamespace(resources, 'bookinfo');
 * const snap = compileSnapshot(view, { namespace: 'bookinfo', labels: { app: 'reviews' } });
 */
export function viewForNamespace(resources: readonly Resource[], namespace: string, mesh?: Partial<MeshConfig>): Resource[] {
  const m = meshConfig(mesh);
  const facts = registryFactsFor(m);
  const root = m.rootNamespace;
  const keep = new Set<Resource>();
  const ownOrRoot = (r: Resource) => r.metadata.namespace === namespace || r.metadata.namespace === root;

  // Services and ServiceEntries: compileSnapshot keeps a registry service only when
  // visibleTo(exportTo, ns, client ns) holds, before anything else reads it (the hostname
  // de-duplication, the Kubernetes + ServiceEntry service-account merge, host aliases). The
  // registry parses exportTo (annotation or spec, `.` resolved), so it is asked per resource.
  const visible: MeshService[] = [];
  for (const r of resources) {
    if (r.kind !== 'Service' && r.kind !== 'ServiceEntry') continue;
    // buildRegistry reads only `v1 Service` and `networking.istio.io ServiceEntry`; other
    // kinds of these names (and a ServiceEntry without hosts) yield no service and never matter.
    const seen = factsOf(facts, r, m).services.filter((s) => visibleTo(s.exportTo, s.namespace, namespace));
    if (seen.length === 0) continue;
    keep.add(r);
    visible.push(...seen);
  }

  // WorkloadEntries: buildRegistry makes each one an endpoint of the services of its own
  // namespace whose (non-empty) selector matches its spec labels; endpoints give clusters
  // their addresses and the service accounts secure naming accepts (registry.ts:
  // selectWorkloads, serviceAccounts). A visible service's endpoints are kept; the
  // namespace's own entries are kept too (registry.workloads lists them).
  const selectors = new Map<string, Record<string, string>[]>();
  for (const s of visible) {
    if (!s.selector || Object.keys(s.selector).length === 0) continue;
    const list = selectors.get(s.namespace);
    if (list) list.push(s.selector);
    else selectors.set(s.namespace, [s.selector]);
  }
  for (const r of resources) {
    if (r.kind !== 'WorkloadEntry') continue;
    if (r.metadata.namespace === namespace) {
      keep.add(r);
      continue;
    }
    const candidates = selectors.get(r.metadata.namespace);
    if (!candidates) continue;
    const ep = factsOf(facts, r, m).endpoint;
    if (ep && candidates.some((sel) => labelsMatch(sel, ep.labels))) keep.add(r);
  }

  // VirtualServices: selectVirtualServices keeps the roots bound to `mesh` and exported to the
  // client's namespace (the workload's labels play no part in that choice, so any labels do
  // here). Delegates (no hosts) act only through a root that names them; compileSnapshot
  // finds them by namespace/name among all resources, whatever their exportTo.
  const roots = new Set(selectVirtualServices(resources, { namespace, labels: {} }, m));
  const delegates = new Set<string>();
  for (const r of roots) {
    for (const rule of Array.isArray(r.spec?.http) ? r.spec.http : []) {
      if (rule?.delegate) delegates.add(`${String(rule.delegate.namespace ?? r.metadata.namespace)}/${String(rule.delegate.name ?? '')}`);
    }
  }
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const isDelegate = !Array.isArray(r.spec?.hosts) || r.spec.hosts.length === 0;
    if (roots.has(r) || (isDelegate && delegates.has(`${r.metadata.namespace}/${r.metadata.name}`))) keep.add(r);
  }

  for (const r of destinationRulesInView(resources, namespace, visible, m)) keep.add(r);

  // PeerAuthentication: composePeerAuthentication reads the root namespace (mesh level) and
  // the workload's own namespace (namespace and workload level). Auto-mTLS towards another
  // namespace's service reads only that namespace's namespace-level policy
  // (snapshot.ts: namespaceMtlsModes, inferServerMtlsMode): the oldest one without a selector
  // (namespacePeerAuthentications), and only when its mode is set; and only for namespaces
  // of visible services inside the mesh (MESH_EXTERNAL services are never asked).
  const serverNamespaces = new Set(visible.filter((s) => s.location === 'MESH_INTERNAL').map((s) => s.namespace));
  const namespaceLevel = namespacePeerAuthentications(resources);
  for (const r of resources) {
    if (r.kind !== 'PeerAuthentication') continue;
    const ns = r.metadata.namespace;
    if (ownOrRoot(r) || (serverNamespaces.has(ns) && namespaceLevel.get(ns) === r && peerAuthenticationMode(r) !== 'UNSET')) keep.add(r);
  }

  // Everything else acts on the workloads of its own namespace, or of every namespace from the
  // root namespace: Sidecar (snapshot.ts: selectSidecar), AuthorizationPolicy and
  // RequestAuthentication (security.ts: applicable). Kinds the compiler does not read
  // (Telemetry, WorkloadGroup, Gateway, EnvoyFilter, WasmPlugin, ProxyConfig, ...) follow the
  // same scope, so a workload sees the configuration meant for it and never another
  // namespace's.
  for (const r of resources) {
    if (HANDLED.has(r.kind)) continue;
    if (ownOrRoot(r)) keep.add(r);
  }

  return resources.filter((r) => keep.has(r));
}

/** What a one-resource registry makes of a Service, ServiceEntry or WorkloadEntry. */
interface RegistryFacts {
  services: readonly MeshService[];
  endpoint: ReturnType<typeof buildRegistry>['workloads'][number] | undefined;
}

/**
 * Per-resource registry facts, which no namespace changes: the control service asks for every
 * watched namespace's view on each change (50 namespaces over 2,000+ resources in its bench),
 * and building a one-resource registry per resource per namespace was most of a push's
 * allocation. Keyed by the mesh settings' content, then by the resource object (resources are
 * values: a new version is a new object, as the loader and the control service make them).
 */
const registryFacts = new Map<string, WeakMap<Resource, RegistryFacts>>();

function registryFactsFor(m: MeshConfig): WeakMap<Resource, RegistryFacts> {
  const key = JSON.stringify(m);
  let facts = registryFacts.get(key);
  if (!facts) {
    if (registryFacts.size >= 8) registryFacts.clear(); // a few mesh configs at a time, never a growing map
    registryFacts.set(key, (facts = new WeakMap()));
  }
  return facts;
}

function factsOf(facts: WeakMap<Resource, RegistryFacts>, r: Resource, m: MeshConfig): RegistryFacts {
  let f = facts.get(r);
  if (!f) {
    const registry = buildRegistry([r], m);
    f = { services: registry.services, endpoint: registry.workloads[0] };
    facts.set(r, f);
  }
  return f;
}

const HANDLED: ReadonlySet<string> = new Set(['Service', 'ServiceEntry', 'WorkloadEntry', 'VirtualService', 'DestinationRule', 'PeerAuthentication']);

/** A DestinationRule as DestinationRuleIndex files it. */
interface DrEntry {
  r: Resource;
  ns: string;
  host: string;
  /** `.` resolved to the own namespace; [] = default (all). */
  exportTo: string[];
  selector: Record<string, string> | undefined;
}

/**
 * DestinationRules: DestinationRuleIndex.lookup(host, service namespace) is asked for visible
 * services only (decide/outbound.ts: destination, destinationPolicy; core's clusters). It
 * tries (1) the client's namespace — DRs visible there (root client: root-private ones) —,
 * then (2) the service's namespace and (3) the root namespace, where the most specific host
 * among the non-private DRs is chosen first and only then filtered by exportTo: a more
 * specific DR that is not exported to the client still hides a less specific one that is, and
 * the lookup moves on. So this replays the lookup for each visible service and keeps the DRs
 * it can end on, and such hiding DRs when something exported is behind them. DRs with a
 * workloadSelector count only in their own namespace, for the workloads they select.
 */
function destinationRulesInView(resources: readonly Resource[], client: string, visible: readonly MeshService[], mesh: MeshConfig): Set<Resource> {
  const root = mesh.rootNamespace;
  const byNs = new Map<string, DrEntry[]>();
  for (const r of resources) {
    if (r.kind !== 'DestinationRule') continue;
    const ns = r.metadata.namespace;
    const selector = strMap(r.spec?.workloadSelector?.matchLabels);
    // DestinationRuleIndex: a DR with a selector applies only to workloads of its namespace.
    if (selector && ns !== client) continue;
    const exportTo: string[] = Array.isArray(r.spec?.exportTo) ? r.spec.exportTo.map((e: unknown) => (e === '.' ? ns : String(e))) : [];
    const entry: DrEntry = { r, ns, host: resolveShortName(String(r.spec?.host ?? ''), ns, mesh), exportTo, selector };
    const list = byNs.get(ns);
    if (list) list.push(entry);
    else byNs.set(ns, [entry]);
  }
  const exportedTo = (e: DrEntry, ns: string) => e.exportTo.length === 0 || e.exportTo.includes('*') || e.exportTo.includes(ns);
  const isPrivate = (e: DrEntry) => e.exportTo.length > 0 && e.exportTo.every((x) => x === e.ns);
  // Step 1's DRs: the client namespace's DRs visible in it; a root-namespace client sees only
  // the root's private ones at this step (DestinationRuleIndex.compute).
  const local = (byNs.get(client) ?? []).filter((e) => (client !== root ? exportedTo(e, client) : isPrivate(e)));

  const keep = new Set<Resource>();
  const asked = new Set<string>();
  for (const s of visible) {
    const id = `${s.hostname}\u0000${s.namespace}`;
    if (asked.has(id)) continue;
    asked.add(id);
    const host = s.hostname;
    // 1. Which of the matching local DRs wins can depend on the workload's labels (selector
    // DRs sort first), so all of them stay; one without a selector ends the lookup for every
    // workload.
    const mine = local.filter((e) => hostMatches(e.host, host));
    for (const e of mine) keep.add(e.r);
    if (mine.some((e) => !e.selector)) continue;
    // 2. The service's namespace, 3. the root namespace.
    for (const ns of new Set([s.namespace, root])) {
      // The client's own namespace at step 2 finds nothing that step 1 did not: an exported DR
      // matching the host would have ended the lookup there.
      if (ns === client && client !== root) continue;
      const all = (byNs.get(ns) ?? []).filter((e) => !isPrivate(e));
      if (ns === client) {
        // A root-namespace client: root DRs with selectors come and go with the workload's
        // labels, so every matching one stays (the last step: nothing comes after it).
        for (const e of all) if (hostMatches(e.host, host)) keep.add(e.r);
        continue;
      }
      const best = mostSpecificMatch(new Set(all.map((e) => e.host)), host);
      if (best === undefined) continue;
      const top = all.filter((e) => e.host === best);
      const found = top.filter((e) => exportedTo(e, client));
      if (found.length > 0) {
        for (const e of found) keep.add(e.r);
        break;
      }
      // The most specific DR is not exported to the client: it ends this step empty, hiding
      // any less specific one that is exported; without it the lookup would stop on that one.
      if (all.some((e) => exportedTo(e, client) && hostMatches(e.host, host))) for (const e of top) keep.add(e.r);
    }
  }
  return keep;
}
