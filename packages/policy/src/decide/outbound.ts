/**
 * The outbound decision: what a client's request does, as a pure function of
 * (snapshot, request). The data plane runs this on every request; `meshwork explain
 * outbound` prints it.
 */
import type { Snapshot } from '../compile/snapshot.js';
import { resolveDestinationService, resolveService } from '../compile/snapshot.js';
import type { MeshService } from '../compile/registry.js';
import { hostOfAuthority } from '../compile/hosts.js';
import { DEFAULT_RETRY_ON, hasRoutesForPort, type CompiledMatch, type CompiledRule, type CompiledVirtualService, type FaultPolicy, type HeaderOps, type RetryPolicy } from '../compile/virtual-service.js';
import { resolveTrafficPolicy, type EffectiveDestinationRule } from '../compile/destination-rule.js';
import { findQueryParam, normalizePath } from './path.js';
import { parseDuration } from '../util/duration.js';

export interface OutboundRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Host header / :authority as sent (may carry `:port`). */
  authority: string;
  /** The port the request is sent to. */
  port: number;
  /** Request target: path plus optional `?query`. */
  target: string;
  /** Header names lower-case. */
  headers: Readonly<Record<string, string>>;
}

export interface RouteDestination {
  host: string;
  subset: string | null;
  port: number;
  weight: number;
  /** The service the host names, when it is in the registry. */
  service?: MeshService | undefined;
  /** Subset named but not defined by the DestinationRule that applies: 503 NC. */
  missing?: 'host' | 'subset' | undefined;
  headers?: HeaderOps | undefined;
}

export type OutboundAction = 'route' | 'redirect' | 'directResponse' | 'noRoute' | 'passthrough' | 'blocked';

export interface OutboundDecision {
  host: string;
  service: MeshService | undefined;
  virtualService: CompiledVirtualService | null;
  rule: CompiledRule | null;
  /** Which `match` entry matched (index), or null for a rule without match / default route. */
  matchIndex: number | null;
  action: OutboundAction;
  destinations: RouteDestination[];
  timeoutMs: number | null;
  retries: RetryPolicy | null;
  fault: FaultPolicy | null;
  /** Mirror targets, each resolved as a destination (`destination.missing` when it names no cluster). */
  mirrors: { host: string; subset: string | null; port: number; percent: number; destination: RouteDestination }[];
  redirect: { status: number; location: string } | null;
  directResponse: { status: number; body: string | null } | null;
  /** Request path after any rewrite (and the authority to send). */
  rewrite: { path: string; authority: string } | null;
  headers: HeaderOps | null;
  /** Human notes for explain (why a default route, 503 NC causes, ...). */
  notes: string[];
}

/** The default retry policy (retry.go: DefaultPolicy), or the mesh's defaultHttpRetryPolicy. */
export function defaultRetryPolicy(snap: Snapshot): RetryPolicy | null {
  const d = snap.mesh.defaultHttpRetryPolicy;
  if (d) {
    const attempts = Number(d.attempts ?? 0);
    if (!(attempts > 0)) return null;
    return { attempts, perTryTimeoutMs: d.perTryTimeout ? (parseDuration(d.perTryTimeout) ?? null) : null, retryOn: d.retryOn || DEFAULT_RETRY_ON, retryRemoteLocalities: false, backoffMs: 25 };
  }
  return { attempts: 2, perTryTimeoutMs: null, retryOn: DEFAULT_RETRY_ON, retryRemoteLocalities: false, backoffMs: 25 };
}

function matchHeader(headers: Readonly<Record<string, string>>, name: string, m: { present: boolean; test: (v: string) => boolean }): boolean {
  const v = headers[name];
  if (v === undefined) return false;
  return m.present || m.test(v);
}

function matchOne(m: CompiledMatch, req: OutboundRequest, path: string, query: string): boolean {
  if (m.port !== undefined && m.port !== req.port) return false;
  if (m.uri && !m.uri.test(path)) return false;
  if (m.scheme && !m.scheme.test(req.scheme)) return false;
  if (m.method && !m.method.test(req.method)) return false;
  if (m.authority && !m.authority.test(req.authority)) return false;
  for (const [name, sm] of m.headers) if (!matchHeader(req.headers, name, sm)) return false;
  for (const [name, sm] of m.withoutHeaders) {
    const v = req.headers[name];
    // route.go: without a present-match, a missing header counts as empty.
    if (sm.present ? v !== undefined : sm.test(v ?? '')) return false;
  }
  if (m.queryParams.length > 0) {
    for (const [name, sm] of m.queryParams) {
      const v = findQueryParam(query, name);
      if (v === undefined || (!sm.present && !sm.test(v))) return false;
    }
  }
  return true;
}

/** Index of the match entry of the last firstMatchingRule() hit (null: a rule without match). */
let lastMatchIndex: number | null = null;

/** The first rule that matches (first match wins, no fall-through); its match entry's index is left in lastMatchIndex, so the hot path builds no result object. */
function firstMatchingRule(vs: CompiledVirtualService, req: OutboundRequest, path: string, query: string): CompiledRule | null {
  for (const rule of vs.rules) {
    if (rule.matches === null) {
      lastMatchIndex = null;
      return rule;
    }
    for (let i = 0; i < rule.matches.length; i++) {
      if (matchOne(rule.matches[i]!, req, path, query)) {
        lastMatchIndex = i;
        return rule;
      }
    }
  }
  return null;
}

/** Notes for explain: the decision's own, plus why an unknown host passes through or is blocked. */
export function outboundNotes(d: OutboundDecision): string[] {
  if (d.action === 'blocked') return [...d.notes, `${d.host} is not in the registry and the outbound policy is REGISTRY_ONLY: 502 (BlackHoleCluster)`];
  if (d.action === 'passthrough') return [...d.notes, `${d.host} is not in the registry: passed through as-is (ALLOW_ANY, PassthroughCluster), no retries, no timeout`];
  return d.notes;
}

/** Decides an outbound request. Allocation-lean: it runs on every request of the data plane. */
export function decideOutbound(snap: Snapshot, req: OutboundRequest): OutboundDecision {
  const host = hostOfAuthority(req.authority);
  const target = req.target;
  let end = target.indexOf('#');
  if (end < 0) end = target.length;
  const qi = target.indexOf('?');
  const rawPath = (qi >= 0 && qi < end ? target.slice(0, qi) : end < target.length ? target.slice(0, end) : target) || '/';
  const query = qi >= 0 && qi < end ? target.slice(qi + 1, end) : '';
  const path = normalizePath(rawPath, snap.mesh.pathNormalization);
  let pre: string | undefined;
  let service = resolveService(snap, host);
  // Route tables are per port: a service that does not expose the port has no virtual host
  // there, and the request falls to the catch-all (httproute.go: BuildSidecarOutboundVirtualHosts).
  if (service && service.ports.length > 0 && !exposes(service, req.port)) {
    pre = `${service.hostname} does not expose port ${req.port}: no route table for it on this port`;
    service = undefined;
  }
  let vs: CompiledVirtualService | null = null;
  if (service) vs = snap.vsByService.get(service.hostname) ?? null;
  else if (req.port === 80) vs = snap.vsOnlyHosts.get(host) ?? null;

  if (!service && !vs) {
    const blocked = snap.outboundTrafficPolicy === 'REGISTRY_ONLY';
    const d = emptyDecision(blocked ? 'blocked' : 'passthrough', host, service);
    // The "not in the registry" note is written by explain (outboundNotes): this path serves
    // every request to an external host and builds no strings.
    if (pre) addNote(d, pre);
    return d;
  }

  if (vs && !hasRoutesForPort(vs, req.port)) {
    pre = `VirtualService ${vs.id} has no rule for port ${req.port} for this workload: the default route applies`;
    vs = null;
  }

  if (!vs) {
    // Default route for a registry service (route.go: BuildDefaultHTTPOutboundRoute).
    const d = emptyDecision('route', service!.hostname, service);
    const r = resolvedDefault(snap, service!, req.port);
    d.destinations = r.destinations;
    if (pre) addNote(d, pre);
    for (const n of r.notes) addNote(d, n);
    d.retries = defaultRetry(snap);
    return d;
  }

  const hostName = service?.hostname ?? host;
  const rule = firstMatchingRule(vs, req, path, query);
  const matchIndex = lastMatchIndex;
  if (!rule) {
    const d = emptyDecision('noRoute', hostName, service);
    d.virtualService = vs;
    addNote(d, `no rule of VirtualService ${vs.id} matches: 404 (NR)`);
    return d;
  }
  const d = emptyDecision(rule.action, hostName, service);
  d.virtualService = vs;
  d.rule = rule;
  d.matchIndex = matchIndex;
  d.headers = rule.headers ?? null;

  if (rule.action === 'redirect') {
    d.redirect = { status: rule.redirect!.status, location: redirectLocation(rule, req, path, query, matchIndex) };
    return d;
  }
  if (rule.action === 'directResponse') {
    d.directResponse = { status: rule.directResponse!.status, body: rule.directResponse!.body };
    return d;
  }

  const r = resolvedRule(snap, rule, req.port);
  d.destinations = r.destinations;
  d.mirrors = r.mirrors;
  for (const n of r.notes) addNote(d, n);
  d.timeoutMs = rule.timeoutMs;
  d.retries = rule.retries === undefined ? defaultRetry(snap) : rule.retries;
  d.fault = rule.fault;
  if (rule.rewrite) d.rewrite = rewritePath(rule, req, path, query, matchIndex);
  return d;
}

function exposes(service: MeshService, port: number): boolean {
  for (const p of service.ports) if (p.number === port) return true;
  return false;
}

const NONE: readonly never[] = Object.freeze([]);
/** Shared empty notes; addNote swaps in a fresh array on the first note. */
const NO_NOTES: string[] = Object.freeze([]) as unknown as string[];

function addNote(d: OutboundDecision, note: string): void {
  if (d.notes === NO_NOTES) d.notes = [note];
  else d.notes.push(note);
}

function emptyDecision(action: OutboundAction, host: string, service: MeshService | undefined): OutboundDecision {
  return {
    host, service, virtualService: null, rule: null, matchIndex: null, action, destinations: NONE as unknown as RouteDestination[], timeoutMs: null, retries: null,
    fault: null, mirrors: NONE as unknown as OutboundDecision['mirrors'], redirect: null, directResponse: null, rewrite: null, headers: null, notes: NO_NOTES,
  };
}

interface ResolvedRoute {
  destinations: RouteDestination[];
  mirrors: OutboundDecision['mirrors'];
  notes: string[];
}

/**
 * Destinations depend only on the snapshot and the request port, so they are resolved once
 * per (rule or service, port) and shared by every later decision (callers must not mutate
 * them). The memo hangs off snapshot-owned objects and dies with the snapshot.
 */
const routeMemo = new WeakMap<object, Map<number, ResolvedRoute>>();

function memoized(key: object, port: number, build: () => ResolvedRoute): ResolvedRoute {
  let byPort = routeMemo.get(key);
  if (!byPort) routeMemo.set(key, (byPort = new Map()));
  let r = byPort.get(port);
  if (!r) byPort.set(port, (r = build()));
  return r;
}

function resolvedRule(snap: Snapshot, rule: CompiledRule, port: number): ResolvedRoute {
  return memoized(rule, port, () => resolveRule(snap, rule, port));
}

function resolvedDefault(snap: Snapshot, service: MeshService, port: number): ResolvedRoute {
  return memoized(service, port, () => {
    const notes: string[] = [];
    return { destinations: [destination(snap, service.hostname, undefined, undefined, port, 100, undefined, notes)], mirrors: [], notes };
  });
}

function resolveRule(snap: Snapshot, rule: CompiledRule, port: number): ResolvedRoute {
  const notes: string[] = [];
  // Weighted destinations: one destination gets 100 % whatever its weight; among several a
  // 0 or missing weight gets nothing (reference §1.6).
  const dests = rule.destinations;
  const total = dests.length === 1 ? 1 : dests.reduce((s, x) => s + (x.weight > 0 ? x.weight : 0), 0);
  const shares = dests.length === 1 ? [100] : largestRemainder(dests.map((x) => (x.weight > 0 ? x.weight : 0)), total);
  const destinations: RouteDestination[] = [];
  dests.forEach((x, i) => {
    if (shares[i]! > 0) destinations.push(destination(snap, x.host, x.subset, x.port, port, shares[i]!, x.headers, notes));
  });
  // Mirrors resolve like destinations (wildcard ServiceEntries included), once per snapshot.
  const mirrors = rule.mirrors.map((m) => {
    const dest = destination(snap, m.host, m.subset, m.port, port, 100, undefined, []);
    if (dest.missing) notes.push(`mirror ${m.host}${m.subset ? ` subset ${m.subset}` : ''} names no cluster: the copies are dropped`);
    return { host: m.host, subset: dest.subset, port: dest.port, percent: m.percent, destination: dest };
  });
  return { destinations, mirrors, notes };
}

const defaultRetryMemo = new WeakMap<Snapshot, RetryPolicy | null>();
function defaultRetry(snap: Snapshot): RetryPolicy | null {
  let r = defaultRetryMemo.get(snap);
  if (r === undefined) defaultRetryMemo.set(snap, (r = defaultRetryPolicy(snap)));
  return r;
}

function destination(snap: Snapshot, host: string, subset: string | undefined, port: number | undefined, reqPort: number, weight: number, headers: HeaderOps | undefined, notes: string[]): RouteDestination {
  const service = resolveDestinationService(snap, host);
  const out: RouteDestination = { host, subset: subset ?? null, port: port ?? reqPort, weight, service, headers };
  if (!service) {
    out.missing = 'host';
    notes.push(`destination ${host} is not a known service: requests to it get 503 (NC)`);
  } else if (subset) {
    const dr = snap.destinationRules.lookup(service.hostname, service.namespace);
    if (!dr || !dr.subsets.some((s) => s.name === subset)) {
      out.missing = 'subset';
      notes.push(`subset ${subset} of ${host} is not defined by ${dr ? `the DestinationRule that applies (${dr.ids.join(', ')})` : 'any DestinationRule visible to this workload'}: requests to it get 503 (NC)`);
    }
  }
  return out;
}

/** The DestinationRule and merged traffic policy for a destination (reference §2.1–2.2). */
export function destinationPolicy(snap: Snapshot, d: RouteDestination): { destinationRule: EffectiveDestinationRule | null; trafficPolicy: Record<string, unknown> } {
  const dr = d.service ? snap.destinationRules.lookup(d.service.hostname, d.service.namespace) : null;
  return { destinationRule: dr, trafficPolicy: resolveTrafficPolicy(dr, d.port, d.subset ?? undefined) };
}

/** Integer shares summing to 100 by the largest-remainder method. */
export function largestRemainder(weights: number[], total: number): number[] {
  if (total <= 0) return weights.map(() => 0);
  const exact = weights.map((w) => (w * 100) / total);
  const floor = exact.map(Math.floor);
  let rest = 100 - floor.reduce((s, x) => s + x, 0);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).filter((x) => weights[x.i]! > 0).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (rest <= 0) break;
    floor[i]!++;
    rest--;
  }
  return floor;
}

/** Picks a destination index by weight; `random` in [0, 1). */
export function pickWeighted(destinations: readonly RouteDestination[], random: number): number {
  let x = random * 100;
  for (let i = 0; i < destinations.length; i++) {
    x -= destinations[i]!.weight;
    if (x < 0) return i;
  }
  return destinations.length - 1;
}

/** route.go: ApplyRedirect, as Envoy then writes the Location header. */
function redirectLocation(rule: CompiledRule, req: OutboundRequest, path: string, query: string, matchIndex: number | null): string {
  const r = rule.redirect!;
  const scheme = r.scheme ?? req.scheme;
  let host = r.authority ?? stripPort(req.authority) ?? hostOfAuthority(req.authority);
  let port: number | undefined;
  if (r.port !== undefined) port = r.port;
  else if (r.derivePort === 'FROM_REQUEST_PORT') port = req.port;
  if (port !== undefined) {
    const s = r.scheme ?? 'http'; // sidecars: an unset scheme counts as http for this check
    if ((port === 80 && s === 'http') || (port === 443 && s === 'https')) port = undefined;
  }
  let newPath = path;
  if (r.uri !== undefined) newPath = r.uri;
  else if (r.prefixRewrite !== undefined) {
    const m = matchIndex !== null ? rule.matches?.[matchIndex] : undefined;
    const prefix = m?.uriPrefix ?? m?.uriExact ?? '/';
    newPath = r.prefixRewrite + path.slice(prefix.length);
  }
  const q = query ? `?${query}` : '';
  if (host.includes(':') && !host.startsWith('[')) host = host.slice(0, host.lastIndexOf(':'));
  return `${scheme}://${host}${port !== undefined ? `:${port}` : ''}${newPath}${q}`;
}

function stripPort(authority: string): string | undefined {
  if (!authority) return undefined;
  if (authority.startsWith('[')) return authority.slice(0, authority.indexOf(']') + 1);
  const i = authority.lastIndexOf(':');
  return i >= 0 ? authority.slice(0, i) : authority;
}

function rewritePath(rule: CompiledRule, req: OutboundRequest, path: string, query: string, matchIndex: number | null): { path: string; authority: string } {
  const rw = rule.rewrite!;
  let p = path;
  if (rw.uri !== undefined) {
    const m = matchIndex !== null ? rule.matches?.[matchIndex] : undefined;
    // Envoy prefix_rewrite replaces the matched prefix; with an exact match the whole path,
    // with no URI match the implicit prefix `/`.
    const prefix = m?.uriExact ?? m?.uriPrefix ?? '/';
    p = rw.uri + path.slice(prefix.length);
  } else if (rw.uriRegex) {
    p = rw.uriRegex.pattern.replaceAll(path, rw.uriRegex.rewrite);
  }
  const authority = rw.authority ?? rule.headers?.authority ?? req.authority;
  return { path: query ? `${p}?${query}` : p, authority };
}
