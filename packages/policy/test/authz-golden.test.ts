/**
 * Istio's authorization golden files (corpus group G) as an oracle for decideInbound.
 *
 * For each HTTP case of pilot/pkg/security/authz/builder/builder_test.go
 * (TestGenerator_GenerateHTTP), the input AuthorizationPolicies are compiled by Meshwork for
 * Istio's test workload (namespace foo, labels app=httpbin, version=v1; builder_test.go: node)
 * under the case's trust domain bundle, and the Envoy RBAC filters Istio generates for them
 * (the -out files) are evaluated by an independent evaluator (support/envoy-rbac.ts). Requests
 * are generated from the values in each policy (support/authz-requests.ts), and for every one
 * the two must agree on:
 * - the decision (enforced filters in order: AUDIT (LOG), DENY, ALLOW — builder.go: build);
 * - the deciding policy and rule (a DENY or ALLOW policy Envoy also matches);
 * - the AUDIT policies that matched (the LOG engine);
 * - the dry-run policies whose enforcement would change the decision, derived from the shadow
 *   rules (istio_dry_run_allow_/deny_) and the enforced result.
 * CUSTOM cases check which CUSTOM rules match (Envoy: the ext_authz shadow rules that decide
 * whether the authorizer is called); Meshwork, which has no extension providers, denies the
 * requests those rules match, as Istio does for an unusable provider.
 *
 * Because many golden rules can never match as a whole (e.g. `notPaths: ["*"]`), every
 * condition of every rule — and every value of it — is also compiled on its own and compared
 * with the Envoy matcher Istio generated for it, over the same requests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { compileSnapshot, type Snapshot } from '../src/compile/snapshot.js';
import { decideInbound, inboundAttributes, type InboundDecision, type InboundRequest } from '../src/decide/inbound.js';
import { loadPaths, loadText } from '../src/load/loader.js';
import type { Resource } from '../src/load/resource.js';
import type { MeshConfig, WorkloadIdentity } from '../src/mesh.js';
import { generateRequests, issuersOf, type GenRequest } from './support/authz-requests.js';
import { evaluateChain, parsePolicyName, permissionMatch, principalMatch, type ChainOutcome, type EnvoyRequest } from './support/envoy-rbac.js';
import { CORPUS } from './support/corpus.js';

const HTTP = join(CORPUS, 'pilot/pkg/security/authz/builder/testdata/http');
const TCP = join(CORPUS, 'pilot/pkg/security/authz/builder/testdata/tcp');

/** builder_test.go: node() — the proxy every case is generated for. */
const HTTPBIN: WorkloadIdentity = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };

interface Case {
  /** The Go test case name (builder_test.go: TestGenerator_GenerateHTTP). */
  name: string;
  input: string;
  want: string[];
  /** trustdomain.NewBundle(trustDomain, aliases) of the Go case; none = Meshwork's default mesh. */
  bundle?: [string, string[]];
  note?: string;
}

const CASES: Case[] = [
  { name: 'allow-empty-rule', input: 'allow-empty-rule-in.yaml', want: ['allow-empty-rule-out.yaml'] },
  { name: 'allow-full-rule', input: 'allow-full-rule-in.yaml', want: ['allow-full-rule-out.yaml'] },
  { name: 'allow-nil-rule', input: 'allow-nil-rule-in.yaml', want: ['allow-nil-rule-out.yaml'] },
  { name: 'allow-path', input: 'allow-path-in.yaml', want: ['allow-path-out.yaml'] },
  { name: 'audit-full-rule', input: 'audit-full-rule-in.yaml', want: ['audit-full-rule-out.yaml'] },
  { name: 'deny-and-allow', input: 'deny-and-allow-in.yaml', want: ['deny-and-allow-out1.yaml', 'deny-and-allow-out2.yaml'] },
  { name: 'deny-empty-rule', input: 'deny-empty-rule-in.yaml', want: ['deny-empty-rule-out.yaml'] },
  { name: 'dry-run-allow-and-deny', input: 'dry-run-allow-and-deny-in.yaml', want: ['dry-run-allow-and-deny-out1.yaml', 'dry-run-allow-and-deny-out2.yaml'] },
  { name: 'dry-run-allow', input: 'dry-run-allow-in.yaml', want: ['dry-run-allow-out.yaml'] },
  { name: 'dry-run-mix', input: 'dry-run-mix-in.yaml', want: ['dry-run-mix-out.yaml'] },
  { name: 'multiple-policies', input: 'multiple-policies-in.yaml', want: ['multiple-policies-out.yaml'] },
  { name: 'single-policy', input: 'single-policy-in.yaml', want: ['single-policy-out.yaml'] },
  { name: 'trust-domain-one-alias', input: 'simple-policy-td-aliases-in.yaml', want: ['simple-policy-td-aliases-out.yaml'], bundle: ['td1', ['cluster.local']] },
  { name: 'trust-domain-multiple-aliases', input: 'simple-policy-multiple-td-aliases-in.yaml', want: ['simple-policy-multiple-td-aliases-out.yaml'], bundle: ['td1', ['cluster.local', 'some-td']] },
  { name: 'trust-domain-wildcard-in-principal', input: 'simple-policy-principal-with-wildcard-in.yaml', want: ['simple-policy-principal-with-wildcard-out.yaml'], bundle: ['td1', ['foobar']] },
  { name: 'trust-domain-aliases-in-source-principal', input: 'td-aliases-source-principal-in.yaml', want: ['td-aliases-source-principal-out.yaml'], bundle: ['new-td', ['old-td', 'some-trustdomain']] },
  { name: 'trust-domains-field', input: 'trust-domains-in.yaml', want: ['trust-domains-out.yaml'] },
  {
    name: 'allow-host-before-111', input: 'allow-host-before-111-in.yaml', want: ['allow-host-before-111-out.yaml'],
    note: 'no longer in builder_test.go: the golden of proxies older than 1.11 (hosts as (?i) safe_regex); compared all the same, the meaning is unchanged',
  },
];

/** The CUSTOM cases: same inputs, different meshConfig.extensionProviders (builder_test.go). */
const CUSTOM_CASES: (Case & { providerUsable: boolean })[] = [
  { name: 'custom-grpc-provider-no-namespace', input: 'custom-simple-http-in.yaml', want: ['custom-grpc-provider-no-namespace-out1.yaml', 'custom-grpc-provider-no-namespace-out2.yaml'], providerUsable: true },
  { name: 'custom-grpc-provider', input: 'custom-simple-http-in.yaml', want: ['custom-grpc-provider-out1.yaml', 'custom-grpc-provider-out2.yaml'], providerUsable: true },
  { name: 'custom-http-provider', input: 'custom-simple-http-in.yaml', want: ['custom-http-provider-out1.yaml', 'custom-http-provider-out2.yaml'], providerUsable: true },
  { name: 'custom-bad-multiple-providers', input: 'custom-bad-multiple-providers-in.yaml', want: ['custom-bad-multiple-providers-out1.yaml', 'custom-bad-multiple-providers-out2.yaml'], providerUsable: false },
  { name: 'custom-bad-invalid-config', input: 'custom-simple-http-in.yaml', want: ['custom-bad-out.yaml'], providerUsable: false },
];

/** Golden inputs that are not compared here, and why. */
const NOT_APPLICABLE: Record<string, string> = {
  'tcp/*-in.yaml': 'TCP filter chain (network RBAC filter, TestGenerator_GenerateTCP): decideInbound decides HTTP requests only',
};

const loadFilters = (dir: string, file: string) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => d.toJS()).filter(Boolean);

function loadCase(c: Case, issuers: string[] = []): { resources: Resource[]; policies: Resource[] } {
  const r = loadPaths([join(HTTP, c.input)]);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const policies = r.resources.filter((x) => x.kind === 'AuthorizationPolicy');
  const resources = [...r.resources];
  if (issuers.length > 0) {
    // Envoy only has JWT payload metadata for a token a jwt_authn provider verified: stand in
    // for that with a RequestAuthentication that accepts every issuer the requests carry.
    const ra = loadText(JSON.stringify({
      apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'golden-jwt', namespace: 'foo' },
      spec: { jwtRules: issuers.map((issuer) => ({ issuer, jwksUri: 'https://issuer.example/jwks' })) },
    }), '<golden>');
    resources.push(...ra.resources);
  }
  return { resources, policies };
}

function meshOf(c: Case): Partial<MeshConfig> {
  return c.bundle ? { trustDomain: c.bundle[0], trustDomainAliases: c.bundle[1] } : {};
}

function toInbound(g: GenRequest): InboundRequest {
  const headers: Record<string, string> = { host: g.host, ...g.headers };
  if (g.remoteIp !== undefined) headers['x-forwarded-for'] = g.remoteIp;
  return {
    port: g.port, principal: g.principal, sourceIp: g.sourceIp, destinationIp: g.destinationIp, method: g.method, target: g.path, host: g.host,
    headers, sni: g.sni, jwtClaims: g.jwt,
    // remote.ip from X-Forwarded-For as an Istio sidecar takes it (listener_inbound.go:
    // use_remote_address false, no xff_num_trusted_hops -> Envoy uses the last XFF entry);
    // Meshwork reads XFF only with numTrustedProxies set, and 1 selects that last entry.
    numTrustedProxies: g.remoteIp !== undefined ? 1 : undefined,
  };
}

// Envoy's jwt_authn turns space-delimited claims (Istio: scope, permission) into lists
// (authenticator.cc: setPayloadMetadata; policy_applier.go: buildSpaceDelimitedClaims).
function normalizePayload(p: Record<string, unknown>): Record<string, unknown> {
  const out = { ...p };
  for (const c of ['permission', 'scope']) if (typeof out[c] === 'string') out[c] = (out[c] as string).split(' ').filter(Boolean);
  return out;
}

function toEnvoy(g: GenRequest): EnvoyRequest {
  const headers = new Map<string, string>([[':authority', g.host], [':method', g.method], [':path', g.path]]);
  for (const [k, v] of Object.entries(g.headers)) headers.set(k, v);
  return {
    // '' is an mTLS peer without a SPIFFE id: a certificate with no URI SAN (and, like Istio's
    // workload certificates, no subject to fall back on).
    uriSans: g.principal === undefined ? undefined : g.principal === '' ? [] : [`spiffe://${g.principal}`],
    sni: g.sni ?? '',
    directRemoteIp: g.sourceIp,
    remoteIp: g.remoteIp ?? g.sourceIp,
    localIp: g.destinationIp,
    localPort: g.port,
    headers,
    dynamicMetadata: g.jwt ? { 'envoy.filters.http.jwt_authn': { payload: normalizePayload(g.jwt) } } : {},
  };
}

const ids = (names: string[]) => [...new Set(names.map((n) => parsePolicyName(n).id))].sort();
const refs = (names: string[]) => names.map((n) => { const p = parsePolicyName(n); return `${p.id}#${p.rule}`; });

/** The dry-run policies whose enforcement would change Envoy's decision, from its shadow engines. */
function envoyDryRunChanges(env: ChainOutcome): string[] {
  const enforcedAllow = env.filters.find((f) => f.rules?.action === 'ALLOW')?.rules;
  const deniedByDeny = env.deniedBy?.engine.action === 'DENY';
  const out = new Set<string>();
  for (const f of env.filters) {
    const s = f.shadowRules;
    if (!s) continue;
    // The shadow engine holds only the dry-run policies of that action: list each one and whether it matched.
    for (const id of ids(Object.keys(shadowPolicies.get(s) ?? {}))) {
      const matched = s.matched.some((n) => parsePolicyName(n).id === id);
      if (s.action === 'DENY' && env.decision === 'ALLOW' && matched) out.add(id);
      if (s.action === 'ALLOW' && !deniedByDeny && (enforcedAllow ? enforcedAllow.matched.length === 0 && matched : !matched)) out.add(id);
    }
  }
  return [...out].sort();
}
// The shadow engine outcome only lists matches; remember which policies each engine holds.
const shadowPolicies = new WeakMap<object, Record<string, unknown>>();

function evaluate(filters: any[], g: GenRequest): ChainOutcome {
  const env = evaluateChain(filters, toEnvoy(g));
  env.filters.forEach((f, i) => { if (f.shadowRules) shadowPolicies.set(f.shadowRules, filters[i].typedConfig.shadowRules.policies ?? {}); });
  return env;
}

interface Mismatch { request: GenRequest; meshwork: unknown; envoy: unknown }

function describeDecision(d: InboundDecision) {
  return { decision: d.decision, policy: d.policy ? `${d.policy.id}#${d.rule}` : null, audit: d.audit.map((p) => p.id).sort(), dryRun: d.dryRun.map((p) => p.id).sort(), connection: d.connection };
}

function compare(d: InboundDecision, env: ChainOutcome): string[] {
  const problems: string[] = [];
  if (d.connection !== 'accepted') problems.push('connection rejected');
  if (d.decision !== env.decision) problems.push('decision');
  if (d.policy) {
    const ref = `${d.policy.id}#${d.rule}`;
    const engine = env.filters.find((f) => f.rules?.action === d.policy!.action)?.rules;
    if (!engine || !refs(engine.matched).includes(ref)) problems.push(`policy ${ref} not matched by Envoy's ${d.policy.action} rules`);
  } else if (d.decision === 'DENY' && env.deniedBy?.engine.action !== 'ALLOW') {
    problems.push('default deny, but Envoy did not deny for want of an ALLOW match');
  }
  const log = env.filters.find((f) => f.rules?.action === 'LOG')?.rules;
  const audit = log ? ids(log.matched) : [];
  if (JSON.stringify(d.audit.map((p) => p.id).sort()) !== JSON.stringify(audit)) problems.push('audit');
  if (JSON.stringify(d.dryRun.map((p) => p.id).sort()) !== JSON.stringify(envoyDryRunChanges(env))) problems.push('dryRun');
  return problems;
}

function envoySummary(env: ChainOutcome) {
  return {
    decision: env.decision,
    deniedBy: env.deniedBy ? `${env.deniedBy.engine.action} ${env.deniedBy.engine.matched.join(',') || '(no match)'}` : null,
    filters: env.filters.map((f) => ({ rules: f.rules && `${f.rules.action}: ${f.rules.matched.join(',')}`, shadow: f.shadowRules && `${f.shadowRules.action}: ${f.shadowRules.matched.join(',')}` })),
    dryRunChanges: envoyDryRunChanges(env),
  };
}

/** One condition of a rule: a `source`/`operation` field or one side of a `when`. */
interface Condition { section: 'source' | 'operation' | 'when'; field: string; values: string[] }

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const WHEN_PERMISSION = (k: string) => k === 'destination.ip' || k === 'destination.port' || k === 'connection.sni' || k.startsWith('experimental.envoy.filters.');

/**
 * The conditions of one `from` and one `to` entry in the order Istio emits them as children of
 * a permission's and_rules and a principal's and_ids (model.go: New — insertFront puts hosts,
 * methods, paths, ports first and principals, requestPrincipals, serviceAccounts, trustDomains,
 * namespaces, remoteIpBlocks, ipBlocks; `when` keys follow in order; values before notValues).
 */
function istioConditionOrder(rule: any, from: any, to: any): { permission: Condition[]; principal: Condition[] } {
  const pair = (section: Condition['section'], f: string, o: any): Condition[] => {
    const not = `not${f[0]!.toUpperCase()}${f.slice(1)}`;
    return [
      ...(list(o?.[f]).length ? [{ section, field: f, values: list(o[f]) }] : []),
      ...(list(o?.[not]).length ? [{ section, field: not, values: list(o[not]) }] : []),
    ];
  };
  const whens = (Array.isArray(rule?.when) ? rule.when : []).flatMap((w: any): Condition[] => [
    ...(list(w.values).length ? [{ section: 'when' as const, field: `${w.key}\u0000values`, values: list(w.values) }] : []),
    ...(list(w.notValues).length ? [{ section: 'when' as const, field: `${w.key}\u0000notValues`, values: list(w.notValues) }] : []),
  ]);
  const key = (c: Condition) => c.field.split('\u0000')[0]!;
  return {
    permission: [...['hosts', 'methods', 'paths', 'ports'].flatMap((f) => pair('operation', f, to)), ...whens.filter((c: Condition) => WHEN_PERMISSION(key(c)))],
    principal: [
      ...['principals', 'requestPrincipals', 'serviceAccounts', 'trustDomains', 'namespaces', 'remoteIpBlocks', 'ipBlocks'].flatMap((f) => pair('source', f, from)),
      ...whens.filter((c: Condition) => !WHEN_PERMISSION(key(c))),
    ],
  };
}

/** `notPaths` -> `paths`, `key\u0000notValues` -> `key\u0000values`. */
function positiveField(f: string): string {
  if (f.endsWith('\u0000notValues')) return f.replace('\u0000notValues', '\u0000values');
  return f.startsWith('not') ? f[3]!.toLowerCase() + f.slice(4) : f;
}

/**
 * The Envoy matcher of each value of a condition: the members of its or_rules/or_ids, or of the
 * or_match of a JWT claim's metadata matcher (matcher/metadata.go: MetadataListValueMatcher).
 * Undefined when the shape does not hold one matcher per value (e.g. trust domain aliases).
 */
function splitByValue(child: any, n: number, kind: 'permission' | 'principal'): any[] | undefined {
  const inner = (kind === 'permission' ? child.notRule : child.notId) ?? child;
  const or = kind === 'permission' ? inner.orRules?.rules : inner.orIds?.ids;
  if (Array.isArray(or)) return or.length === n ? or : undefined;
  const md = inner.metadata;
  const vms = md?.value?.orMatch?.valueMatchers;
  if (Array.isArray(vms) && vms.length === 2 && vms[0].listMatch && vms[1].orMatch?.valueMatchers?.length === n) {
    return vms[1].orMatch.valueMatchers.map((vm: any) => ({ metadata: { ...md, value: { orMatch: { valueMatchers: [{ listMatch: { oneOf: vm } }, vm] } } } }));
  }
  if (Array.isArray(vms) && vms.length === n) return vms.map((vm: any) => ({ metadata: { ...md, value: vm } }));
  return undefined;
}

/** A one-condition ALLOW rule for Meshwork. */
function conditionSpec(c: Condition): unknown {
  if (c.section === 'source') return { rules: [{ from: [{ source: { [c.field]: c.values } }] }] };
  if (c.section === 'operation') return { rules: [{ to: [{ operation: { [c.field]: c.values } }] }] };
  const [k, side] = c.field.split('\u0000') as [string, string];
  return { rules: [{ when: [{ key: k, [side]: c.values }] }] };
}

interface ConditionCheck { label: string; envoy: (req: EnvoyRequest) => boolean; index: number; attribute: string }

/** The request attribute a condition reads (the JWT payload as a whole for the request.auth keys). */
function attributeOf(cond: Condition): string {
  const key = cond.section === 'when' ? cond.field.split('\u0000')[0]! : positiveField(cond.field);
  if (['principals', 'namespaces', 'serviceAccounts', 'trustDomains', 'source.principal', 'source.namespace', 'source.serviceAccount', 'source.trustDomain'].includes(key)) return 'principal';
  if (key === 'requestPrincipals' || key.startsWith('request.auth.')) return 'jwt';
  if (key === 'ipBlocks' || key === 'source.ip') return 'sourceIp';
  if (key === 'remoteIpBlocks' || key === 'remote.ip') return 'remoteIp';
  if (key === 'ports' || key === 'destination.port') return 'port';
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return `header:${header[1]!.toLowerCase()}`;
  return ({ 'destination.ip': 'destinationIp', methods: 'method', hosts: 'host', paths: 'path', 'connection.sni': 'sni' } as Record<string, string>)[key] ?? 'none';
}

function project(attribute: string, g: GenRequest): string {
  switch (attribute) {
    case 'principal': return g.principal ?? '\u0000plaintext';
    case 'jwt': return JSON.stringify(g.jwt) ?? '';
    case 'remoteIp': return g.remoteIp ?? g.sourceIp;
    case 'sni': return `${g.principal === undefined}|${g.sni ?? ''}`;
    case 'none': return '';
    default:
      if (attribute.startsWith('header:')) return g.headers[attribute.slice(7)] ?? '\u0000absent';
      return String((g as unknown as Record<string, unknown>)[attribute]);
  }
}

/**
 * Pairs every child of every generated Envoy policy with the condition it came from, and
 * compiles each condition on its own as a Meshwork policy (all in one snapshot).
 */
function conditionChecks(c: Case, filters: any[], policies: Resource[], issuers: string[]): { checks: ConditionCheck[]; snap: Snapshot } {
  const byId = new Map(policies.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const conditions: Condition[] = [];
  const checks: ConditionCheck[] = [];
  for (const f of filters) {
    if (f.name !== 'envoy.filters.http.rbac') continue;
    for (const rbac of [f.typedConfig.rules, f.typedConfig.shadowRules]) {
      for (const [name, pol] of Object.entries<any>(rbac?.policies ?? {})) {
        const { id, rule } = parsePolicyName(name);
        const spec = byId.get(id)?.spec;
        const r = spec?.rules?.[rule];
        if (!r) continue; // rbacPolicyMatchNever for a policy without rules
        const froms: any[] = Array.isArray(r.from) ? r.from.map((x: any) => x.source) : [undefined];
        const tos: any[] = Array.isArray(r.to) ? r.to.map((x: any) => x.operation) : [undefined];
        expect(pol.principals.length, name).toBe(froms.length);
        expect(pol.permissions.length, name).toBe(tos.length);
        const add = (cond: Condition, child: any, kind: 'permission' | 'principal', where: string) => {
          const one = (cd: Condition, m: any, label: string) => {
            conditions.push(cd);
            checks.push({ label, envoy: (req) => (kind === 'permission' ? permissionMatch(m, req) : principalMatch(m, req)), index: conditions.length - 1, attribute: attributeOf(cd) });
          };
          const label = `${name} ${where} ${cond.field.replace('\u0000', ' ')}`;
          one(cond, child, label);
          // And each value alone, against the matcher Istio made of it (a `not` condition's
          // values are the matchers under its not_rule/not_id).
          const perValue = splitByValue(child, cond.values.length, kind);
          if (perValue && cond.values.length > 1) {
            cond.values.forEach((v, k) => one({ ...cond, field: positiveField(cond.field), values: [v] }, perValue[k], `${label} [${JSON.stringify(v)}]`));
          }
        };
        tos.forEach((to, i) => {
          const children = pol.permissions[i].andRules.rules;
          const order = istioConditionOrder(r, undefined, to).permission;
          if (order.length === 0) return expect(children, name).toEqual([{ any: true }]);
          expect(children.length, `${name} permissions[${i}]`).toBe(order.length);
          order.forEach((cond, k) => add(cond, children[k], 'permission', `permissions[${i}]`));
        });
        froms.forEach((from, j) => {
          const children = pol.principals[j].andIds.ids;
          const order = istioConditionOrder(r, from, undefined).principal;
          if (order.length === 0) return expect(children, name).toEqual([{ any: true }]);
          expect(children.length, `${name} principals[${j}]`).toBe(order.length);
          order.forEach((cond, k) => add(cond, children[k], 'principal', `principals[${j}]`));
        });
      }
    }
  }
  const docs = conditions.map((cond, i) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `condition-${i}`, namespace: 'foo' }, spec: conditionSpec(cond) }));
  const loaded = loadText(docs.map((d) => JSON.stringify(d)).join('\n---\n'), '<conditions>');
  const { resources } = loadCase(c, issuers);
  const others = resources.filter((r) => r.kind !== 'AuthorizationPolicy');
  const snap = compileSnapshot([...others, ...loaded.resources], HTTPBIN, { mesh: meshOf(c) });
  return { checks, snap };
}

/** One line per request, for failure reports. */
function compact(g: GenRequest): string {
  const parts = [g.principal === undefined ? 'plaintext' : `peer=${JSON.stringify(g.principal)}`, `${g.method} ${g.host}${g.path} :${g.port}`, `src=${g.sourceIp}`];
  if (g.remoteIp) parts.push(`xff=${g.remoteIp}`);
  if (g.sni) parts.push(`sni=${g.sni}`);
  if (Object.keys(g.headers).length) parts.push(`headers=${JSON.stringify(g.headers)}`);
  if (g.jwt) parts.push(`jwt=${JSON.stringify(g.jwt)}`);
  return parts.join(' ');
}

const totals = { cases: 0, requests: 0 };
const conditionTotals = { conditions: 0, evaluations: 0 };

describe.skipIf(!existsSync(HTTP))('Istio authz golden files (group G): decideInbound agrees with the Envoy RBAC filters Istio generates', () => {
  for (const c of CASES) {
    it(`${c.name}${c.note ? ` (${c.note})` : ''}`, () => {
      const filters = c.want.flatMap((f) => loadFilters(HTTP, f));
      const bundle = c.bundle ? [c.bundle[0], ...c.bundle[1]] : ['cluster.local'];
      const requests = generateRequests(loadCase(c).policies, { trustDomains: bundle });
      const { resources } = loadCase(c, issuersOf(requests));
      const snap = compileSnapshot(resources, HTTPBIN, { mesh: meshOf(c) });
      const mismatches: Mismatch[] = [];
      for (const g of requests) {
        const d = decideInbound(snap, toInbound(g));
        const env = evaluate(filters, g);
        const problems = compare(d, env);
        if (problems.length) mismatches.push({ request: g, meshwork: { problems, ...describeDecision(d) }, envoy: envoySummary(env) });
      }
      totals.cases++;
      totals.requests += requests.length;
      console.log(`authz golden ${c.name}: ${requests.length} requests compared, ${mismatches.length} disagreements`);
      expect(mismatches.slice(0, 5)).toEqual([]);
      expect(requests.length).toBeGreaterThan(20);
    });
  }

  for (const c of CUSTOM_CASES) {
    it(`${c.name}: the CUSTOM rules that match are those whose ext_authz (or deny-for-bad-provider) rules Envoy matches; a matching request is denied (no providers in-process)`, () => {
      const filters = c.want.flatMap((f) => loadFilters(HTTP, f));
      const requests = generateRequests(loadCase(c).policies, { trustDomains: ['cluster.local'] });
      const { resources } = loadCase(c, issuersOf(requests));
      const snap = compileSnapshot(resources, HTTPBIN);
      const custom = snap.inbound.authorization.filter((p) => p.action === 'CUSTOM');
      expect(custom.map((p) => p.id)).toEqual(['foo/httpbin-1', 'foo/httpbin-2']);
      const mismatches: Mismatch[] = [];
      let istioDenies = 0;
      for (const g of requests) {
        const d = decideInbound(snap, toInbound(g));
        const { attrs } = inboundAttributes(snap, toInbound(g));
        const ours = custom.flatMap((p) => p.rules.flatMap((r, i) => (r(attrs) ? [`${p.id}#${i}`] : []))).sort();
        const env = evaluate(filters, g);
        // Usable provider: an RBAC filter in shadow mode marks the matching CUSTOM rules, and
        // ext_authz runs only when one matched (builder.go: buildHTTP). Unusable provider
        // (unknown, invalid, or several without PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS):
        // an enforced DENY of the same rules (builder.go: getBadCustomDenyRules).
        const envMatched = env.filters.flatMap((f) => [...(f.shadowRules?.matched ?? []), ...(f.rules?.matched ?? [])]);
        const theirs = [...new Set(refs(envMatched))].sort();
        if (env.decision === 'DENY') istioDenies++;
        const problems: string[] = [];
        if (JSON.stringify(ours) !== JSON.stringify(theirs)) problems.push('CUSTOM rule matches');
        if (!c.providerUsable && (env.decision === 'DENY') !== (theirs.length > 0)) problems.push('bad-provider deny');
        if (c.providerUsable && env.decision !== 'ALLOW') problems.push('Envoy RBAC denied with a usable provider');
        // Meshwork has no extension providers: every CUSTOM policy is unusable, so a request
        // matching one is denied (as Envoy's deny-due-to-bad-CUSTOM-action rules do), else allowed.
        if (d.decision !== (ours.length > 0 ? 'DENY' : 'ALLOW') || d.custom.map((p) => p.id).join() !== 'foo/httpbin-1,foo/httpbin-2') problems.push('CUSTOM enforcement');
        if (!c.providerUsable && d.decision !== env.decision) problems.push('decision differs from Envoy with an unusable provider');
        if (problems.length) mismatches.push({ request: g, meshwork: { problems, ours, ...describeDecision(d) }, envoy: { theirs, ...envoySummary(env) } });
      }
      totals.cases++;
      totals.requests += requests.length;
      console.log(`authz golden ${c.name}: ${requests.length} requests compared (CUSTOM rule matches), ${mismatches.length} disagreements${c.providerUsable ? '' : `; Istio denies ${istioDenies} of them for the unusable provider, and so does Meshwork`}`);
      expect(mismatches.slice(0, 5)).toEqual([]);
    });
  }

  for (const c of [...CASES, ...CUSTOM_CASES]) {
    it(`${c.name}: every condition on its own matches exactly where Envoy's matcher for it does`, () => {
      const filters = c.want.flatMap((f) => loadFilters(HTTP, f));
      const bundle = c.bundle ? [c.bundle[0], ...c.bundle[1]] : ['cluster.local'];
      const { policies } = loadCase(c);
      const requests = generateRequests(policies, { trustDomains: bundle });
      const { checks, snap } = conditionChecks(c, filters, policies, issuersOf(requests));
      const compiled = new Map(snap.inbound.authorization.map((p) => [p.name, p]));
      const wrong = new Map<string, { request: GenRequest; meshwork: boolean; envoy: boolean }>();
      // A condition reads one attribute: evaluate it once per distinct value of that attribute.
      const reps = new Map<string, GenRequest[]>();
      for (const check of checks) {
        if (reps.has(check.attribute)) continue;
        const seen = new Map<string, GenRequest>();
        for (const g of requests) { const k = project(check.attribute, g); if (!seen.has(k)) seen.set(k, g); }
        reps.set(check.attribute, [...seen.values()]);
      }
      const views = new Map<GenRequest, { attrs: ReturnType<typeof inboundAttributes>['attrs']; req: EnvoyRequest }>();
      const view = (g: GenRequest) => {
        let v = views.get(g);
        if (!v) views.set(g, (v = { attrs: inboundAttributes(snap, toInbound(g)).attrs, req: toEnvoy(g) }));
        return v;
      };
      let evaluations = 0;
      for (const check of checks) {
        for (const g of reps.get(check.attribute)!) {
          const { attrs, req } = view(g);
          const ours = compiled.get(`condition-${check.index}`)!.rules[0]!(attrs);
          const theirs = check.envoy(req);
          evaluations++;
          if (ours !== theirs && !wrong.has(check.label)) wrong.set(check.label, { request: g, meshwork: ours, envoy: theirs });
        }
      }
      conditionTotals.conditions += checks.length;
      conditionTotals.evaluations += evaluations;
      console.log(`authz golden ${c.name}: ${checks.length} conditions x ${requests.length} requests, ${wrong.size} conditions disagree`);
      for (const [label, w] of wrong) console.log(`  ${label}: meshwork ${w.meshwork}, envoy ${w.envoy} for ${compact(w.request)}`);
      expect([...wrong].slice(0, 5)).toEqual([]);
    });
  }

  it("dry-run: Envoy's shadow engine holds only the dry-run policies; Meshwork reports what enforcing each would change", () => {
    // dry-run-mix: httpbin-2 (ALLOW /another) is enforced, httpbin-1 (ALLOW /allow) is dry-run.
    const c = CASES.find((x) => x.name === 'dry-run-mix')!;
    const filters = c.want.flatMap((f) => loadFilters(HTTP, f));
    const snap = compileSnapshot(loadCase(c).resources, HTTPBIN);
    const g: GenRequest = { principal: undefined, sni: undefined, sourceIp: '10.0.0.1', remoteIp: undefined, destinationIp: '10.0.0.2', port: 8080, method: 'GET', path: '/another', host: 'httpbin', headers: {}, jwt: undefined };
    const env = evaluate(filters, g);
    // Istio's istio_dry_run_allow_shadow_denied counts this request (the shadow engine, alone, matches nothing)...
    expect(env.filters[0]!.shadowRules).toEqual({ action: 'ALLOW', matched: [] });
    // ...though enforcing httpbin-1 next to httpbin-2 would still allow it: Meshwork lists no dry-run policy.
    expect(env.decision).toBe('ALLOW');
    expect(describeDecision(decideInbound(snap, toInbound(g)))).toMatchObject({ decision: 'ALLOW', dryRun: [] });
  });

  it('compares every HTTP input and lists what it does not compare', () => {
    const httpInputs = readdirSync(HTTP).filter((f) => f.endsWith('-in.yaml')).sort();
    const covered = new Set([...CASES, ...CUSTOM_CASES].map((c) => c.input));
    expect(httpInputs.filter((f) => !covered.has(f))).toEqual([]);
    const httpOutputs = readdirSync(HTTP).filter((f) => /-out\d*\.yaml$/.test(f)).sort();
    const used = new Set([...CASES, ...CUSTOM_CASES].flatMap((c) => c.want));
    expect(httpOutputs.filter((f) => !used.has(f))).toEqual([]);
    const tcpInputs = readdirSync(TCP).filter((f) => f.endsWith('-in.yaml')).sort();
    for (const f of tcpInputs) console.log(`authz golden: not compared: tcp/${f} — ${NOT_APPLICABLE['tcp/*-in.yaml']}`);
    expect(tcpInputs.length).toBeGreaterThan(0);
  });

  it('reports the totals', () => {
    console.log(`authz golden: ${totals.cases} cases, ${totals.requests} generated requests compared with Envoy's RBAC evaluation; ${conditionTotals.conditions} single conditions checked in ${conditionTotals.evaluations} evaluations`);
    // (Zero when a filter ran only some of the tests.)
    expect([0, CASES.length + CUSTOM_CASES.length]).toContain(totals.cases);
  });
});

/**
 * What the golden files pinned down, one behaviour at a time and without the corpus: each of
 * these disagreed with Istio before the comparison above found it.
 */
describe('Istio authorization semantics the golden comparison established', () => {
  const W: WorkloadIdentity = { namespace: 'foo', labels: { app: 'web' } };
  const ra = (rules = '[{issuer: "https://idp.example", jwksUri: "https://idp.example/jwks"}]') =>
    `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: foo}\nspec:\n  jwtRules: ${rules}\n---\n`;
  const allow = (rule: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: foo}\nspec:\n  rules: [${rule}]\n`;
  const decide = (yaml: string, req: Partial<InboundRequest>, mesh: Partial<MeshConfig> = {}) =>
    decideInbound(compileSnapshot(loadText(yaml).resources, W, { mesh }), { port: 8080, method: 'GET', target: '/', headers: {}, ...req }).decision;
  const iss = 'https://idp.example';

  it('requestPrincipals split at the last "/" into iss and sub, each matched on its own (generator.go: requestPrincipalGenerator)', () => {
    const any = ra() + allow('{from: [{source: {requestPrincipals: ["*"]}}]}');
    expect(decide(any, { jwtClaims: { iss, sub: 'alice' } })).toBe('ALLOW');
    expect(decide(any, { jwtClaims: { iss } })).toBe('DENY'); // no sub: `*` needs a non-empty sub
    const prefix = ra() + allow(`{from: [{source: {requestPrincipals: ["${iss}/*"]}}]}`);
    expect(decide(prefix, { jwtClaims: { iss, sub: 'alice' } })).toBe('ALLOW');
    expect(decide(prefix, { jwtClaims: { iss, sub: '' } })).toBe('DENY');
    // Without a "/", the value is the issuer and the subject must be empty.
    const bare = ra('[{issuer: idp, jwksUri: "https://idp.example/jwks"}]') + allow('{from: [{source: {requestPrincipals: [idp]}}]}');
    expect(decide(bare, { jwtClaims: { iss: 'idp', sub: '' } })).toBe('ALLOW');
    expect(decide(bare, { jwtClaims: { iss: 'idp', sub: 'alice' } })).toBe('DENY');
    // A URL issuer keeps its slashes: only the last one separates the subject.
    expect(decide(ra() + allow(`{from: [{source: {requestPrincipals: ["${iss}/alice"]}}]}`), { jwtClaims: { iss, sub: 'alice' } })).toBe('ALLOW');
  });

  it('claims match string values and string list elements only; scope, permission and spaceDelimitedClaims are split at the top level (jwt_authn setPayloadMetadata)', () => {
    const when = (key: string, v: string) => allow(`{when: [{key: "${key}", values: ["${v}"]}]}`);
    expect(decide(ra() + when('request.auth.claims[level]', '5'), { jwtClaims: { iss, sub: 'a', level: 5 } })).toBe('DENY');
    expect(decide(ra() + when('request.auth.claims[level]', '5'), { jwtClaims: { iss, sub: 'a', level: '5' } })).toBe('ALLOW');
    expect(decide(ra() + when('request.auth.presenter', 'web'), { jwtClaims: { iss, sub: 'a', azp: ['cli', 'web'] } })).toBe('ALLOW');
    expect(decide(ra() + when('request.auth.claims[scope]', 'write'), { jwtClaims: { iss, sub: 'a', scope: 'read write' } })).toBe('ALLOW');
    expect(decide(ra() + when('request.auth.claims[org][scope]', 'write'), { jwtClaims: { iss, sub: 'a', org: { scope: 'read write' } } })).toBe('DENY');
    const custom = ra(`[{issuer: "${iss}", jwksUri: "${iss}/jwks", spaceDelimitedClaims: [roles]}]`);
    expect(decide(custom + when('request.auth.claims[roles]', 'admin'), { jwtClaims: { iss, sub: 'a', roles: 'dev admin' } })).toBe('ALLOW');
    expect(decide(ra() + when('request.auth.claims[roles]', 'admin'), { jwtClaims: { iss, sub: 'a', roles: 'dev admin' } })).toBe('DENY');
  });

  it('cluster.local in a principal names the mesh trust domain and its aliases (trustdomain/bundle.go: ReplaceTrustDomainAliases)', () => {
    const y = allow('{from: [{source: {principals: ["cluster.local/ns/a/sa/b"]}}]}');
    expect(decide(y, { principal: 'td1/ns/a/sa/b' }, { trustDomain: 'td1' })).toBe('ALLOW');
    expect(decide(y, { principal: 'cluster.local/ns/a/sa/b' }, { trustDomain: 'td1' })).toBe('DENY');
    const when = allow('{when: [{key: source.principal, values: ["old/ns/a/sa/b"]}]}');
    expect(decide(when, { principal: 'td1/ns/a/sa/b' }, { trustDomain: 'td1', trustDomainAliases: ['old'] })).toBe('ALLOW');
    const tds = allow('{from: [{source: {trustDomains: ["old"]}}]}');
    expect(decide(tds, { principal: 'td1/ns/a/sa/b' }, { trustDomain: 'td1', trustDomainAliases: ['old'] })).toBe('ALLOW');
  });

  it('serviceAccounts, namespaces and trustDomains read the SPIFFE id as Istio\'s regexes do (generator.go)', () => {
    const sa = allow('{from: [{source: {serviceAccounts: ["a/b"]}}]}');
    expect(decide(sa, { principal: 'cluster.local/ns/a/sa/b' })).toBe('ALLOW');
    expect(decide(sa, { principal: 'cluster.local/ns/a/k/v/sa/b/extra' })).toBe('ALLOW');
    expect(decide(sa, { principal: 'cluster.local/ns/a/sa/b-x' })).toBe('DENY');
    expect(decide(allow('{from: [{source: {namespaces: ["a"]}}]}'), { principal: 'ns/a/sa/b' })).toBe('ALLOW');
    expect(decide(allow('{from: [{source: {trustDomains: ["cluster.local"]}}]}'), { principal: 'cluster.local/x' })).toBe('ALLOW');
    expect(decide(allow('{from: [{source: {notTrustDomains: ["bad*"]}}]}'), { principal: 'badtd/ns/a/sa/b' })).toBe('DENY');
  });

  it('path templates are Envoy uri_template matches; ports compare as numbers (uri_template_internal.cc; util.go: convertToPort)', () => {
    const any = allow('{to: [{operation: {paths: ["/{**}/x"]}}]}');
    expect(decide(any, { target: '/a/b/x' })).toBe('ALLOW');
    expect(decide(any, { target: '/x' })).toBe('DENY');
    expect(decide(any, { target: '/a' })).toBe('DENY');
    const one = allow('{to: [{operation: {paths: ["/p/{*}"]}}]}');
    expect(decide(one, { target: '/p/q' })).toBe('ALLOW');
    expect(decide(one, { target: '/p/a=b' })).toBe('DENY');
    expect(decide(allow('{to: [{operation: {ports: ["080"]}}]}'), { port: 80 })).toBe('ALLOW');
  });
});
