/**
 * A small, independent evaluator of Envoy's HTTP RBAC filter config, as Istio writes it in
 * its authorization golden files (pilot/pkg/security/authz/builder/testdata/http/*-out*.yaml).
 * It shares no code with Meshwork's authorization: it reads the Envoy config and applies
 * Envoy's matcher semantics, so a test can compare the two.
 *
 * Semantics follow Envoy's sources:
 * - source/extensions/filters/common/rbac/matchers.cc (and/or/not, header, IP, port,
 *   authenticated, metadata, requested server name, url_path, uri_template; a policy
 *   matches when some permission and some principal match);
 * - source/extensions/filters/common/rbac/engine_impl.cc (ALLOW: allowed iff a policy
 *   matches; DENY: denied iff one matches; LOG never denies);
 * - source/common/common/matchers.cc (StringMatcher with ignore_case; safe_regex is an RE2
 *   full match; ValueMatcher string/list/or only match values of that type);
 * - source/common/http/header_utility.cc (an absent header matches nothing);
 * - source/extensions/path/uri_template_lib/uri_template_internal.cc (`*` and `**`).
 * Only what the golden files use is implemented; anything else throws, so a new construct in
 * the corpus cannot be silently mis-evaluated.
 */
import { compileRe2, isRe2Error } from '../../src/util/regex.js';

/** What Envoy knows about one HTTP request on an inbound sidecar listener. */
export interface EnvoyRequest {
  /** URI SANs of the verified peer certificate; undefined for a plaintext connection. */
  uriSans: string[] | undefined;
  /** Requested server name of the TLS connection ('' without TLS or SNI). */
  sni: string;
  /** downstream direct remote address (`direct_remote_ip`). */
  directRemoteIp: string;
  /** downstream remote address after X-Forwarded-For processing (`remote_ip`). */
  remoteIp: string;
  /** downstream local address and port (`destination_ip`, `destination_port`). */
  localIp: string;
  localPort: number;
  /** Request headers by lower-case name, including `:authority`, `:method`, `:path` (with query). */
  headers: Map<string, string>;
  /** Dynamic metadata by filter name (e.g. `envoy.filters.http.jwt_authn` -> { payload }). */
  dynamicMetadata: Record<string, Record<string, unknown>>;
}

export interface EngineOutcome {
  action: 'ALLOW' | 'DENY' | 'LOG';
  /** Names of every policy that matches, in Envoy's map order (sorted by name). */
  matched: string[];
}

export interface FilterOutcome {
  filter: string;
  rules?: EngineOutcome | undefined;
  shadowRules?: EngineOutcome | undefined;
}

export interface ChainOutcome {
  decision: 'ALLOW' | 'DENY';
  /** The filter (index) and engine result that denied, when one did. */
  deniedBy: { index: number; engine: EngineOutcome } | null;
  filters: FilterOutcome[];
}

type Json = any;

function fail(what: string, v: unknown): never {
  throw new Error(`envoy-rbac: unsupported ${what}: ${JSON.stringify(v)}`);
}

function onlyKeys(o: Json, allowed: string[], what: string): void {
  for (const k of Object.keys(o ?? {})) if (!allowed.includes(k)) fail(`${what} field ${k}`, o);
}

const regexCache = new Map<string, (s: string) => boolean>();
function re2Full(pattern: string): (s: string) => boolean {
  let f = regexCache.get(pattern);
  if (!f) {
    const re = compileRe2(pattern);
    if (isRe2Error(re)) throw new Error(`envoy-rbac: bad regex ${pattern}: ${re.error}`);
    f = (s: string) => re.fullMatch(s);
    regexCache.set(pattern, f);
  }
  return f;
}

/** envoy.type.matcher.v3.StringMatcher. */
export function stringMatch(m: Json, value: string): boolean {
  onlyKeys(m, ['exact', 'prefix', 'suffix', 'contains', 'safeRegex', 'ignoreCase'], 'StringMatcher');
  const ic = m.ignoreCase === true;
  const v = ic ? value.toLowerCase() : value;
  const norm = (s: string) => (ic ? s.toLowerCase() : s);
  if (typeof m.exact === 'string') return v === norm(m.exact);
  if (typeof m.prefix === 'string') return v.startsWith(norm(m.prefix));
  if (typeof m.suffix === 'string') return v.endsWith(norm(m.suffix));
  if (typeof m.contains === 'string') return v.includes(norm(m.contains));
  if (m.safeRegex) {
    onlyKeys(m.safeRegex, ['regex'], 'RegexMatcher');
    return re2Full(String(m.safeRegex.regex))(value); // ignore_case does not apply to regex
  }
  // An empty StringMatcher has no pattern set: proto validation rejects it.
  return fail('StringMatcher', m);
}

/** config.route.v3.HeaderMatcher (header_utility.cc: matchHeaders). */
function headerMatch(h: Json, req: EnvoyRequest): boolean {
  onlyKeys(h, ['name', 'stringMatch', 'presentMatch', 'safeRegexMatch', 'invertMatch'], 'HeaderMatcher');
  const value = req.headers.get(String(h.name).toLowerCase());
  const invert = h.invertMatch === true;
  if (value === undefined) return invert && h.presentMatch !== undefined;
  let r: boolean;
  if (h.presentMatch !== undefined) r = h.presentMatch === true;
  else if (h.stringMatch) r = stringMatch(h.stringMatch, value);
  else if (h.safeRegexMatch) r = re2Full(String(h.safeRegexMatch.regex))(value);
  else return fail('HeaderMatcher', h);
  return invert ? !r : r;
}

function ipToBits(ip: string): bigint | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (!m) return undefined;
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    n = (n << 8n) | BigInt(o);
  }
  return n;
}

/** config.core.v3.CidrRange, IPv4 (all the corpus uses). */
function cidrMatch(c: Json, ip: string): boolean {
  onlyKeys(c, ['addressPrefix', 'prefixLen'], 'CidrRange');
  const base = ipToBits(String(c.addressPrefix));
  const addr = ipToBits(ip);
  if (base === undefined) return fail('CidrRange (IPv4 only)', c);
  if (addr === undefined) return false;
  const len = BigInt(c.prefixLen ?? 0);
  const mask = len === 0n ? 0n : ((1n << 32n) - 1n) ^ ((1n << (32n - len)) - 1n);
  return (base & mask) === (addr & mask);
}

/** envoy.type.matcher.v3.ValueMatcher over a JSON value (a protobuf Struct value). */
function valueMatch(m: Json, v: unknown): boolean {
  onlyKeys(m, ['stringMatch', 'listMatch', 'orMatch', 'presentMatch'], 'ValueMatcher');
  if (m.stringMatch) return typeof v === 'string' && stringMatch(m.stringMatch, v);
  if (m.orMatch) return (m.orMatch.valueMatchers as Json[]).some((x) => valueMatch(x, v));
  if (m.listMatch) {
    onlyKeys(m.listMatch, ['oneOf'], 'ListMatcher');
    return Array.isArray(v) && v.some((e) => valueMatch(m.listMatch.oneOf, e));
  }
  if (m.presentMatch !== undefined) return (v !== undefined && v !== null) === (m.presentMatch === true);
  return fail('ValueMatcher', m);
}

/** envoy.type.matcher.v3.MetadataMatcher (matchers.cc: Metadata::metadataValue then the value matcher). */
function metadataMatch(m: Json, req: EnvoyRequest): boolean {
  onlyKeys(m, ['filter', 'path', 'value', 'invert'], 'MetadataMatcher');
  let cur: unknown = req.dynamicMetadata[String(m.filter)];
  for (const seg of m.path as Json[]) {
    onlyKeys(seg, ['key'], 'PathSegment');
    cur = cur && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Record<string, unknown>)[String(seg.key)] : undefined;
  }
  const r = valueMatch(m.value, cur);
  return m.invert === true ? !r : r;
}

// uri_template_internal.cc: kLiteral; `*` = one or more, `**` = zero or more including '/'.
const LITERAL_CLASS = "a-zA-Z0-9\\-._~%!$&'()+,;:@";
function uriTemplateRegex(template: string): string {
  if (!template.startsWith('/')) fail('uri template', template);
  const segs = template.slice(1).split('/');
  const parts = segs.map((s) => {
    if (s === '**') return `[${LITERAL_CLASS}/]*`;
    if (s === '*') return `[${LITERAL_CLASS}]+`;
    if (s.includes('*') || s.includes('{')) fail('uri template segment', template);
    return s.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
  });
  return `/${parts.join('/')}`;
}

function pathOf(req: EnvoyRequest): string | undefined {
  const p = req.headers.get(':path');
  if (p === undefined) return undefined;
  // Http::PathUtil::removeQueryAndFragment
  const cut = p.search(/[?#]/);
  return cut >= 0 ? p.slice(0, cut) : p;
}

/** config.rbac.v3.Permission. */
export function permissionMatch(p: Json, req: EnvoyRequest): boolean {
  const keys = Object.keys(p);
  if (keys.length !== 1) fail('Permission', p);
  const k = keys[0]!;
  const v = p[k];
  switch (k) {
    case 'any': return v === true;
    case 'andRules': return (v.rules as Json[]).every((x) => permissionMatch(x, req));
    case 'orRules': return (v.rules as Json[]).some((x) => permissionMatch(x, req));
    case 'notRule': return !permissionMatch(v, req);
    case 'header': return headerMatch(v, req);
    case 'destinationPort': return req.localPort === Number(v);
    case 'destinationIp': return cidrMatch(v, req.localIp);
    case 'requestedServerName': return stringMatch(v, req.sni);
    case 'metadata': return metadataMatch(v, req);
    case 'urlPath': {
      onlyKeys(v, ['path'], 'PathMatcher');
      const path = pathOf(req);
      return path !== undefined && stringMatch(v.path, path);
    }
    case 'uriTemplate': {
      const tc = v.typedConfig;
      if (tc?.['@type'] !== 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig') fail('uriTemplate', v);
      const path = pathOf(req);
      return path !== undefined && re2Full(uriTemplateRegex(String(tc.pathTemplate)))(path);
    }
    default: return fail('Permission', p);
  }
}

/** config.rbac.v3.Principal. */
export function principalMatch(p: Json, req: EnvoyRequest): boolean {
  const keys = Object.keys(p);
  if (keys.length !== 1) fail('Principal', p);
  const k = keys[0]!;
  const v = p[k];
  switch (k) {
    case 'any': return v === true;
    case 'andIds': return (v.ids as Json[]).every((x) => principalMatch(x, req));
    case 'orIds': return (v.ids as Json[]).some((x) => principalMatch(x, req));
    case 'notId': return !principalMatch(v, req);
    case 'authenticated': {
      // AuthenticatedMatcher: no TLS -> false; otherwise any URI SAN (then DNS SANs and the
      // subject, which Istio workload certificates do not carry) matching principal_name.
      onlyKeys(v, ['principalName'], 'Authenticated');
      if (!req.uriSans) return false;
      if (!v.principalName) return true;
      return req.uriSans.some((san) => stringMatch(v.principalName, san));
    }
    case 'directRemoteIp': return cidrMatch(v, req.directRemoteIp);
    case 'remoteIp': return cidrMatch(v, req.remoteIp);
    case 'header': return headerMatch(v, req);
    case 'metadata': return metadataMatch(v, req);
    default: return fail('Principal', p);
  }
}

function policyMatch(policy: Json, req: EnvoyRequest): boolean {
  onlyKeys(policy, ['permissions', 'principals'], 'Policy');
  return (policy.permissions as Json[]).some((x) => permissionMatch(x, req)) && (policy.principals as Json[]).some((x) => principalMatch(x, req));
}

function engine(rbac: Json, req: EnvoyRequest): EngineOutcome {
  onlyKeys(rbac, ['action', 'policies'], 'RBAC');
  const action = (rbac.action ?? 'ALLOW') as EngineOutcome['action'];
  if (!['ALLOW', 'DENY', 'LOG'].includes(action)) fail('RBAC action', rbac.action);
  const names = Object.keys(rbac.policies ?? {}).sort();
  return { action, matched: names.filter((n) => policyMatch(rbac.policies[n], req)) };
}

/** Whether an engine lets the request through (engine_impl.cc: handleAction). */
export function engineAllows(e: EngineOutcome): boolean {
  if (e.action === 'ALLOW') return e.matched.length > 0;
  if (e.action === 'DENY') return e.matched.length === 0;
  return true; // LOG
}

/**
 * Runs the HTTP filters of an inbound chain in order: every RBAC filter evaluates its shadow
 * rules (recorded only) and its rules (enforced); the first enforced denial stops the chain.
 * ext_authz filters are recorded and skipped (their outcome depends on the external service).
 */
export function evaluateChain(filters: readonly Json[], req: EnvoyRequest): ChainOutcome {
  const out: FilterOutcome[] = [];
  for (let i = 0; i < filters.length; i++) {
    const f = filters[i];
    if (f.name === 'envoy.filters.http.ext_authz') {
      out.push({ filter: f.name });
      continue;
    }
    if (f.name !== 'envoy.filters.http.rbac') fail('filter', f.name);
    const tc = f.typedConfig;
    onlyKeys(tc, ['@type', 'rules', 'shadowRules', 'shadowRulesStatPrefix'], 'RBAC filter');
    const shadowRules = tc.shadowRules ? engine(tc.shadowRules, req) : undefined;
    const rules = tc.rules ? engine(tc.rules, req) : undefined;
    out.push({ filter: f.name, rules, shadowRules });
    if (rules && !engineAllows(rules)) return { decision: 'DENY', deniedBy: { index: i, engine: rules }, filters: out };
  }
  return { decision: 'ALLOW', deniedBy: null, filters: out };
}

/** `ns[foo]-policy[httpbin-1]-rule[0]` (with an optional `istio-ext-authz-<provider>-` prefix and suffix) -> parts. */
export function parsePolicyName(name: string): { id: string; rule: number } {
  const m = /ns\[([^\]]*)\]-policy\[([^\]]*)\]-rule\[(\d+)\]/.exec(name);
  if (!m) throw new Error(`envoy-rbac: unexpected policy name ${name}`);
  return { id: `${m[1]}/${m[2]}`, rule: Number(m[3]) };
}
