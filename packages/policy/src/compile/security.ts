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
import { compileRe2, isRe2Error } from '../util/regex.js';

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
  /** `iss/sub` of a validated JWT (for reports; authorization matches `iss` and `sub` separately). */
  requestPrincipal?: string | undefined;
  /** Payload of a validated JWT, space-delimited claims already split into lists. */
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
  /** Issuer -> claims split on spaces into lists for authorization (`scope`, `permission`, `spaceDelimitedClaims`). */
  spaceDelimitedClaims: Map<string, string[]>;
  authorization: CompiledAuthzPolicy[];
  /** The same policies grouped by what the decision does with them (enforced ones by action; dry-run ALLOW/DENY). */
  groups: AuthzGroups;
}

export interface AuthzGroups {
  custom: CompiledAuthzPolicy[];
  deny: CompiledAuthzPolicy[];
  allow: CompiledAuthzPolicy[];
  audit: CompiledAuthzPolicy[];
  dryRun: CompiledAuthzPolicy[];
}

function groupPolicies(all: readonly CompiledAuthzPolicy[]): AuthzGroups {
  const enforced = all.filter((p) => !p.dryRun);
  return {
    custom: enforced.filter((p) => p.action === 'CUSTOM'),
    deny: enforced.filter((p) => p.action === 'DENY'),
    allow: enforced.filter((p) => p.action === 'ALLOW'),
    audit: enforced.filter((p) => p.action === 'AUDIT'),
    dryRun: all.filter((p) => p.dryRun && (p.action === 'ALLOW' || p.action === 'DENY')),
  };
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

/**
 * The namespace-level PeerAuthentication of each namespace (the root namespace's is the mesh
 * level): the oldest one without a selector, one per level (authentication.go:
 * addPeerAuthentication). The server's own composition and auto-mTLS's guess at other
 * workloads' mode both start from it.
 */
export function namespacePeerAuthentications(resources: readonly Resource[]): Map<string, Resource> {
  const out = new Map<string, Resource>();
  for (const r of resources.filter((x) => x.kind === 'PeerAuthentication' && !selectorOf(x.spec)).sort(byCreation)) {
    if (!out.has(r.metadata.namespace)) out.set(r.metadata.namespace, r);
  }
  return out;
}

/** The mode a PeerAuthentication sets, or UNSET (a missing `mtls` block too). */
export function peerAuthenticationMode(r: Resource | undefined): MtlsMode | 'UNSET' {
  return r ? modeOf(r.spec?.mtls) : 'UNSET';
}

/** policy_applier.go: ComposePeerAuthentication. */
export function composePeerAuthentication(resources: readonly Resource[], w: WorkloadIdentity, mesh: MeshConfig): PeerAuthenticationPolicy {
  const pas = resources.filter((r) => r.kind === 'PeerAuthentication').sort(byCreation);
  const levels = namespacePeerAuthentications(resources);
  const meshLevel = levels.get(mesh.rootNamespace);
  const nsLevel = w.namespace === mesh.rootNamespace ? undefined : levels.get(w.namespace);
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

// ---- the peer identity (authenticated.principal_name in Envoy's RBAC) ----
//
// Envoy matches these against the URI SAN `spiffe://<principal>`; a plaintext connection
// (undefined) and a TLS peer without a SPIFFE id ('') match none of them, so their `not…`
// forms hold (rbac/matchers.cc: AuthenticatedMatcher).

const peer = (p: string | undefined): p is string => p !== undefined && p !== '';

/** `principals`, `source.principal`: the pattern with `spiffe://` in front (matcher/string.go: StringMatcherWithPrefix). */
function principalMatcher(value: string): StrPred {
  const m = valueMatcher(value);
  return (p) => peer(p) && m(p);
}

/**
 * `namespaces`, `source.namespace`: Istio's regex is `.*` + `/ns/<value>/` + `.*`, every `*` of
 * the value a `.*` too, over the whole URI SAN (generator.go: srcNamespaceGenerator).
 */
function namespaceMatcher(value: string): StrPred {
  const pattern = `*/ns/${value}/*`;
  if (!value.includes('*')) {
    // The common case without a regex or a string per request: `/ns/<value>/` inside
    // `spiffe://<p>` is inside <p>, or starts at the second slash of `spiffe://`.
    const seg = `/ns/${value}/`;
    const head = seg.slice(1);
    return (p) => peer(p) && (p.includes(seg) || p.startsWith(head));
  }
  return (p) => peer(p) && globMatch(pattern, `spiffe://${p}`);
}

/** Go regexp.QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, (c) => `\\${c}`);
}

/**
 * `serviceAccounts`, `source.serviceAccount`: `ns/sa`, or `sa` in the policy's namespace, as the
 * regex `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` (generator.go: serviceAccountRegex) — other
 * key/value segments may sit between and after, but `<sa>-suffix` is another account.
 */
function serviceAccountMatcher(value: string, policyNs: string): StrPred {
  const cut = value.indexOf('/');
  const [ns, sa] = cut >= 0 ? [value.slice(0, cut), value.slice(cut + 1)] : [policyNs, value];
  const re = compileRe2(`.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`);
  if (isRe2Error(re)) return () => false;
  return (p) => peer(p) && re.fullMatch(p);
}

/**
 * `trustDomains`, `source.trustDomain`: the text before the first `/` of the principal
 * (generator.go: srcTrustDomainGenerator): `*` = any principal (prefix `spiffe://`), exact =
 * prefix `spiffe://<td>/`, one `*` = the regex `spiffe://<a>[^/]*<b>/.*`.
 */
function trustDomainMatcher(value: string): StrPred {
  if (value === '*') return peer;
  const tdOf = (p: string) => { const i = p.indexOf('/'); return i >= 0 ? p.slice(0, i) : undefined; };
  const star = value.indexOf('*');
  if (star < 0) return (p) => peer(p) && tdOf(p) === value;
  const [a, b] = [value.slice(0, star), value.slice(star + 1)];
  return (p) => {
    if (!peer(p)) return false;
    const td = tdOf(p);
    return td !== undefined && td.length >= a.length + b.length && td.startsWith(a) && td.endsWith(b);
  };
}

// ---- trust domain aliases (pilot/pkg/security/trustdomain/bundle.go) ----

/** trustdomain.NewBundle: the mesh trust domain first, then its aliases. */
function trustDomainBundle(mesh: MeshConfig): string[] {
  return [mesh.trustDomain, ...mesh.trustDomainAliases];
}

// trustdomain/util.go: prefixMatch, suffixMatch, stringMatch (a pattern on either side).
const tdPrefix = (a: string, pattern: string) => pattern.endsWith('*') && a.startsWith(pattern.slice(0, -1));
const tdSuffix = (a: string, pattern: string) => pattern.startsWith('*') && a.endsWith(pattern.slice(1));
const tdListMatch = (a: string, list: readonly string[]) =>
  list.some((s) => a === s || s === '*' || tdPrefix(a, s) || tdPrefix(s, a) || tdSuffix(a, s) || tdSuffix(s, a));

/**
 * Bundle.ReplaceTrustDomainAliases, for `principals` and `source.principal`: a
 * `<td>/ns/<ns>/sa/<sa>` value whose trust domain is in the bundle, or is the literal
 * `cluster.local`, becomes that identity under every trust domain of the bundle (a `*`-pattern
 * trust domain stays as written for the domains it already matches). So in a mesh whose trust
 * domain is `td1`, `cluster.local/ns/a/sa/b` means `td1/ns/a/sa/b`.
 */
function replaceTrustDomainAliases(values: readonly string[], bundle: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    const parts = v.split('/');
    // Only SPIFFE-shaped values with a trust domain to enforce (not `*`) are rewritten.
    if (parts.length !== 5 || parts[0] === '*') {
      out.push(v);
      continue;
    }
    const td = parts[0]!;
    if (!tdListMatch(td, bundle) && td !== 'cluster.local') {
      out.push(v);
      continue;
    }
    const rewritten: string[] = [];
    for (const t of bundle) {
      const np = tdSuffix(t, td) ? v : `${t}/${parts.slice(1).join('/')}`;
      if (!rewritten.includes(np)) rewritten.push(np);
    }
    out.push(...rewritten);
  }
  return out;
}

/** Bundle.ExpandTrustDomainAliases, for `trustDomains` and `source.trustDomain`. */
function expandTrustDomainAliases(values: readonly string[], bundle: readonly string[]): string[] {
  const out = values.flatMap((v) => (bundle.includes(v) ? bundle : [v]));
  return [...new Set(out)];
}

// ---- the verified JWT (Envoy jwt_authn payload metadata) ----

type ClaimsPred = (claims: Record<string, unknown> | undefined) => boolean;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * `requestPrincipals`, `request.auth.principal`: split at the last `/` into issuer and subject
 * and matched against the token's `iss` and `sub` claims separately
 * (generator.go: requestPrincipalGenerator). Without a `/` the value is the issuer and the
 * subject must be empty; `x*` = issuer prefix and any subject; `*x` = any issuer and subject
 * suffix; `*` = any (non-empty) issuer and subject. A token without `sub` matches no pattern.
 */
function requestPrincipalMatcher(value: string): ClaimsPred {
  const idx = value.lastIndexOf('/');
  const found = idx >= 0;
  const [iss, sub] = found ? [value.slice(0, idx), value.slice(idx + 1)] : [value, ''];
  const any: StrPred = (x) => x !== undefined && x !== '';
  const exact = (e: string): StrPred => (x) => x === e;
  const prefix = (e: string): StrPred => (x) => x !== undefined && x.startsWith(e);
  const suffix = (e: string): StrPred => (x) => x !== undefined && x.endsWith(e);
  let mIss: StrPred;
  let mSub: StrPred;
  if (value === '*') [mIss, mSub] = [any, any];
  else if (value.startsWith('*')) [mIss, mSub] = found ? [iss === '*' ? any : suffix(iss.slice(1)), exact(sub)] : [any, suffix(value.slice(1))];
  else if (value.endsWith('*')) [mIss, mSub] = found ? [exact(iss), sub === '*' ? any : prefix(sub.slice(0, -1))] : [prefix(value.slice(0, -1)), any];
  else [mIss, mSub] = [exact(iss), exact(sub)];
  return (c) => c !== undefined && mIss(str(c.iss)) && mSub(str(c.sub));
}

/**
 * `request.auth.claims[a][b]`, `request.auth.audiences` (`aud`), `request.auth.presenter`
 * (`azp`): the claim at that path must be a string that matches, or a list with a string element
 * that matches (matcher/metadata.go: MetadataListValueMatcher with useExtendedJwt). Numbers,
 * booleans and objects never match: Envoy's string matcher only sees string values.
 */
function claimMatcher(path: readonly string[], values: readonly string[]): ClaimsPred {
  const p = anyOf(values, (v) => valueMatcher(v))!;
  return (claims) => {
    let cur: unknown = claims;
    for (const k of path) {
      if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return false;
      cur = (cur as Record<string, unknown>)[k];
    }
    if (typeof cur === 'string') return p(cur);
    return Array.isArray(cur) && cur.some((e) => typeof e === 'string' && p(e));
  };
}

function parseClaimKey(key: string): string[] | undefined {
  const m = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]!);
}

// ---- request and connection attributes ----

/** A port value as Istio converts it (util.go: convertToPort); anything else matches nothing. */
function portOf(v: string): number | undefined {
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 65535 ? n : undefined;
}

function portMatcher(values: readonly string[]): (port: number) => boolean {
  const set = new Set(values.map(portOf).filter((n): n is number => n !== undefined));
  return (port) => set.has(port);
}

// Envoy's URI template (uri_template_internal.cc): `*` = one or more pchar without `/` and `=`,
// `**` = zero or more of them or `/`.
const URI_TEMPLATE_CHARS = "a-zA-Z0-9\\-._~%!$&'()+,;:@";

/**
 * Template paths: `{*}` and `{**}` become Envoy's `*` and `**` (matcher/template.go) and the
 * template is matched as Envoy's uri_template does — one RE2 full match of
 * `/seg/seg/...`. So `/{**}/x` needs at least `//x`, and `{*}` never matches a segment holding
 * `=`.
 */
function pathMatcher(value: string): StrPred {
  if (!value.includes('{*}') && !value.includes('{**}')) return valueMatcher(value);
  const template = value.split('{**}').join('**').split('{*}').join('*');
  if (!template.startsWith('/')) return () => false; // Envoy rejects a template without a leading `/`
  const segs = template.slice(1).split('/').map((s) =>
    s === '**' ? `[${URI_TEMPLATE_CHARS}/]*` : s === '*' ? `[${URI_TEMPLATE_CHARS}]+` : quoteMeta(s));
  const re = compileRe2(`/${segs.join('/')}`);
  if (isRe2Error(re)) return () => false;
  return (path) => path !== undefined && re.fullMatch(path);
}

interface WhenContext {
  policyNs: string;
  bundle: readonly string[];
}

function whenPredicate(key: string, values: string[], ctx: WhenContext): Pred | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) {
    const name = header[1]!.toLowerCase();
    const p = anyOf(values, (v) => valueMatcher(v, { presentEmptyOk: true }))!;
    return (a) => p(a.headers[name]);
  }
  const claim = parseClaimKey(key);
  if (claim) {
    const p = claimMatcher(claim, values);
    return (a) => p(a.claims);
  }
  switch (key) {
    case 'source.ip': { const c = compileCidrs(values); return (a) => !!a.sourceIp && c.has(a.sourceIp); }
    case 'remote.ip': { const c = compileCidrs(values); return (a) => !!(a.remoteIp ?? a.sourceIp) && c.has((a.remoteIp ?? a.sourceIp)!); }
    case 'destination.ip': { const c = compileCidrs(values); return (a) => !!a.destinationIp && c.has(a.destinationIp); }
    case 'destination.port': { const p = portMatcher(values); return (a) => p(a.port); }
    case 'source.namespace': { const p = anyOf(values, namespaceMatcher)!; return (a) => p(a.principal); }
    case 'source.principal': { const p = anyOf(replaceTrustDomainAliases(values, ctx.bundle), principalMatcher)!; return (a) => p(a.principal); }
    case 'source.serviceAccount': { const p = anyOf(values, (v) => serviceAccountMatcher(v, ctx.policyNs))!; return (a) => p(a.principal); }
    case 'source.trustDomain': { const p = anyOf(expandTrustDomainAliases(values, ctx.bundle), trustDomainMatcher)!; return (a) => p(a.principal); }
    case 'request.auth.principal': { const ms = values.map(requestPrincipalMatcher); return (a) => ms.some((m) => m(a.claims)); }
    case 'request.auth.audiences': { const p = claimMatcher(['aud'], values); return (a) => p(a.claims); }
    case 'request.auth.presenter': { const p = claimMatcher(['azp'], values); return (a) => p(a.claims); }
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

function compileSource(s: any, ctx: WhenContext): Pred {
  const strs = (v: unknown) => (Array.isArray(v) && v.length > 0 ? v.map(String) : undefined);
  const principals = strs(s.principals) && replaceTrustDomainAliases(strs(s.principals)!, ctx.bundle);
  const notPrincipals = strs(s.notPrincipals) && replaceTrustDomainAliases(strs(s.notPrincipals)!, ctx.bundle);
  const trustDomains = strs(s.trustDomains) && expandTrustDomainAliases(strs(s.trustDomains)!, ctx.bundle);
  const notTrustDomains = strs(s.notTrustDomains) && expandTrustDomainAliases(strs(s.notTrustDomains)!, ctx.bundle);
  const reqPos = strs(s.requestPrincipals)?.map(requestPrincipalMatcher);
  const reqNeg = strs(s.notRequestPrincipals)?.map(requestPrincipalMatcher);
  const sa = (v: string) => serviceAccountMatcher(v, ctx.policyNs);
  return and([
    field(anyOf(principals, principalMatcher), anyOf(notPrincipals, principalMatcher), (a) => a.principal),
    reqPos || reqNeg ? (a) => (!reqPos || reqPos.some((m) => m(a.claims))) && (!reqNeg || !reqNeg.some((m) => m(a.claims))) : undefined,
    field(anyOf(s.namespaces, namespaceMatcher), anyOf(s.notNamespaces, namespaceMatcher), (a) => a.principal),
    field(anyOf(s.serviceAccounts, sa), anyOf(s.notServiceAccounts, sa), (a) => a.principal),
    field(anyOf(trustDomains, trustDomainMatcher), anyOf(notTrustDomains, trustDomainMatcher), (a) => a.principal),
    ipField(s.ipBlocks, s.notIpBlocks, (a) => a.sourceIp),
    ipField(s.remoteIpBlocks, s.notRemoteIpBlocks, (a) => a.remoteIp ?? a.sourceIp),
  ]);
}

function compileOperation(o: any): Pred {
  const hostOpts = { ignoreCase: true, presentEmptyOk: true };
  const ports = (v: unknown) => (Array.isArray(v) && v.length > 0 ? portMatcher(v.map(String)) : undefined);
  const [pos, neg] = [ports(o.ports), ports(o.notPorts)];
  return and([
    field(anyOf(o.hosts, (v) => valueMatcher(v, hostOpts)), anyOf(o.notHosts, (v) => valueMatcher(v, hostOpts)), (a) => a.host),
    pos || neg ? (a) => (!pos || pos(a.port)) && (!neg || !neg(a.port)) : undefined,
    field(anyOf(o.methods, (v) => valueMatcher(v, { presentEmptyOk: true })), anyOf(o.notMethods, (v) => valueMatcher(v, { presentEmptyOk: true })), (a) => a.method),
    field(anyOf(o.paths, pathMatcher), anyOf(o.notPaths, pathMatcher), (a) => a.path),
  ]);
}

function compileRule(rule: any, ctx: WhenContext): Pred {
  const from: Pred[] | undefined = Array.isArray(rule?.from) ? rule.from.map((f: any) => compileSource(f?.source ?? {}, ctx)) : undefined;
  const to: Pred[] | undefined = Array.isArray(rule?.to) ? rule.to.map((t: any) => compileOperation(t?.operation ?? {})) : undefined;
  const when: Pred[] = (Array.isArray(rule?.when) ? rule.when : []).map((c: any) => {
    const key = String(c?.key ?? '');
    const pos = Array.isArray(c?.values) && c.values.length > 0 ? whenPredicate(key, c.values.map(String), ctx) : undefined;
    const neg = Array.isArray(c?.notValues) && c.notValues.length > 0 ? whenPredicate(key, c.notValues.map(String), ctx) : undefined;
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
  const bundle = trustDomainBundle(mesh);
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
        rules: (Array.isArray(r.spec?.rules) ? r.spec.rules : []).map((rule: any) => compileRule(rule, { policyNs: r.metadata.namespace, bundle })),
      };
    });
  return { peerAuthentication, jwtRules, spaceDelimitedClaims: spaceDelimitedClaimsByIssuer(jwtRules), authorization, groups: groupPolicies(authorization) };
}

/**
 * The claims Envoy's jwt_authn splits on spaces into lists before authorization sees them:
 * `scope` and `permission` always, plus the rule's `spaceDelimitedClaims`
 * (policy_applier.go: buildSpaceDelimitedClaims), top-level claims only
 * (jwt_authn authenticator.cc: setPayloadMetadata). By issuer, as the verifying rule is found.
 */
function spaceDelimitedClaimsByIssuer(jwtRules: readonly JwtRuleRef[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const j of jwtRules) {
    const issuer = j.rule?.issuer;
    if (typeof issuer !== 'string') continue;
    const extra = Array.isArray(j.rule?.spaceDelimitedClaims) ? j.rule.spaceDelimitedClaims.map(String) : [];
    out.set(issuer, [...new Set([...(out.get(issuer) ?? ['permission', 'scope']), ...extra])]);
  }
  return out;
}
