/**
 * VirtualService compilation for one client workload: which VSs apply (gateways, exportTo),
 * which VS owns each host, delegate merging, and each rule prepared for matching
 * (StringMatch predicates and RE2 built here, once).
 */
import type { MeshConfig, WorkloadIdentity } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { parseDuration } from '../util/duration.js';
import { compileRe2, isRe2Error, type Re2Pattern } from '../util/regex.js';
import { compileStringMatch, type CompiledStringMatch } from './string-match.js';
import { isWildcard, resolveShortName } from './hosts.js';
import { byCreation, labelsMatch, strMap } from './order.js';

export interface CompiledMatch {
  name?: string | undefined;
  port?: number | undefined;
  uri?: CompiledStringMatch | undefined;
  scheme?: CompiledStringMatch | undefined;
  method?: CompiledStringMatch | undefined;
  authority?: CompiledStringMatch | undefined;
  headers: [string, CompiledStringMatch][];
  withoutHeaders: [string, CompiledStringMatch][];
  queryParams: [string, CompiledStringMatch][];
  /** The matched URI prefix for `rewrite.uri` (exact match: the whole path). */
  uriPrefix?: string | undefined;
  uriExact?: string | undefined;
}

export interface CompiledDestination {
  host: string;
  subset?: string | undefined;
  port?: number | undefined;
  weight: number;
  headers?: HeaderOps | undefined;
}

export interface HeaderOps {
  request: { set: [string, string][]; add: [string, string][]; remove: string[] };
  response: { set: [string, string][]; add: [string, string][]; remove: string[] };
  /** `host`/`:authority` set or add on requests becomes an authority rewrite (route.go). */
  authority?: string | undefined;
}

export interface RetryPolicy {
  attempts: number;
  perTryTimeoutMs: number | null;
  /** `retryOn` as written, or Istio's default list. */
  retryOn: string;
  retryRemoteLocalities: boolean;
  /** undefined = Istio's default (true unless single-destination consistent-hash route). */
  retryIgnorePreviousHosts?: boolean | undefined;
  backoffMs: number;
}

export interface FaultPolicy {
  delay: { ms: number; percent: number } | null;
  abort: { httpStatus?: number | undefined; grpcStatus?: string | undefined; percent: number } | null;
}

export interface MirrorPolicy {
  host: string;
  subset?: string | undefined;
  port?: number | undefined;
  percent: number;
}

export interface CompiledRule {
  /** Index in the root VirtualService's `http[]`. */
  index: number;
  name?: string | undefined;
  /** `null` = no `match` (catch-all). */
  matches: CompiledMatch[] | null;
  action: 'route' | 'redirect' | 'directResponse';
  destinations: CompiledDestination[];
  timeoutMs: number | null;
  /** undefined = field absent (use the default policy); null = retries disabled. */
  retries: RetryPolicy | null | undefined;
  fault: FaultPolicy | null;
  mirrors: MirrorPolicy[];
  headers?: HeaderOps | undefined;
  rewrite?: { uri?: string | undefined; uriRegex?: { pattern: Re2Pattern; rewrite: string } | undefined; authority?: string | undefined } | undefined;
  redirect?: { uri?: string | undefined; prefixRewrite?: string | undefined; authority?: string | undefined; scheme?: string | undefined; port?: number | undefined; derivePort?: string | undefined; status: number } | undefined;
  directResponse?: { status: number; body: string | null } | undefined;
  /** When delegated: `ns/name` of the delegate VS this rule came from. */
  delegate?: string | undefined;
}

export interface CompiledVirtualService {
  /** `ns/name`. */
  id: string;
  namespace: string;
  name: string;
  /** Expanded hosts. */
  hosts: string[];
  rules: CompiledRule[];
  /** Ports named by some match `port`; with `hasPortlessRule` decides whether the VS yields routes on a port. */
  matchPorts: Set<number>;
  hasPortlessRule: boolean;
  resource: Resource;
}

export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

/** Is the VS bound to sidecars? (`gateways` empty, or containing `mesh`.) */
export function appliesToMesh(spec: any): boolean {
  const gws: unknown[] = Array.isArray(spec?.gateways) ? spec.gateways : [];
  return gws.length === 0 || gws.includes('mesh');
}

/** The VS visibility class for a client namespace: 0 private/own, 1 exported to it, 2 public, -1 invisible. */
function visibilityClass(r: Resource, clientNs: string, mesh: MeshConfig): number {
  const exportTo: string[] = Array.isArray(r.spec?.exportTo) && r.spec.exportTo.length > 0 ? r.spec.exportTo.map(String) : ['*'];
  if (exportTo.includes('*')) return 2;
  if (exportTo.includes('~')) return -1;
  const own = r.metadata.namespace;
  const set = exportTo.map((e) => (e === '.' ? own : e));
  if (!set.includes(clientNs)) return -1;
  void mesh;
  return clientNs === own ? 0 : 1;
}

/**
 * Orders the VSs a client sees as Istio's SelectVirtualServices does: private to its
 * namespace, then exported to it, then public; each group oldest first.
 */
export function selectVirtualServices(resources: readonly Resource[], client: WorkloadIdentity, mesh: MeshConfig): Resource[] {
  const groups: Resource[][] = [[], [], []];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const hosts = r.spec?.hosts;
    if (!Array.isArray(hosts) || hosts.length === 0) continue; // delegates act only through a root
    if (!appliesToMesh(r.spec)) continue;
    const cls = visibilityClass(r, client.namespace, mesh);
    if (cls >= 0) groups[cls]!.push(r);
  }
  for (const g of groups) g.sort(byCreation);
  return groups.flat();
}

/** Compiles one root VS for a client (config-time filters applied, delegates merged). */
export function compileVirtualService(
  r: Resource,
  client: WorkloadIdentity,
  mesh: MeshConfig,
  findDelegate: (name: string, ns: string) => Resource | undefined,
): CompiledVirtualService {
  const spec = r.spec ?? {};
  const ns = r.metadata.namespace;
  const rules: CompiledRule[] = [];
  const http: any[] = Array.isArray(spec.http) ? spec.http : [];
  http.forEach((rule, index) => {
    if (rule?.delegate) {
      const d = findDelegate(String(rule.delegate.name ?? ''), String(rule.delegate.namespace ?? ns));
      if (!d) return; // missing delegate: the root rule yields no routes (analysis reports it)
      const dspec = d.spec ?? {};
      for (const drule of Array.isArray(dspec.http) ? dspec.http : []) {
        const merged = mergeDelegateRule(rule, drule);
        if (!merged) continue;
        const c = compileRule(merged, index, d.metadata.namespace, client, mesh);
        if (c) {
          c.delegate = `${d.metadata.namespace}/${d.metadata.name}`;
          rules.push(c);
        }
      }
      return;
    }
    const c = compileRule(rule, index, ns, client, mesh);
    if (c) rules.push(c);
  });
  const matchPorts = new Set<number>();
  let hasPortlessRule = false;
  for (const rule of rules) {
    if (rule.matches === null) hasPortlessRule = true;
    else for (const m of rule.matches) {
      if (m.port === undefined) hasPortlessRule = true;
      else matchPorts.add(m.port);
    }
  }
  return {
    id: `${ns}/${r.metadata.name}`,
    namespace: ns,
    name: r.metadata.name,
    hosts: (spec.hosts as unknown[]).map((h) => resolveShortName(String(h), ns, mesh)),
    rules,
    matchPorts,
    hasPortlessRule,
    resource: r,
  };
}

/** Does the VS yield at least one route on this port? If not, Istio ignores it for that port (route.go). */
export function hasRoutesForPort(vs: CompiledVirtualService, port: number): boolean {
  return vs.hasPortlessRule || vs.matchPorts.has(port);
}

/** route.go: sourceMatchHTTP — config-time match filters for this client (mesh gateway). */
function sourceMatches(m: any, client: WorkloadIdentity): boolean {
  const gws: string[] = Array.isArray(m?.gateways) ? m.gateways.map(String) : [];
  // Without its own gateways a match inherits the VS's, and this VS applies to mesh already.
  if (gws.length > 0) return gws.includes('mesh');
  if (!labelsMatch(strMap(m?.sourceLabels), client.labels)) return false;
  return !m?.sourceNamespace || m.sourceNamespace === client.namespace;
}

function compileMatch(m: any): CompiledMatch {
  const ignoreCase = m.ignoreUriCase === true;
  const pairs = (o: unknown): [string, CompiledStringMatch][] =>
    o && typeof o === 'object' ? Object.keys(o).sort().map((k) => [k.toLowerCase(), compileStringMatch((o as any)[k])]) : [];
  return {
    name: m.name,
    port: Number(m.port) > 0 ? Number(m.port) : undefined,
    uri: m.uri ? compileStringMatch(m.uri, ignoreCase) : undefined,
    scheme: m.scheme ? compileStringMatch(m.scheme) : undefined,
    method: m.method ? compileStringMatch(m.method) : undefined,
    authority: m.authority ? compileStringMatch(m.authority) : undefined,
    headers: pairs(m.headers),
    withoutHeaders: pairs(m.withoutHeaders),
    queryParams: m.queryParams && typeof m.queryParams === 'object'
      ? Object.keys(m.queryParams).sort().map((k) => [k, compileStringMatch(m.queryParams[k])])
      : [],
    uriPrefix: typeof m.uri?.prefix === 'string' ? m.uri.prefix : undefined,
    uriExact: typeof m.uri?.exact === 'string' ? m.uri.exact : undefined,
  };
}

function percentOf(p: unknown): number | undefined {
  if (p && typeof p === 'object' && 'value' in p) return Number((p as { value: unknown }).value) || 0;
  return undefined;
}

function headerOps(h: any): HeaderOps | undefined {
  if (!h || typeof h !== 'object') return undefined;
  const side = (s: any) => ({
    // route.go: TranslateHeadersOperations — each group sorted by header name.
    set: s?.set ? Object.keys(s.set).sort().map((k): [string, string] => [k.toLowerCase(), String(s.set[k])]) : [],
    add: s?.add ? Object.keys(s.add).sort().map((k): [string, string] => [k.toLowerCase(), String(s.add[k])]) : [],
    remove: Array.isArray(s?.remove) ? s.remove.map((x: unknown) => String(x).toLowerCase()) : [],
  });
  const request = side(h.request);
  const response = side(h.response);
  let authority: string | undefined;
  const isAuthority = (k: string) => k === 'host' || k === ':authority';
  // `set` wins over `add` for the authority rewrite.
  for (const [k, v] of [...request.add, ...request.set]) if (isAuthority(k)) authority = v;
  request.set = request.set.filter(([k]) => !isAuthority(k));
  request.add = request.add.filter(([k]) => !isAuthority(k));
  return { request, response, authority };
}

function compileRetries(r: any): RetryPolicy | null | undefined {
  if (r === undefined || r === null) return undefined;
  const attempts = Number(r.attempts ?? 0);
  // retry.go: ConvertPolicy returns nil for attempts <= 0 (this also disables the default).
  if (!(attempts > 0)) return null;
  return {
    attempts,
    perTryTimeoutMs: r.perTryTimeout ? (parseDuration(r.perTryTimeout) ?? null) : null,
    retryOn: typeof r.retryOn === 'string' && r.retryOn !== '' ? r.retryOn : DEFAULT_RETRY_ON,
    retryRemoteLocalities: r.retryRemoteLocalities === true,
    retryIgnorePreviousHosts: typeof r.retryIgnorePreviousHosts === 'boolean' ? r.retryIgnorePreviousHosts : undefined,
    backoffMs: r.backoff ? (parseDuration(r.backoff) ?? 25) : 25,
  };
}

function compileFault(f: any): FaultPolicy | null {
  if (!f || typeof f !== 'object') return null;
  let delay: FaultPolicy['delay'] = null;
  if (f.delay && typeof f.delay === 'object') {
    const ms = parseDuration(f.delay.fixedDelay);
    // route.go: TranslateFault — percentage, else the deprecated integer `percent`, else 0.
    const pct = percentOf(f.delay.percentage) ?? (Number.isFinite(Number(f.delay.percent)) ? Number(f.delay.percent) : 0);
    if (ms !== undefined) delay = { ms, percent: pct };
  }
  let abort: FaultPolicy['abort'] = null;
  if (f.abort && typeof f.abort === 'object') {
    const pct = percentOf(f.abort.percentage) ?? 0;
    if (typeof f.abort.httpStatus === 'number') abort = { httpStatus: f.abort.httpStatus, percent: pct };
    else if (typeof f.abort.grpcStatus === 'string') abort = { grpcStatus: f.abort.grpcStatus, percent: pct };
    // An abort with no error type is dropped at translation (validation only warns).
  }
  if (!delay && !abort) return null;
  return { delay, abort };
}

function destinationOf(d: any, ns: string, mesh: MeshConfig) {
  return {
    host: resolveShortName(String(d?.host ?? ''), ns, mesh),
    subset: d?.subset ? String(d.subset) : undefined,
    port: Number(d?.port?.number) > 0 ? Number(d.port.number) : undefined,
  };
}

function compileRule(rule: any, index: number, ns: string, client: WorkloadIdentity, mesh: MeshConfig): CompiledRule | undefined {
  if (!rule || typeof rule !== 'object') return undefined;
  let matches: CompiledMatch[] | null = null;
  if (Array.isArray(rule.match) && rule.match.length > 0) {
    matches = rule.match.filter((m: any) => sourceMatches(m, client)).map(compileMatch);
    // Every match entry filtered out for this client: the rule yields no route (route.go).
    if (matches!.length === 0) return undefined;
  }
  const action: CompiledRule['action'] = rule.redirect ? 'redirect' : rule.directResponse ? 'directResponse' : 'route';
  const forwarding = action === 'route';
  const destinations: CompiledDestination[] = forwarding && Array.isArray(rule.route)
    ? rule.route.map((rd: any) => ({ ...destinationOf(rd?.destination, ns, mesh), weight: Number(rd?.weight ?? 0), headers: headerOps(rd?.headers) }))
    : [];
  const mirrors: MirrorPolicy[] = [];
  if (forwarding) {
    if (rule.mirror) {
      // route.go: MirrorPercent — mirrorPercentage wins, then deprecated mirrorPercent, else 100.
      const pct = percentOf(rule.mirrorPercentage) ?? (rule.mirrorPercent !== undefined ? Number(rule.mirrorPercent) : 100);
      mirrors.push({ ...destinationOf(rule.mirror, ns, mesh), percent: pct });
    }
    for (const m of Array.isArray(rule.mirrors) ? rule.mirrors : []) {
      mirrors.push({ ...destinationOf(m?.destination, ns, mesh), percent: percentOf(m?.percentage) ?? 100 });
    }
  }
  let rewrite: CompiledRule['rewrite'];
  if (forwarding && rule.rewrite && typeof rule.rewrite === 'object') {
    let uriRegex: { pattern: Re2Pattern; rewrite: string } | undefined;
    if (rule.rewrite.uriRegexRewrite?.match !== undefined) {
      const p = compileRe2(String(rule.rewrite.uriRegexRewrite.match));
      if (!isRe2Error(p)) uriRegex = { pattern: p, rewrite: String(rule.rewrite.uriRegexRewrite.rewrite ?? '') };
    }
    rewrite = { uri: rule.rewrite.uri, uriRegex, authority: rule.rewrite.authority };
  }
  let redirect: CompiledRule['redirect'];
  if (rule.redirect) {
    const rd = rule.redirect;
    redirect = {
      uri: rd.uri, prefixRewrite: rd.prefixRewrite, authority: rd.authority, scheme: rd.scheme,
      port: Number(rd.port) > 0 ? Number(rd.port) : undefined, derivePort: rd.derivePort,
      status: Number(rd.redirectCode) > 0 ? Number(rd.redirectCode) : 301,
    };
  }
  let directResponse: CompiledRule['directResponse'];
  if (rule.directResponse) {
    const b = rule.directResponse.body;
    const body = b?.string !== undefined ? String(b.string) : b?.bytes !== undefined ? Buffer.from(String(b.bytes), 'base64').toString('utf8') : null;
    directResponse = { status: Number(rule.directResponse.status), body };
  }
  return {
    index,
    name: rule.name,
    matches,
    action,
    destinations,
    timeoutMs: forwarding && rule.timeout !== undefined ? (parseDuration(rule.timeout) || null) : null,
    retries: forwarding ? compileRetries(rule.retries) : null,
    fault: forwarding ? compileFault(rule.fault) : null,
    mirrors,
    headers: headerOps(rule.headers),
    rewrite,
    redirect,
    directResponse,
  };
}

/**
 * virtualservice.go: mergeHTTPRoutes — a delegate rule takes the root rule's matches ANDed with
 * its own and inherits the root's settings it does not set. Returns undefined on conflict.
 */
function mergeDelegateRule(root: any, delegate: any): any | undefined {
  const rootMatches: any[] = Array.isArray(root.match) && root.match.length > 0 ? root.match : [{}];
  const delMatches: any[] = Array.isArray(delegate.match) && delegate.match.length > 0 ? delegate.match : [{}];
  const merged: any[] = [];
  for (const rm of rootMatches) {
    for (const dm of delMatches) {
      const m = mergeMatch(rm, dm);
      if (m) merged.push(m);
    }
  }
  if (merged.length === 0) return undefined;
  const out: any = { ...delegate };
  const onlyEmpty = merged.length === 1 && Object.keys(merged[0]).length === 0;
  out.match = onlyEmpty ? undefined : merged;
  for (const k of ['timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'mirrorPercent', 'mirrors', 'corsPolicy', 'headers', 'rewrite', 'directResponse']) {
    if (out[k] === undefined && root[k] !== undefined) out[k] = root[k];
  }
  return out;
}

function mergeMatch(root: any, del: any): any | undefined {
  const out: any = { ...root };
  for (const [k, v] of Object.entries(del ?? {})) {
    if (k === 'uri') {
      if (root.uri) {
        if (!uriWithin(root.uri, v)) return undefined;
      }
      out.uri = v;
    } else if (k === 'headers' || k === 'queryParams' || k === 'withoutHeaders' || k === 'sourceLabels') {
      const a = root[k] ?? {};
      for (const [hk, hv] of Object.entries(v as object)) {
        if (a[hk] !== undefined && JSON.stringify(a[hk]) !== JSON.stringify(hv)) return undefined;
      }
      out[k] = { ...a, ...(v as object) };
    } else if (root[k] !== undefined && JSON.stringify(root[k]) !== JSON.stringify(v)) {
      if (k === 'name') { out.name = v; continue; }
      return undefined;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Is the delegate's URI match within the root's? (virtualservice.go: hasConflict). */
function uriWithin(root: any, del: any): boolean {
  if (root.regex !== undefined || del.regex !== undefined) return false;
  const rootPrefix = root.prefix ?? root.exact;
  if (root.exact !== undefined) return del.exact === root.exact;
  const d = del.prefix ?? del.exact;
  return typeof d === 'string' && typeof rootPrefix === 'string' && d.startsWith(rootPrefix);
}

