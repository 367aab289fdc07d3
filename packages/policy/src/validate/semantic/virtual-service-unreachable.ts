/**
 * Unreachable and shadowed VirtualService rules: a port of validation.go
 * analyzeUnreachableHTTPRules / analyzeUnreachableTCPRules / analyzeUnreachableTLSRules and the
 * prefix-overlap check (genMatchHTTPRoutes, coveredValidation). Istio returns these as warnings
 * (VirtualServiceUnreachableRule, VirtualServiceIneffectiveMatch); the rules still apply.
 */
import type { Reporter } from '../types.js';
import { quoteValue } from '../go-compat.js';
import { entries, isObject, isSet, list, nonEmpty, num, type Path, str } from './common.js';
import { matchKind } from './virtual-service-http.js';

/** Stable JSON with sorted keys, `undefined` members dropped. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function canonStringMatch(sm: unknown): unknown {
  if (!isObject(sm)) return null;
  const kind = matchKind(sm);
  return kind ? { [kind]: str(sm[kind]) } : {};
}

function canonMap(m: unknown, f: (v: unknown) => unknown): Record<string, unknown> | undefined {
  const e = entries(m);
  if (e.length === 0) return undefined;
  return Object.fromEntries(e.map(([k, v]) => [k, f(v)]));
}

function canonStrings(xs: unknown): string[] | undefined {
  return nonEmpty(xs) ? list(xs).map((x) => str(x)) : undefined;
}

/**
 * validation.asJSON for an HTTPMatchRequest: two matches are duplicates when Go's encoding/json
 * renders them the same with `name` cleared. That drops zero values (omitempty) but keeps an
 * empty message such as `uri: {}`, which we mirror field by field.
 */
function httpMatchKey(m: unknown): string {
  if (!isObject(m)) return 'null';
  const msg = (k: string) => (isSet(m, k) ? canonStringMatch(m[k]) : undefined);
  return stable({
    uri: msg('uri'),
    scheme: msg('scheme'),
    method: msg('method'),
    authority: msg('authority'),
    headers: canonMap(m.headers, canonStringMatch),
    port: num(m.port) || undefined,
    sourceLabels: canonMap(m.sourceLabels, (v) => str(v)),
    gateways: canonStrings(m.gateways),
    queryParams: canonMap(m.queryParams, canonStringMatch),
    ignoreUriCase: m.ignoreUriCase === true || undefined,
    withoutHeaders: canonMap(m.withoutHeaders, canonStringMatch),
    sourceNamespace: str(m.sourceNamespace) || undefined,
    statPrefix: str(m.statPrefix) || undefined,
  });
}

/** validation.asJSON for TLS and L4 match attributes (all scalars, lists and maps). */
function l4MatchKey(m: unknown): string {
  if (!isObject(m)) return 'null';
  return stable({
    sniHosts: canonStrings(m.sniHosts),
    destinationSubnets: canonStrings(m.destinationSubnets),
    port: num(m.port) || undefined,
    sourceLabels: canonMap(m.sourceLabels, (v) => str(v)),
    gateways: canonStrings(m.gateways),
    sourceNamespace: str(m.sourceNamespace) || undefined,
    sourceSubnet: str(m.sourceSubnet) || undefined,
  });
}

/** validation.routeName: an HTTP rule's quoted name, else `#n`. */
function routeName(route: unknown, n: number, http: boolean): string {
  if (http && isObject(route) && str(route.name) !== '') return quoteValue(str(route.name));
  return `#${n}`;
}

function requestName(match: unknown, n: number, http: boolean): string {
  if (http && isObject(match) && str(match.name) !== '') return quoteValue(str(match.name));
  return `#${n}`;
}

interface PrefixMatch {
  rule: number;
  match: number;
  routeStr: string;
  matchStr: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  queryParams: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

/** validation.assignExactOrPrefix. */
function exactOrPrefix(sm: unknown): string {
  if (!isObject(sm)) return '';
  const kind = matchKind(sm);
  if (kind === 'exact' && str(sm.exact) !== '') return `exact:${str(sm.exact)}`;
  if (kind === 'prefix' && str(sm.prefix) !== '') return `prefix:${str(sm.prefix)}`;
  return '';
}

/** validation.genMatchHTTPRoutes: only matches with a non-empty URI prefix take part. */
function genPrefixMatch(route: unknown, match: Record<string, any>, rule: number, matchn: number): PrefixMatch | undefined {
  if (!isSet(match, 'uri') || matchKind(match.uri) !== 'prefix') return undefined;
  const prefix = str(match.uri.prefix);
  if (prefix === '') return undefined;
  const toMap = (m: unknown) => new Map(entries(m).map(([k, v]) => [k, exactOrPrefix(v)]));
  return {
    rule,
    match: matchn,
    routeStr: routeName(route, rule, true),
    matchStr: requestName(match, matchn, true),
    prefix,
    port: num(match.port),
    // Istio treats a prefix match without a method as GET.
    method: exactOrPrefix(match.method) || 'exact:GET',
    authority: exactOrPrefix(match.authority),
    headers: toMap(match.headers),
    queryParams: toMap(match.queryParams),
    withoutHeaders: toMap(match.withoutHeaders),
  };
}

function mapCovered(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const bv = b.get(k);
    if (bv === undefined) return false;
    if (v !== bv && !v.startsWith(bv)) return false;
  }
  return true;
}

/** validation.coveredValidation: does the earlier match `a` catch everything the later `b` would? */
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix)) return false;
  if (b.port !== a.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return mapCovered(a.headers, b.headers) && mapCovered(a.queryParams, b.queryParams) && mapCovered(a.withoutHeaders, b.withoutHeaders);
}

const UNREACHABLE_FIX = 'move the rule above the rule that shadows it, or remove it; rules are evaluated in order and the first match wins';

function analyze(report: Reporter, field: 'http' | 'tcp' | 'tls', routes: unknown[]): void {
  const http = field === 'http';
  const unused = (rule: number, reason: string) =>
    report.warn(['spec', field, rule], `virtualService rule ${routeName(routes[rule], rule, http)} not used (${reason})`, UNREACHABLE_FIX);
  const ineffective = (path: Path, ruleStr: string, matchStr: string, dupStr: string) =>
    report.warn(path, `virtualService rule ${ruleStr} match ${matchStr} is not used (duplicate/overlapping match in rule ${dupStr})`, 'remove the match, or order rules from most to least specific');

  const seen = new Map<string, number>();
  let emptyMatchAt = -1;
  const prefixMatches: PrefixMatch[] = [];
  routes.forEach((route, rule) => {
    if (!isObject(route)) return;
    const matches = list(route.match);
    if (matches.length === 0) {
      if (emptyMatchAt >= 0) unused(rule, 'only the last rule can have no matches');
      emptyMatchAt = rule;
      return;
    }
    let duplicates = 0;
    matches.forEach((match, matchn) => {
      if (emptyMatchAt >= 0) {
        unused(rule, 'route without matches defined before');
        return;
      }
      const key = http ? httpMatchKey(match) : l4MatchKey(match);
      const dup = seen.get(key);
      if (dup !== undefined) {
        ineffective(['spec', field, rule, 'match', matchn], routeName(route, rule, http), requestName(match, matchn, http), routeName(routes[dup], dup, http));
        duplicates++;
        return;
      }
      seen.set(key, rule);
      if (http && isObject(match)) {
        const pm = genPrefixMatch(route, match, rule, matchn);
        if (pm) prefixMatches.push(pm);
      }
    });
    if (duplicates === matches.length) unused(rule, 'all matches used by prior rules');
  });

  for (let i = 0; i < prefixMatches.length; i++) {
    const a = prefixMatches[i]!;
    for (let j = i + 1; j < prefixMatches.length; j++) {
      const b = prefixMatches[j]!;
      // Identical prefixes were handled as duplicates above.
      if (b.prefix === a.prefix) continue;
      if (covered(a, b)) {
        ineffective(['spec', field, b.rule, 'match', b.match], b.routeStr, `${b.matchStr} of prefix ${b.prefix}`, `${a.matchStr} of prefix ${a.prefix} on ${a.routeStr}`);
      }
    }
  }
}

/** Warns about rules and matches that can never be selected, as Istio's webhook does. */
export function analyzeUnreachableRules(report: Reporter, vs: Record<string, any>): void {
  analyze(report, 'http', list(vs.http));
  analyze(report, 'tcp', list(vs.tcp));
  analyze(report, 'tls', list(vs.tls));
}
