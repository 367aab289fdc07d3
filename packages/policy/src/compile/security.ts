/**
 * Inbound security for one workload: the PeerAuthentication mode per port, the
 * RequestAuthentication JWT rules, and the AuthorizationPolicies compiled into matchers
 * (reference §4–§6; policy_applier.go: ComposePeerAuthentication, authz builder/matcher).
 */
import type { MeshConfig, WorkloadIdentity } from '../mesh.js';
import type { Resource } from '../load/resource.js';
import { byCreation, labelsMatch, strMap } from './order.js';
import { compileCidrs } from './ip.js';
import { parseGoBool } from '../validate/go-compat.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface PeerAuthenticationPolicy {
  /** Workload-wide effective mode. */
  mode: MtlsMode;
  /** Per workload port (portLevelMtls of the workload-level policy), effective modes. */
  ports: Map<number, MtlsMode>;
  /** `ns/name` of the policies used (mesh, namespace, workload). */
  sources: string[];
}

/** Attributes of an inbound request, as authorization sees them. */
export interface InboundAttributes {
  /** Peer identity without `spiffe://`, e.g. `cluster.local/ns/default/sa/sleep`; undefined for plaintext. */
  principal?: string | undefined;
  sourceIp?: string | undefined;
  /** Original client IP (X-Forwarded-For / PROXY); defaults to sourceIp. */
  remoteIp?: string | undefined;
  destinationIp?: string | undefined;
  /** Workload (container) port. */
  port: number;
  method: string;
  /** Normalised path without the query string. */
  path: string;
  /** Host / :authority as sent. */
  host: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  sni?: string | undefined;
  /** From a validated JWT. */
  requestPrincipal?: string | undefined;
  claims?: Record<string, unknown> | undefined;
}

type Pred = (a: InboundAttributes) => boolean;

export interface CompiledAuthzPolicy {
  id: string;
  namespace: string;
  name: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
  dryRun: boolean;
  provider?: string | undefined;
  /** One predicate per rule, in order. */
  rules: Pred[];
}

export interface JwtRuleRef {
  policy: string;
  index: number;
  rule: any;
}

export interface InboundSecurity {
  peerAuthentication: PeerAuthenticationPolicy;
  jwtRules: JwtRuleRef[];
  authorization: CompiledAuthzPolicy[];
}

function selectorOf(spec: any): Record<string, string> | undefined {
  const m = strMap(spec?.selector?.matchLabels);
  return m && Object.keys(m).length > 0 ? m : undefined;
}

function hasTargetRef(spec: any): boolean {
  return !!spec?.targetRef || (Array.isArray(spec?.targetRefs) && spec.targetRefs.length > 0);
}

/** Policies (AuthorizationPolicy, RequestAuthentication) that apply to the workload: root namespace (selector matches in any namespace) and own namespace. */
function applicable(resources: readonly Resource[], kind: string, w: WorkloadIdentity, mesh: MeshConfig): Resource[] {
  return resources.filter((r) => {
    if (r.kind !== kind) return false;
    if (hasTargetRef(r.spec)) return false; // sidecars ignore targetRef policies (policyattachment.go)
    const ns = r.metadata.namespace;
    if (ns !== mesh.rootNamespace && ns !== w.namespace) return false;
    return labelsMatch(selectorOf(r.spec), w.labels);
  });
}

function modeOf(m: any): MtlsMode | 'UNSET' {
  const v = m?.mode;
  return v === 'STRICT' || v === 'PERMISSIVE' || v === 'DISABLE' ? v : 'UNSET';
}

/** policy_applier.go: ComposePeerAuthentication. */
export function composePeerAuthentication(resources: readonly Resource[], w: WorkloadIdentity, mesh: MeshConfig): PeerAuthenticationPolicy {
  const pas = resources.filter((r) => r.kind === 'PeerAuthentication').sort(byCreation);
  const meshLevel = pas.find((r) => r.metadata.namespace === mesh.rootNamespace && !selectorOf(r.spec));
  const nsLevel = w.namespace === mesh.rootNamespace ? undefined : pas.find((r) => r.metadata.namespace === w.namespace && !selectorOf(r.spec));
  // Root-namespace PAs with a selector are ignored in sidecar mode.
  const wlLevel = pas.find((r) => r.metadata.namespace === w.namespace && r.metadata.namespace !== mesh.rootNamespace && selectorOf(r.spec) && labelsMatch(selectorOf(r.spec), w.labels));
  let mode: MtlsMode = 'PERMISSIVE';
  const sources: string[] = [];
  for (const r of [meshLevel, nsLevel, wlLevel]) {
    if (!r) continue;
    sources.push(`${r.metadata.namespace}/${r.metadata.name}`);
    const m = modeOf(r.spec?.mtls);
    if (m !== 'UNSET') mode = m;
  }
  const ports = new Map<number, MtlsMode>();
  const plm = wlLevel?.spec?.portLevelMtls;
  if (plm && typeof plm === 'object') {
    for (const [k, v] of Object.entries(plm)) {
      const m = modeOf(v);
      ports.set(Number(k), m === 'UNSET' ? mode : m);
    }
  }
  return { mode, ports, sources };
}

export function mtlsModeForPort(pa: PeerAuthenticationPolicy, port: number): MtlsMode {
  return pa.ports.get(port) ?? pa.mode;
}

// ---- string matching of authorization values (reference §5.5; matcher/string.go) ----

type StrPred = (v: string | undefined) => boolean;

/** `abc` exact, `abc*` prefix, `*abc` suffix, `*` presence (non-empty unless `presentEmptyOk`). */
function valueMatcher(value: string, opts: { ignoreCase?: boolean; presentEmptyOk?: boolean } = {}): StrPred {
  const norm = opts.ignoreCase ? (s: string) => s.toLowerCase() : (s: string) => s;
  const v = norm(value);
  if (v === '*') return opts.presentEmptyOk ? (x) => x !== undefined : (x) => x !== undefined && x !== '';
  if (v.endsWith('*')) {
    const p = v.slice(0, -1);
    return (x) => x !== undefined && norm(x).startsWith(p);
  }
  if (v.startsWith('*')) {
    const s = v.slice(1);
    return (x) => x !== undefined && norm(x).endsWith(s);
  }
  return (x) => x !== undefined && norm(x) === v;
}

function anyOf(values: unknown, make: (v: string) => StrPred): StrPred | undefined {
  if (!Array.isArray(values) || values.length === 0) return undefined;
  const preds = values.map((v) => make(String(v)));
  return (x) => preds.some((p) => p(x));
}

/** Glob with `*` anywhere, matched without regular expressions. */
function globMatch(pattern: string, s: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === s;
  if (!s.startsWith(parts[0]!)) return false;
  let pos = parts[0]!.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const idx = s.indexOf(parts[i]!, pos);
    if (idx < 0) return false;
    pos = idx + parts[i]!.length;
  }
  const last = parts[parts.length - 1]!;
  return s.length - pos >= last.length && s.endsWith(last);
}

// `namespaces`: every `*` becomes `.*` in the regex `.*/ns/<value>/.*` over the principal (generator.go: srcNamespaceGenerator).
function namespaceMatcher(value: string): StrPred {
  const pattern = `*/ns/${value}/*`;
  return (principal) => principal !== undefined && globMatch(pattern, principal);
}

function principalParts(p: string | undefined): { td: string; ns: string; sa: string } | undefined {
  if (!p) return undefined;
  const m = /^(.*)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
  return m ? { td: m[1]!, ns: m[2]!, sa: m[3]! } : undefined;
}

/** Template paths `{*}` (one segment) and `{**}` (rest) (security.go: CheckValidPathTemplate). */
function pathMatcher(value: string): StrPred {
  if (!value.includes('{*}') && !value.includes('{**}')) return valueMatcher(value);
  const segs = value.split('/');
  return (path) => {
    if (path === undefined) return false;
    const ps = path.split('/');
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if (s === '{**}') return true;
      if (i >= ps.length) return false;
      if (s === '{*}') {
        if (ps[i] === '') return false;
        continue;
      }
      if (!globSegment(s, ps[i]!)) return false;
    }
    return ps.length === segs.length;
  };
}

function globSegment(s: string, v: string): boolean {
  return s.includes('{*}') ? false : s === v;
}

function expandAliases(values: string[], mesh: MeshConfig): string[] {
  if (mesh.trustDomainAliases.length === 0) return values;
  const domains = [mesh.trustDomain, ...mesh.trustDomainAliases];
  const out: string[] = [];
  for (const v of values) {
    out.push(v);
    for (const td of domains) {
      if (v.startsWith(`${td}/`)) for (const other of domains) if (other !== td) out.push(`${other}/${v.slice(td.length + 1)}`);
    }
  }
  return out;
}

function claimValues(claims: Record<string, unknown> | undefined, path: string[]): string[] | undefined {
  let cur: unknown = claims;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return undefined;
  const leaf = path[path.length - 1];
  if (Array.isArray(cur)) return cur.map(String);
  if (typeof cur === 'string' && (leaf === 'scope' || leaf === 'permission')) return cur.split(' ');
  return [String(cur)];
}

function parseClaimKey(key: string): string[] | undefined {
  const m = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]!);
}

function whenPredicate(key: string, values: string[], policyNs: string): Pred | undefined {
  void policyNs;
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) {
    const name = header[1]!.toLowerCase();
    const p = anyOf(values, (v) => valueMatcher(v, { presentEmptyOk: true }))!;
    return (a) => p(a.headers[name]);
  }
  const claim = parseClaimKey(key);
  if (claim) {
    const p = anyOf(values, (v) => valueMatcher(v))!;
    return (a) => (claimValues(a.claims, claim) ?? []).some((x) => p(x));
  }
  switch (key) {
    case 'source.ip': { const c = compileCidrs(values); return (a) => !!a.sourceIp && c.has(a.sourceIp); }
    case 'remote.ip': { const c = compileCidrs(values); return (a) => !!(a.remoteIp ?? a.sourceIp) && c.has((a.remoteIp ?? a.sourceIp)!); }
    case 'destination.ip': { const c = compileCidrs(values); return (a) => !!a.destinationIp && c.has(a.destinationIp); }
    case 'destination.port': { const set = new Set(values); return (a) => set.has(String(a.port)); }
    case 'source.namespace': { const p = anyOf(values, namespaceMatcher)!; return (a) => p(a.principal); }
    case 'source.principal': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => p(a.principal); }
    case 'source.serviceAccount': {
      const set = values.map((v) => (v.includes('/') ? v : `${policyNs}/${v}`));
      return (a) => { const pp = principalParts(a.principal); return !!pp && set.includes(`${pp.ns}/${pp.sa}`); };
    }
    case 'source.trustDomain': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => p(principalParts(a.principal)?.td); }
    case 'request.auth.principal': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => p(a.requestPrincipal); }
    case 'request.auth.audiences': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => (claimValues(a.claims, ['aud']) ?? []).some((x) => p(x)); }
    case 'request.auth.presenter': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => p(claimValues(a.claims, ['azp'])?.[0]); }
    case 'connection.sni': { const p = anyOf(values, (v) => valueMatcher(v))!; return (a) => p(a.sni); }
    default:
      // experimental.envoy.filters.* keys match Envoy filter metadata an in-process mesh does not have.
      return () => false;
  }
}

/** A field and its `not` form: both must hold (reference §5.4). */
function field(pos: StrPred | undefined, neg: StrPred | undefined, get: (a: InboundAttributes) => string | undefined): Pred | undefined {
  if (!pos && !neg) return undefined;
  return (a) => {
    const v = get(a);
    if (pos && !pos(v)) return false;
    if (neg && v !== undefined && neg(v)) return false;
    return true;
  };
}

function ipField(pos: unknown, neg: unknown, get: (a: InboundAttributes) => string | undefined): Pred | undefined {
  const p = Array.isArray(pos) && pos.length > 0 ? compileCidrs(pos.map(String)) : undefined;
  const n = Array.isArray(neg) && neg.length > 0 ? compileCidrs(neg.map(String)) : undefined;
  if (!p && !n) return undefined;
  return (a) => {
    const ip = get(a);
    if (p && !(ip && p.has(ip))) return false;
    if (n && ip && n.has(ip)) return false;
    return true;
  };
}

function and(preds: (Pred | undefined)[]): Pred {
  const ps = preds.filter((p): p is Pred => !!p);
  if (ps.length === 0) return () => true;
  return (a) => ps.every((p) => p(a));
}

function compileSource(s: any, policyNs: string, mesh: MeshConfig): Pred {
  const strs = (v: unknown) => (Array.isArray(v) ? v.map(String) : undefined);
  const principals = strs(s.principals) && expandAliases(strs(s.principals)!, mesh);
  const notPrincipals = strs(s.notPrincipals) && expandAliases(strs(s.notPrincipals)!, mesh);
  const sa = (v: string) => (v.includes('/') ? v : `${policyNs}/${v}`);
  const saPred = (list: string[] | undefined): StrPred | undefined => {
    if (!list || list.length === 0) return undefined;
    const set = new Set(list.map(sa));
    return (p) => { const pp = principalParts(p); return !!pp && set.has(`${pp.ns}/${pp.sa}`); };
  };
  const tdOf = (a: InboundAttributes) => principalParts(a.principal)?.td;
  return and([
    field(anyOf(principals, (v) => valueMatcher(v)), anyOf(notPrincipals, (v) => valueMatcher(v)), (a) => a.principal),
    field(anyOf(s.requestPrincipals, (v) => valueMatcher(v)), anyOf(s.notRequestPrincipals, (v) => valueMatcher(v)), (a) => a.requestPrincipal),
    field(anyOf(s.namespaces, namespaceMatcher), anyOf(s.notNamespaces, namespaceMatcher), (a) => a.principal),
    field(saPred(strs(s.serviceAccounts)), saPred(strs(s.notServiceAccounts)), (a) => a.principal),
    field(anyOf(s.trustDomains, (v) => valueMatcher(v)), anyOf(s.notTrustDomains, (v) => valueMatcher(v)), tdOf),
    ipField(s.ipBlocks, s.notIpBlocks, (a) => a.sourceIp),
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, (a) => a.remoteIp ?? a.sourceIp),
  ]);
}

function compileOperation(o: any): Pred {
  const hostOpts = { ignoreCase: true, presentEmptyOk: true };
  return and([
    field(anyOf(o.hosts, (v) => valueMatcher(v, hostOpts)), anyOf(o.notHosts, (v) => valueMatcher(v, hostOpts)), (a) => a.host),
    field(anyOf(o.ports, (v) => (x) => x === v), anyOf(o.notPorts, (v) => (x) => x === v), (a) => String(a.port)),
    field(anyOf(o.methods, (v) => valueMatcher(v, { presentEmptyOk: true })), anyOf(o.notMethods, (v) => valueMatcher(v, { presentEmptyOk: true })), (a) => a.method),
    field(anyOf(o.paths, pathMatcher), anyOf(o.notPaths, pathMatcher), (a) => a.path),
  ]);
}

function compileRule(rule: any, policyNs: string, mesh: MeshConfig): Pred {
  const from: Pred[] | undefined = Array.isArray(rule?.from) ? rule.from.map((f: any) => compileSource(f?.source ?? {}, policyNs, mesh)) : undefined;
  const to: Pred[] | undefined = Array.isArray(rule?.to) ? rule.to.map((t: any) => compileOperation(t?.operation ?? {})) : undefined;
  const when: Pred[] = (Array.isArray(rule?.when) ? rule.when : []).map((c: any) => {
    const key = String(c?.key ?? '');
    const pos = Array.isArray(c?.values) && c.values.length > 0 ? whenPredicate(key, c.values.map(String), policyNs) : undefined;
    const neg = Array.isArray(c?.notValues) && c.notValues.length > 0 ? whenPredicate(key, c.notValues.map(String), policyNs) : undefined;
    return (a: InboundAttributes) => (!pos || pos(a)) && (!neg || !neg(a));
  });
  return (a) => (!from || from.some((p) => p(a))) && (!to || to.some((p) => p(a))) && when.every((p) => p(a));
}

export function compileInboundSecurity(resources: readonly Resource[], w: WorkloadIdentity, mesh: MeshConfig): InboundSecurity {
  const peerAuthentication = composePeerAuthentication(resources, w, mesh);
  const jwtRules: JwtRuleRef[] = [];
  for (const r of applicable(resources, 'RequestAuthentication', w, mesh).sort(byCreation)) {
    (Array.isArray(r.spec?.jwtRules) ? r.spec.jwtRules : []).forEach((rule: any, index: number) =>
      jwtRules.push({ policy: `${r.metadata.namespace}/${r.metadata.name}`, index, rule }));
  }
  const authorization = applicable(resources, 'AuthorizationPolicy', w, mesh)
    // Envoy's order: policies sorted by namespace and name (builder.go), rules by index.
    .sort((a, b) => (a.metadata.namespace + '/' + a.metadata.name < b.metadata.namespace + '/' + b.metadata.name ? -1 : 1))
    .map((r): CompiledAuthzPolicy => {
      const action = (r.spec?.action ?? 'ALLOW') as CompiledAuthzPolicy['action'];
      return {
        id: `${r.metadata.namespace}/${r.metadata.name}`,
        namespace: r.metadata.namespace,
        name: r.metadata.name,
        action,
        // Go strconv.ParseBool, as Istio parses it (builder.go: isDryRun); unparsable = false.
        dryRun: parseGoBool(r.metadata.annotations['istio.io/dry-run'] ?? '') === true,
        provider: r.spec?.provider?.name,
        rules: (Array.isArray(r.spec?.rules) ? r.spec.rules : []).map((rule: any) => compileRule(rule, r.metadata.namespace, mesh)),
      };
    });
  return { peerAuthentication, jwtRules, authorization };
}
