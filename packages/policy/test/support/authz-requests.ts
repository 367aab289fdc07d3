/**
 * Generates inbound HTTP requests from the values an AuthorizationPolicy mentions: for every
 * value, requests that should match it (exact value, prefix/suffix completions, the empty
 * completion) and near misses (one character more or less, other case, other trust domain,
 * other namespace, the next IP outside a CIDR, the next port, absent attributes, plaintext
 * instead of mTLS). Requests are built as
 * - witnesses: for each rule and each of its `from` x `to` entries, one request per candidate
 *   that tries to satisfy every field of that entry at once, and
 * - one-factor variations of each witness over every value pool, plus
 * - seeded random combinations over all pools.
 * The generator reads only the policy text, never either decision under test.
 */
import type { Resource } from '../../src/load/resource.js';

export const ABSENT = Symbol('absent');
type Value = string | number | boolean | unknown[] | Record<string, unknown> | typeof ABSENT | undefined;

/** One generated request, before it is turned into Meshwork's or Envoy's view of it. */
export interface GenRequest {
  /** Peer SPIFFE id without `spiffe://`; undefined = plaintext. */
  principal: string | undefined;
  sni: string | undefined;
  sourceIp: string;
  /** Original client address (X-Forwarded-For); undefined = the source address. */
  remoteIp: string | undefined;
  destinationIp: string;
  port: number;
  method: string;
  /** Canonical path, with an optional query. */
  path: string;
  host: string;
  /** Extra headers by lower-case name. */
  headers: Record<string, string>;
  /** Payload of a verified JWT; undefined = no token. */
  jwt: Record<string, unknown> | undefined;
}

type Dims = Map<string, Value>;

const DEFAULTS: [string, Value][] = [
  ['principal', 'cluster.local/ns/default/sa/sleep'],
  ['sni', undefined],
  ['sourceIp', '10.0.0.99'],
  ['remoteIp', undefined],
  ['destinationIp', '10.99.0.1'],
  ['port', 8080],
  ['method', 'GET'],
  ['path', '/'],
  ['host', 'httpbin.foo.svc.cluster.local'],
  ['jwt.iss', undefined],
  ['jwt.sub', 'user'],
];

interface Cands<T = Value> {
  /** Values meant to satisfy the pattern. */
  sat: T[];
  /** Values meant to miss it narrowly. */
  near: T[];
}

/** Istio's one-wildcard string patterns: `*`, `x*`, `*x`, exact. */
function pattern(v: string): Cands<string> {
  if (v === '*') return { sat: ['any-value'], near: [''] };
  if (v.endsWith('*')) {
    const x = v.slice(0, -1);
    return { sat: [`${x}tail`, x], near: [x.slice(0, -1) || 'y', `pre-${x}`, x.toUpperCase()] };
  }
  if (v.startsWith('*')) {
    const x = v.slice(1);
    return { sat: [`head${x}`, x], near: [x.slice(1) || 'y', `${x}-post`, x.toUpperCase()] };
  }
  const near = [`${v}x`, `x${v}`, v.slice(0, -1)];
  if (v.toUpperCase() !== v) near.push(v.toUpperCase());
  return { sat: [v], near };
}

function mapC(c: Cands<string> | Cands, f: (v: string) => Value): Cands {
  return { sat: c.sat.map((x) => f(String(x))), near: c.near.map((x) => f(String(x))) };
}

function concat(...cs: Cands[]): Cands {
  return { sat: cs.flatMap((c) => c.sat), near: cs.flatMap((c) => c.near) };
}

function ipv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
function ipNum(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** An IP or CIDR: its first and last usable addresses, and the addresses just outside. */
function ipCands(v: string): Cands {
  const [addr, bits] = v.split('/');
  if (!addr || addr.includes(':')) return { sat: [], near: [] };
  const len = bits === undefined ? 32 : Number(bits);
  const size = 2 ** (32 - len);
  const base = Math.floor(ipNum(addr) / size) * size;
  const last = base + size - 1;
  const sat = len >= 31 ? [ipv4(base)] : [ipv4(base + 1), ipv4(last)];
  const near = [ipv4((last + 1) % 2 ** 32), ipv4((base - 1 + 2 ** 32) % 2 ** 32)];
  return { sat, near };
}

/** Principal values: the pattern itself, and the same identity under other trust domains. */
function principalCands(v: string, trustDomains: readonly string[]): Cands<string> {
  const c = pattern(v);
  const parts = v.split('/');
  if (parts.length === 5) {
    const rest = parts.slice(1).join('/');
    const tail = pattern(rest);
    for (const td of [...trustDomains, 'cluster.local', 'other-td']) {
      c.near.push(`${td}/${tail.sat[0]!}`);
    }
    if (parts[0]!.includes('*')) for (const td of pattern(parts[0]!).sat) c.sat.push(`${td}/${tail.sat[0]!}`);
  }
  return c;
}

function namespaceCands(v: string, td: string): Cands {
  // Namespace patterns may hold `*` anywhere; fill each with a word.
  const fill = (s: string) => s.split('*').join('mid');
  const ns: Cands<string> = v.includes('*') && !v.startsWith('*') && !v.endsWith('*') ? { sat: [fill(v)], near: [v.replace(/\*/g, '')] } : pattern(v);
  return concat(
    mapC(ns, (n) => `${td}/ns/${n}/sa/default`),
    { sat: [], near: ns.sat.flatMap((n) => [`ns/${n}/sa/x`, `${td}/ns/${n}`, `${td}/x/ns/${n}/sa/y`, `${td}/ns/${n}x/sa/default`]) },
  );
}

function serviceAccountCands(v: string, policyNs: string, td: string): Cands {
  const [ns, sa] = v.includes('/') ? v.split('/', 2) as [string, string] : [policyNs, v];
  return {
    sat: [`${td}/ns/${ns}/sa/${sa}`],
    near: [
      `${td}/ns/${ns}/sa/${sa}-x`, `${td}/ns/${ns}/sa/${sa}/extra`, `${td}/ns/${ns}/k/v/sa/${sa}`, `${td}/ns/other/sa/${sa}`,
      `${td}/ns/${ns}/sa/x${sa}`, `ns/${ns}/sa/${sa}`, `${td}/ns/${ns}x/sa/${sa}`,
    ],
  };
}

function trustDomainCands(v: string): Cands {
  const c: Cands<string> = v.includes('*') && !v.startsWith('*') && !v.endsWith('*') ? { sat: [v.replace('*', 'mid')], near: [v.replace('*', '')] } : pattern(v);
  return concat(mapC(c, (t) => `${t}/ns/default/sa/default`), { sat: [], near: c.sat.flatMap((t) => [t, `${t}/x`, `${t}.evil/ns/default/sa/default`]) });
}

function pathCands(v: string): Cands {
  const slash = (s: string) => (s.startsWith('/') ? s : `/${s}`);
  if (v.includes('{*}') || v.includes('{**}')) {
    const sub = (one: string, any: string) => slash(v.split('{**}').join(any).split('{*}').join(one));
    return {
      sat: [sub('seg', 'a/b'), sub('x', 'a'), sub('seg', ''), `${sub('seg', 'a')}?q=1`],
      near: [sub('', 'a'), sub('a/b', 'a'), sub('a=b', 'a'), sub("seg", "a/b") + "/x", `/x${sub("seg", "a")}`, sub('seg', 'a=b')],
    };
  }
  const c = mapC(pattern(v), (p) => slash(p === 'any-value' ? '/any' : p));
  c.sat.push(...c.sat.map((p) => `${String(p)}?q=1`));
  c.near.push(...c.sat.slice(0, 1).map((p) => `${String(p).split('?')[0]}/`));
  return c;
}

function hostCands(v: string): Cands {
  const c = pattern(v);
  return { sat: c.sat, near: [...c.near, ...c.sat.map((h) => String(h).toUpperCase()), ...c.sat.map((h) => `${String(h)}:80`)] };
}

/** Candidate JWT (iss, sub) pairs for a requestPrincipals / request.auth.principal value. */
function requestPrincipalCands(v: string): { pairs: [Value, Value][]; iss: Value[]; sub: Value[] } {
  const idx = v.lastIndexOf('/');
  const issPart = idx >= 0 ? v.slice(0, idx) : v;
  const subPart = idx >= 0 ? v.slice(idx + 1) : undefined;
  const iss: Cands = issPart === '*' ? { sat: ['https://any.example'], near: [] } : pattern(issPart);
  const sub: Cands = subPart === undefined ? { sat: [''], near: ['user', ABSENT] } : subPart === '*' ? { sat: ['any-sub'], near: ['', ABSENT] } : pattern(subPart);
  const pairs: [Value, Value][] = [];
  for (const i of iss.sat) for (const s of sub.sat) pairs.push([i, s]);
  pairs.push([iss.sat[0], ABSENT], [iss.sat[0], ''], [iss.sat[0], 'user']);
  if (idx < 0 && v.length > 2) pairs.push([v.slice(0, 2), v.slice(2)]); // iss + '/' + sub spelling the value differently
  return { pairs, iss: [...iss.sat, ...iss.near].filter((x) => x !== ''), sub: [...sub.sat, ...sub.near] };
}

function claimValueCands(v: string): Cands {
  const c = pattern(v);
  const first = c.sat[0]!;
  return {
    sat: [...c.sat, [first, 'other'], ['other', first]],
    near: [...c.near, ['other'], [], 7, true, { nested: first }],
  };
}

/** A partial request: the dimensions one candidate sets. */
type Assignment = [string, Value][];

interface FieldCands {
  /** Alternatives, each setting one or more dimensions. */
  sat: Assignment[];
  near: Assignment[];
}

const one = (dim: string, c: Cands): FieldCands => ({ sat: c.sat.map((v) => [[dim, v]]), near: c.near.map((v) => [[dim, v]]) });

export interface GenContext {
  /** Trust domain and aliases of the mesh (the trust domain first). */
  trustDomains: readonly string[];
}

/** The candidates for one `source`/`operation` field or one `when` condition. */
function fieldCands(field: string, values: string[], policyNs: string, ctx: GenContext): FieldCands {
  const td = ctx.trustDomains[0] ?? 'cluster.local';
  const all = (f: (v: string) => Cands) => values.map(f).reduce((a, b) => concat(a, b), { sat: [], near: [] });
  switch (field) {
    case 'principals': case 'source.principal': return one('principal', all((v) => principalCands(v, ctx.trustDomains)));
    case 'namespaces': case 'source.namespace': return one('principal', all((v) => namespaceCands(v, td)));
    case 'serviceAccounts': case 'source.serviceAccount': return one('principal', all((v) => serviceAccountCands(v, policyNs, td)));
    case 'trustDomains': case 'source.trustDomain': return one('principal', all(trustDomainCands));
    case 'ipBlocks': case 'source.ip': return one('sourceIp', all(ipCands));
    case 'remoteIpBlocks': case 'remote.ip': return one('remoteIp', all(ipCands));
    case 'destination.ip': return one('destinationIp', all(ipCands));
    case 'ports': case 'destination.port': return one('port', { sat: values.map(Number), near: values.map((p) => Number(p) + 1) });
    case 'methods': return one('method', all(pattern));
    case 'hosts': return one('host', all(hostCands));
    case 'paths': return one('path', all(pathCands));
    case 'connection.sni': return concat2(one('sni', all(pattern)), { sat: [], near: [[['principal', undefined]]] });
    case 'requestPrincipals': case 'request.auth.principal': {
      const out: FieldCands = { sat: [], near: [] };
      for (const v of values) {
        const r = requestPrincipalCands(v);
        out.sat.push(...r.pairs.map(([i, s]): Assignment => [['jwt.iss', i], ['jwt.sub', s]]));
        out.near.push(...r.iss.map((i): Assignment => [['jwt.iss', i]]), ...r.sub.map((s): Assignment => [['jwt.sub', s]]));
      }
      out.near.push([['jwt.iss', undefined]]);
      return out;
    }
    case 'request.auth.audiences': return withToken(one('jwt.aud', all(claimValueCands)));
    case 'request.auth.presenter': return withToken(one('jwt.azp', all(claimValueCands)));
    default: {
      const header = /^request\.headers\[(.+)\]$/.exec(field);
      if (header) {
        const c = all(pattern);
        c.near.push(ABSENT, '');
        return one(`h:${header[1]!.toLowerCase()}`, c);
      }
      const claim = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(field);
      if (claim) {
        const path = [...claim[1]!.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
        if (path.length === 1 && path[0] === 'iss') return one('jwt.iss', all(pattern));
        const c = all(claimValueCands);
        c.near.push(ABSENT);
        const fc = withToken(one(`c:${path.join('.')}`, c));
        if (path.length > 1) fc.near.push([[`c:${path[0]}`, 'flat-string']], [[`c:${path[0]}`, [{ [path[1]!]: values[0] }]]]);
        return fc;
      }
      return { sat: [], near: [] }; // experimental.envoy.filters.*: no request attribute feeds it
    }
  }
}

function concat2(a: FieldCands, b: FieldCands): FieldCands {
  return { sat: [...a.sat, ...b.sat], near: [...a.near, ...b.near] };
}

/** Claims only exist with a token: make sure a witness carries one. */
function withToken(f: FieldCands): FieldCands {
  return { sat: f.sat.map((p) => [['jwt.iss', 'https://issuer.example'], ...p]), near: [...f.near, [['jwt.iss', undefined]]] };
}

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains', 'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'];
const OPERATION_FIELDS = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'];

const positive = (f: string) => (f.startsWith('not') ? f.slice(3, 4).toLowerCase() + f.slice(4) : f);

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** Every field of one rule entry, as (field, values, satisfy?) — `not` fields are to be missed. */
function entryFields(rule: any, from: any, to: any): { field: string; values: string[]; negated: boolean }[] {
  const out: { field: string; values: string[]; negated: boolean }[] = [];
  for (const f of SOURCE_FIELDS) if (strs(from?.[f]).length) out.push({ field: positive(f), values: strs(from[f]), negated: f.startsWith('not') });
  for (const f of OPERATION_FIELDS) if (strs(to?.[f]).length) out.push({ field: positive(f), values: strs(to[f]), negated: f.startsWith('not') });
  for (const w of Array.isArray(rule?.when) ? rule.when : []) {
    if (strs(w.values).length) out.push({ field: String(w.key), values: strs(w.values), negated: false });
    if (strs(w.notValues).length) out.push({ field: String(w.key), values: strs(w.notValues), negated: true });
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ser(v: Value): string {
  return v === ABSENT ? '<absent>' : v === undefined ? '<undef>' : JSON.stringify(v);
}

function keyOf(d: Dims): string {
  return [...d.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${ser(v)}`).join('\u0001');
}

function build(d: Dims): GenRequest {
  const get = (k: string) => d.get(k);
  const headers: Record<string, string> = {};
  const jwtIss = get('jwt.iss');
  let jwt: Record<string, unknown> | undefined;
  if (typeof jwtIss === 'string') {
    jwt = { iss: jwtIss };
    const sub = get('jwt.sub');
    if (sub !== ABSENT && sub !== undefined) jwt.sub = sub;
    for (const [k, v] of [['aud', get('jwt.aud')], ['azp', get('jwt.azp')]] as const) if (v !== ABSENT && v !== undefined) jwt[k] = v;
    // Deeper claim paths first, so a shallower one (a non-object parent) overrides them.
    const claimDims = [...d.keys()].filter((k) => k.startsWith('c:')).sort((a, b) => b.split('.').length - a.split('.').length);
    for (const k of claimDims) {
      const v = d.get(k);
      if (v === ABSENT || v === undefined) continue;
      const path = k.slice(2).split('.');
      let cur = jwt;
      for (const seg of path.slice(0, -1)) {
        if (!cur[seg] || typeof cur[seg] !== 'object' || Array.isArray(cur[seg])) cur[seg] = {};
        cur = cur[seg] as Record<string, unknown>;
      }
      cur[path[path.length - 1]!] = v;
    }
  }
  for (const [k, v] of d) if (k.startsWith('h:') && typeof v === 'string') headers[k.slice(2)] = v;
  const principal = get('principal') as string | undefined;
  return {
    principal,
    sni: principal === undefined ? undefined : (get('sni') as string | undefined),
    sourceIp: get('sourceIp') as string,
    remoteIp: get('remoteIp') as string | undefined,
    destinationIp: get('destinationIp') as string,
    port: get('port') as number,
    method: get('method') as string,
    path: get('path') as string,
    host: get('host') as string,
    headers,
    jwt,
  };
}

/** Requests for the AuthorizationPolicies of one golden case. */
export function generateRequests(policies: readonly Resource[], ctx: GenContext, options: { random?: number; seed?: number } = {}): GenRequest[] {
  const pools = new Map<string, Value[]>();
  const addPool = (dim: string, v: Value) => {
    const p = pools.get(dim) ?? [];
    if (!p.some((x) => ser(x) === ser(v))) p.push(v);
    pools.set(dim, p);
  };
  for (const [k, v] of DEFAULTS) addPool(k, v);
  addPool('principal', undefined); // plaintext
  addPool('principal', 'cluster.local/ns/foo/sa/httpbin');
  addPool('remoteIp', '198.51.100.7');
  addPool('method', 'POST');
  addPool('method', 'get');
  addPool('path', '/other?x=1');

  const witnesses: Dims[] = [];
  const base = (): Dims => new Map(DEFAULTS);
  for (const pol of policies) {
    const rules: any[] = Array.isArray(pol.spec?.rules) ? pol.spec.rules : [];
    rules.forEach((rule) => {
      const froms: any[] = Array.isArray(rule?.from) ? rule.from.map((f: any) => f?.source ?? {}) : [undefined];
      const tos: any[] = Array.isArray(rule?.to) ? rule.to.map((t: any) => t?.operation ?? {}) : [undefined];
      for (const from of froms) {
        for (const to of tos) {
          const fields = entryFields(rule, from, to).map((f) => ({ ...f, c: fieldCands(f.field, f.values, pol.metadata.namespace, ctx) }));
          for (const f of fields) for (const p of [...f.c.sat, ...f.c.near]) for (const [dim, v] of p) addPool(dim, v);
          // Zip: the i-th witness takes the i-th alternative of every field (a `not` field
          // takes a near miss, so that the witness tries to satisfy it too).
          const alts = fields.map((f) => (f.negated ? f.c.near : f.c.sat)).filter((a) => a.length > 0);
          const n = Math.max(1, ...alts.map((a) => a.length));
          for (let i = 0; i < n; i++) {
            const d = base();
            for (const a of alts) for (const [dim, v] of a[i % a.length]!) d.set(dim, v);
            witnesses.push(d);
          }
        }
      }
    });
  }
  if (witnesses.length === 0) witnesses.push(base());

  const seen = new Set<string>();
  const out: GenRequest[] = [];
  const emit = (d: Dims) => {
    const k = keyOf(d);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(build(d));
  };
  for (const w of witnesses) {
    emit(w);
    for (const [dim, pool] of pools) {
      for (const v of pool) {
        const d = new Map(w);
        d.set(dim, v);
        emit(d);
      }
    }
  }
  const rnd = mulberry32(options.seed ?? 1);
  const dims = [...pools.keys()];
  for (let i = 0; i < (options.random ?? 300); i++) {
    const w = witnesses[Math.floor(rnd() * witnesses.length)]!;
    const d = new Map(w);
    // Re-draw about a third of the dimensions.
    for (const dim of dims) if (rnd() < 0.35) { const p = pools.get(dim)!; d.set(dim, p[Math.floor(rnd() * p.length)]); }
    emit(d);
  }
  return out;
}

/** Every issuer the requests carry (a RequestAuthentication must accept them for claims to count). */
export function issuersOf(reqs: readonly GenRequest[]): string[] {
  return [...new Set(reqs.flatMap((r) => (r.jwt ? [String(r.jwt.iss)] : [])))].sort();
}
