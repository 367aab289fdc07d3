/**
 * VirtualService `http[]` rules: ports of virtualservice.go (validateHTTPRoute and friends) and of
 * the HTTP parts of validation.go (destinations, CORS, faults, redirect, direct response, mirrors,
 * rewrite) and agent/validation.go (ValidateHTTPRetry).
 */
import type { Reporter } from '../types.js';
import { goAtoi, goFixed, quoteValue, showValue } from '../go-compat.js';
import {
  byteLength, entries, goStatusText, HEADER_VALUE_FIX, isAuthorityHeader, isDNS1123Label, isObject, isSet,
  list, nonEmpty, num, parseGoDurationNanos, type Path, reportLabels, str, validateCORSHTTPHeaderName,
  validateDuration, validateFQDN, validateHTTPHeaderNameOrJwtClaimRoute, validateHTTPHeaderOperationName,
  validateHTTPHeaderValue, validateHTTPHeaderWithAuthorityOperationName, validatePercentage, validatePort,
  validateStringRegexp, validateWildcardDomain,
} from './common.js';

export const DURATION_FIX = 'use a duration of at least 1ms in whole milliseconds, e.g. `250ms` or `2s`';
export const PERCENTAGE_FIX = 'use 0, or a value between 0.0001 and 100 (it is a percentage: 0.1 means 0.1 %)';

// ---------------------------------------------------------------------------------------------
// Gateway references.

/**
 * validation.validateGatewayNames: `namespace/name`, or a legacy `name` / `name.namespace`.
 * Istio returns after the first entry without a `/`, so later entries are not checked; we keep
 * that so we accept exactly what Istio accepts.
 */
export function reportGatewayNames(report: Reporter, path: Path, gatewayNames: unknown, gatewaySemantics: boolean): void {
  const names = list(gatewayNames).map((g) => str(g));
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const parts = name.split('.');
        const recommended = `${parts[1]}/${parts[0]}`;
        report.warn([...path, i], `using legacy gatewayName format ${quoteValue(name)}; prefer the <namespace>/<name> format: ${quoteValue(recommended)}`, `write the gateway as \`${recommended}\``);
      }
      const err = validateFQDN(name);
      if (err) report.error([...path, i], err, 'reference a Gateway as `namespace/name` (or `mesh` for sidecars)');
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns.length === 0 || gw.length === 0) report.error([...path, i], 'config namespace and gateway name cannot be empty', 'reference a Gateway as `namespace/name`');
    if (!isDNS1123Label(ns)) report.error([...path, i], `invalid value for namespace: ${quoteValue(ns)}`, 'the part before `/` is a namespace name (a DNS-1123 label)');
    if (!isDNS1123Label(gw) && !gatewaySemantics) report.error([...path, i], `invalid value for gateway name: ${quoteValue(gw)}`, 'the part after `/` is a Gateway name (a DNS-1123 label)');
  }
}

// ---------------------------------------------------------------------------------------------
// Destinations.

/** validation.validateSubsetName. */
export function validateSubsetName(name: string): string | undefined {
  if (name.length === 0) return 'subset name cannot be empty';
  if (!isDNS1123Label(name)) return `subset name is invalid: ${showValue(name)}`;
  return undefined;
}

/** validation.validateDestination: host (no bare `*`), subset name, port number. */
export function validateDestination(report: Reporter, path: Path, destination: unknown): void {
  if (!isObject(destination)) return;
  const host = str(destination.host);
  if (host === '*') {
    report.error([...path, 'host'], `invalid destination host ${host}`, 'name one service host (`reviews`, `reviews.ns.svc.cluster.local` or a ServiceEntry host); a destination cannot be `*`');
  } else {
    const err = validateWildcardDomain(host);
    if (err) report.error([...path, 'host'], err, 'use a service name or DNS name: labels of letters, digits and `-`, separated by dots');
  }
  if (str(destination.subset) !== '') {
    const err = validateSubsetName(str(destination.subset));
    if (err) report.error([...path, 'subset'], err, 'subset names are DNS-1123 labels (lowercase letters, digits, `-`), as declared in the DestinationRule');
  }
  if (isSet(destination, 'port')) {
    const err = validatePort(num(destination.port.number));
    if (err) report.error([...path, 'port', 'number'], err, 'set `port.number` to the service port (1-65535), or remove `port`');
  }
}

/** The request/response header operations shared by rules and weighted destinations. */
function reportHeaderOperations(report: Reporter, path: Path, headers: unknown): void {
  if (!isObject(headers)) return;
  const request = headers.request;
  const response = headers.response;
  const nameFix = 'remove the `:`-prefixed name; only `host`/`:authority` may be set on requests (as an authority rewrite)';
  const hostFix = 'headers operations cannot change `Host` here; use `rewrite.authority` or request `set` of `host`';
  for (const op of ['add', 'set'] as const) {
    for (const [name, val] of entries(isObject(request) ? request[op] : undefined)) {
      const nameErr = validateHTTPHeaderWithAuthorityOperationName(name);
      if (nameErr) report.error([...path, 'request', op, name], nameErr, nameFix);
      const valErr = validateHTTPHeaderValue(str(val));
      if (valErr) report.error([...path, 'request', op, name], valErr, HEADER_VALUE_FIX);
    }
  }
  list(isObject(request) ? request.remove : undefined).forEach((name, i) => {
    const err = validateHTTPHeaderOperationName(str(name));
    if (err) report.error([...path, 'request', 'remove', i], err, hostFix);
  });
  for (const op of ['add', 'set'] as const) {
    for (const [name, val] of entries(isObject(response) ? response[op] : undefined)) {
      const nameErr = validateHTTPHeaderOperationName(name);
      if (nameErr) report.error([...path, 'response', op, name], nameErr, hostFix);
      const valErr = validateHTTPHeaderValue(str(val));
      if (valErr) report.error([...path, 'response', op, name], valErr, HEADER_VALUE_FIX);
    }
  }
  list(isObject(response) ? response.remove : undefined).forEach((name, i) => {
    const err = validateHTTPHeaderOperationName(str(name));
    if (err) report.error([...path, 'response', 'remove', i], err, hostFix);
  });
}

const WEIGHT_FIX = 'weights are relative non-negative integers; give at least one destination a weight above 0';

/**
 * validation.validateHTTPRouteDestinations and validateRouteDestinations: each destination valid,
 * weights non-negative, and with several destinations the weights may not sum to 0. The sum is
 * an int32 in Istio, so it wraps like Go's.
 */
export function validateRouteDestinations(report: Reporter, path: Path, routes: unknown, gatewaySemantics: boolean, http: boolean): void {
  const items = list(routes);
  let total = 0;
  items.forEach((weight, i) => {
    const p = [...path, i];
    if (!isObject(weight)) {
      report.error(p, 'weight may not be nil', 'remove the empty entry or give it a `destination`');
      return;
    }
    if (!isSet(weight, 'destination')) report.error(p, 'destination is required', 'add `destination: {host: ...}`');
    if (http) reportHeaderOperations(report, [...p, 'headers'], weight.headers);
    if (!gatewaySemantics) validateDestination(report, [...p, 'destination'], weight.destination);
    const w = num(weight.weight);
    if (w < 0) report.error([...p, 'weight'], `weight ${w} < 0`, WEIGHT_FIX);
    total = (total + w) | 0;
  });
  if (items.length > 1 && total === 0) report.error(path, 'total destination weight = 0', WEIGHT_FIX);
}

// ---------------------------------------------------------------------------------------------
// String matches.

type MatchKind = 'exact' | 'prefix' | 'regex' | undefined;

/** Which StringMatch variant is set (the proto oneof). */
export function matchKind(sm: unknown): MatchKind {
  if (!isObject(sm)) return undefined;
  if (isSet(sm, 'exact')) return 'exact';
  if (isSet(sm, 'prefix')) return 'prefix';
  if (isSet(sm, 'regex')) return 'regex';
  return undefined;
}

/** validation.validateStringMatchRegexp: a regex variant must be a non-empty RE2 pattern. */
function stringMatchRegexpError(sm: unknown, where: string): string | undefined {
  if (matchKind(sm) !== 'regex') return undefined;
  const re = str((sm as Record<string, unknown>).regex);
  if (re === '') return `${quoteValue(where)}: regex string match should not be empty`;
  return validateStringRegexp(re, where);
}

/** validation.validateStringMatch: additionally, a prefix variant may not be empty. */
function stringMatchError(sm: unknown, where: string): string | undefined {
  const kind = matchKind(sm);
  if (kind === 'prefix' && str((sm as Record<string, unknown>).prefix) === '') return `${quoteValue(where)}: prefix string match should not be empty`;
  if (kind === 'regex') return stringMatchRegexpError(sm, where);
  return undefined;
}

const REGEX_FIX = 'use RE2 syntax (no lookarounds or backreferences), at most 1024 characters; the match is anchored at both ends';

function reportStringMatch(report: Reporter, path: Path, sm: unknown, where: string, allowEmptyPrefix: boolean): void {
  const err = allowEmptyPrefix ? stringMatchRegexpError(sm, where) : stringMatchError(sm, where);
  if (!err) return;
  const kind = matchKind(sm);
  const fix = kind === 'prefix' ? 'remove the match, or give `prefix` a value' : REGEX_FIX;
  report.error(kind ? [...path, kind] : path, err, fix);
}

// ---------------------------------------------------------------------------------------------
// Rule pieces.

/** virtualservice.go: validateHTTPRouteMatchRequest. */
function validateHTTPRouteMatchRequest(report: Reporter, path: Path, http: Record<string, any>): void {
  const headerNameFix = 'use a lowercase HTTP header token, a pseudo-header such as `:authority`, or `@request.auth.claims.<claim>`';
  list(http.match).forEach((match, j) => {
    if (!isObject(match)) return;
    const mp = [...path, 'match', j];
    for (const [name, header] of entries(match.headers)) {
      if (header === null || header === undefined) report.error([...mp, 'headers', name], `header match ${name} cannot be null`, 'give the header a matcher (`exact`, `prefix`, `regex`) or `{}` for "present"');
      const nameErr = validateHTTPHeaderNameOrJwtClaimRoute(name);
      if (nameErr) report.error([...mp, 'headers', name], nameErr, headerNameFix);
      reportStringMatch(report, [...mp, 'headers', name], header, 'headers', false);
    }
    for (const [name, header] of entries(match.withoutHeaders)) {
      const nameErr = validateHTTPHeaderNameOrJwtClaimRoute(name);
      if (nameErr) report.error([...mp, 'withoutHeaders', name], nameErr, headerNameFix);
      // `regex: "*"` is not RE2 here: it means "header present".
      if (isObject(header) && str(header.regex) !== '*') reportStringMatch(report, [...mp, 'withoutHeaders', name], header, 'withoutHeaders', false);
    }
    // Envoy allows an empty URI prefix, but not an empty scheme/method/authority prefix.
    reportStringMatch(report, [...mp, 'uri'], match.uri, 'uri', true);
    reportStringMatch(report, [...mp, 'scheme'], match.scheme, 'scheme', false);
    reportStringMatch(report, [...mp, 'method'], match.method, 'method', false);
    reportStringMatch(report, [...mp, 'authority'], match.authority, 'authority', false);
    for (const [name, qp] of entries(match.queryParams)) reportStringMatch(report, [...mp, 'queryParams', name], qp, 'queryParams', false);
  });
  list(http.match).forEach((match, j) => {
    if (!isObject(match)) return;
    const mp = [...path, 'match', j];
    if (num(match.port) !== 0) {
      const err = validatePort(num(match.port));
      if (err) report.error([...mp, 'port'], err, 'use a service port number between 1 and 65535');
    }
    reportLabels(report, [...mp, 'sourceLabels'], match.sourceLabels);
    reportGatewayNames(report, [...mp, 'gateways'], match.gateways, false);
    const sourceNamespace = str(match.sourceNamespace);
    if (sourceNamespace !== '' && !isDNS1123Label(sourceNamespace)) {
      report.error([...mp, 'sourceNamespace'], `sourceNamespace match ${sourceNamespace} is invalid`, 'use a namespace name (a DNS-1123 label)');
    }
  });
}

export type HTTPRouteType = 'independent' | 'root' | 'delegate';

/** virtualservice.go: validateHTTPRouteConflict — which actions may be combined in one rule. */
function validateHTTPRouteConflict(report: Reporter, path: Path, http: Record<string, any>, routeType: HTTPRouteType): void {
  const name = str(http.name);
  if (routeType === 'root') {
    if (isSet(http, 'redirect')) report.error([...path, 'redirect'], `root HTTP route ${name} must not specify redirect`, 'a rule with `delegate` hands the request to the delegate VirtualService; move `redirect` there');
    if (nonEmpty(http.route)) report.error([...path, 'route'], `root HTTP route ${name} must not specify route`, 'a rule with `delegate` hands the request to the delegate VirtualService; move `route` there');
    return;
  }
  if (routeType === 'delegate' && isSet(http, 'delegate')) {
    report.error([...path, 'delegate'], 'delegate HTTP route cannot contain delegate', 'delegation is one level deep: replace `delegate` with `route`, `redirect` or `directResponse`');
  }
  const hasRoute = nonEmpty(http.route);
  const oneAction = 'keep exactly one of `route`, `redirect` or `directResponse` in a rule';
  if (isSet(http, 'redirect')) {
    if (hasRoute) report.error([...path, 'route'], 'HTTP route cannot contain both route and redirect', oneAction);
    if (isSet(http, 'fault')) report.error([...path, 'fault'], 'HTTP route cannot contain both fault and redirect', 'remove `fault`: a redirect is answered by the proxy');
    if (isSet(http, 'rewrite')) report.error([...path, 'rewrite'], 'HTTP route rule cannot contain both rewrite and redirect', 'remove `rewrite`, or use `redirect.uri`/`redirect.authority`');
    if (isSet(http, 'directResponse')) report.error([...path, 'directResponse'], 'HTTP route rule cannot contain both direct_response and redirect', oneAction);
  } else if (isSet(http, 'directResponse')) {
    if (hasRoute) report.error([...path, 'route'], 'HTTP route cannot contain both route and direct_response', oneAction);
    if (isSet(http, 'fault')) report.error([...path, 'fault'], 'HTTP route cannot contain both fault and direct_response', 'remove `fault`: a direct response is answered by the proxy');
    if (isSet(http, 'rewrite')) report.error([...path, 'rewrite'], 'HTTP route rule cannot contain both rewrite and direct_response', 'remove `rewrite`: nothing is forwarded');
  } else if (!hasRoute) {
    report.error(path, 'HTTP route, redirect or direct_response is required', 'add `route: [{destination: {host: ...}}]`, a `redirect` or a `directResponse`');
  }
  if (isSet(http, 'mirror') && nonEmpty(http.mirrors)) {
    report.error([...path, 'mirrors'], 'HTTP route cannot contain both mirror and mirrors', 'move `mirror` into `mirrors` (with its `mirrorPercentage` as `percentage`)');
  }
}

const SUPPORTED_CORS_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*']);

/** validation.validateCORSPolicy (+ validateAllowOrigins, validateCORSHTTPMethod). */
export function validateCORSPolicy(report: Reporter, path: Path, policy: unknown): void {
  if (!isObject(policy)) return;
  list(policy.allowOrigins).forEach((origin, i) => {
    const kind = matchKind(origin);
    const value = kind ? str((origin as Record<string, unknown>)[kind]) : '';
    if (value === '') {
      report.error([...path, 'allowOrigins', i], `'${value}' is not a valid match type for CORS allow origins`, 'give the origin a non-empty `exact`, `prefix` or `regex`, e.g. `exact: https://example.com`');
      return;
    }
    const err = stringMatchRegexpError(origin, 'corsPolicy.allowOrigins');
    if (err) report.error([...path, 'allowOrigins', i, 'regex'], err, REGEX_FIX);
  });
  list(policy.allowMethods).forEach((method, i) => {
    if (!SUPPORTED_CORS_METHODS.has(str(method))) {
      report.error([...path, 'allowMethods', i], `${quoteValue(str(method))} is not a supported HTTP method`, 'use an upper-case method: GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE, or `*`');
    }
  });
  for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
    list(policy[field]).forEach((name, i) => {
      const err = validateCORSHTTPHeaderName(str(name));
      if (err) report.error([...path, field, i], err, 'use an HTTP header name token, or `*`');
    });
  }
  if (isSet(policy, 'maxAge')) {
    const err = validateDuration(policy.maxAge);
    if (err) report.error([...path, 'maxAge'], err, DURATION_FIX);
    // Istio rejects sub-second parts (proto `nanos > 0`) because the header is in seconds.
    const ns = parseGoDurationNanos(policy.maxAge);
    if (ns !== undefined && ns > 0n && ns % 1_000_000_000n !== 0n) {
      report.error([...path, 'maxAge'], 'max_age duration is accurate only to seconds precision', 'use whole seconds, e.g. `24h` or `86400s`');
    }
  }
}

const GRPC_STATUS = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
]);

/** validation.validateHTTPStatus: 200..600 (the message says 599, as Istio's does). */
export function validateHTTPStatus(status: number): string | undefined {
  if (status < 200 || status > 600) return `HTTP status ${status} is not in range 200-599`;
  return undefined;
}

/**
 * validation.validateHTTPFaultInjectionAbort. Its "error type not set" warning is discarded by
 * validateHTTPFaultInjection (which appends with appendErrors), so a VirtualService never shows
 * it; `emitWarning` lets callers choose.
 */
export function validateHTTPFaultInjectionAbort(report: Reporter, path: Path, abort: unknown, emitWarning: boolean): void {
  if (!isObject(abort)) return;
  const pctErr = validatePercentage(abort.percentage);
  if (pctErr) report.error([...path, 'percentage', 'value'], pctErr, PERCENTAGE_FIX);
  if (isSet(abort, 'grpcStatus')) {
    const status = str(abort.grpcStatus);
    if (!GRPC_STATUS.has(status)) {
      report.error(
        [...path, 'grpcStatus'],
        `gRPC status ${quoteValue(status)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        'use the upper-case status name, e.g. `UNAVAILABLE` (numbers are not accepted)',
      );
    }
  } else if (isSet(abort, 'http2Error')) {
    report.error([...path, 'http2Error'], 'HTTP/2 abort fault injection not supported yet', 'use `httpStatus` or `grpcStatus`');
  } else if (isSet(abort, 'httpStatus')) {
    const err = validateHTTPStatus(num(abort.httpStatus));
    if (err) report.error([...path, 'httpStatus'], err, 'use an HTTP status between 200 and 599');
  } else if (emitWarning) {
    report.warn(path, 'abort configured, but error type not set', 'set `httpStatus` or `grpcStatus`; without one the abort is ignored');
  }
}

/** validation.validateHTTPFaultInjectionDelay. */
export function validateHTTPFaultInjectionDelay(report: Reporter, path: Path, delay: unknown): void {
  if (!isObject(delay)) return;
  const pctErr = validatePercentage(delay.percentage);
  if (pctErr) report.error([...path, 'percentage', 'value'], pctErr, PERCENTAGE_FIX);
  if (isSet(delay, 'fixedDelay')) {
    const err = validateDuration(delay.fixedDelay);
    if (err) report.error([...path, 'fixedDelay'], err, DURATION_FIX);
  } else if (isSet(delay, 'exponentialDelay')) {
    const err = validateDuration(delay.exponentialDelay);
    if (err) report.error([...path, 'exponentialDelay'], err, DURATION_FIX);
    report.error([...path, 'exponentialDelay'], 'exponentialDelay not supported yet', 'use `fixedDelay`');
  }
}

/** validation.validateHTTPFaultInjection. */
function validateHTTPFaultInjection(report: Reporter, path: Path, fault: unknown): void {
  if (!isObject(fault)) return;
  if (!isSet(fault, 'abort') && !isSet(fault, 'delay')) {
    report.error(path, 'HTTP fault injection must have an abort and/or a delay', 'add `delay: {fixedDelay: 5s, percentage: {value: 10}}` or `abort: {httpStatus: 503, percentage: {value: 10}}`');
  }
  validateHTTPFaultInjectionAbort(report, [...path, 'abort'], fault.abort, false);
  validateHTTPFaultInjectionDelay(report, [...path, 'delay'], fault.delay);
}

/**
 * validation.validateHTTPRedirect. Istio stops at the first problem, so this reports at most one.
 */
export function validateHTTPRedirect(report: Reporter, path: Path, redirect: unknown, matches: unknown): void {
  if (!isObject(redirect)) return;
  const uri = str(redirect.uri);
  const prefixRewrite = str(redirect.prefixRewrite);
  if (uri !== '' && prefixRewrite !== '') {
    report.error([...path, 'prefixRewrite'], 'redirect may only specify one of uri or prefix_rewrite', '`uri` replaces the whole path, `prefixRewrite` only the matched prefix: keep one');
    return;
  }
  if (prefixRewrite !== '') {
    for (const [j, match] of list(matches).entries()) {
      // (Go would dereference a null match here; skip it instead of failing.)
      if (isObject(match) && isSet(match, 'uri') && matchKind(match.uri) !== 'prefix') {
        report.error([...path, 'prefixRewrite'], 'redirect prefix_rewrite requires all URI matches to use prefix match type', `change \`match[${j}].uri\` to a \`prefix\` match, or use \`redirect.uri\``);
        return;
      }
    }
  }
  const hasPort = isSet(redirect, 'port') || isSet(redirect, 'derivePort');
  if (uri === '' && prefixRewrite === '' && str(redirect.authority) === '' && !hasPort && str(redirect.scheme) === '') {
    report.error(path, 'redirect must specify URI, authority, scheme, or port', 'set at least one of `uri`, `prefixRewrite`, `authority`, `scheme`, `port` or `derivePort`');
    return;
  }
  const code = num(redirect.redirectCode);
  if (code !== 0 && (code < 300 || code > 399)) {
    report.error([...path, 'redirectCode'], `${code} is not a valid redirect code, must be 3xx`, 'use 301, 302, 303, 307 or 308 (default 301)');
    return;
  }
  const scheme = str(redirect.scheme);
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') {
    report.error([...path, 'scheme'], 'invalid redirect scheme, must be "http" or "https"', 'use `http` or `https`');
    return;
  }
  if (num(redirect.port) > 0) {
    const err = validatePort(num(redirect.port));
    if (err) report.error([...path, 'port'], err, 'use a port between 1 and 65535');
  }
}

const KB = 1024;
const MB = 1024 * KB;

/** Length in bytes of an HTTPBody: UTF-8 for `string`, decoded base64 for `bytes`. */
function bodySize(body: Record<string, unknown>): number {
  if (isSet(body, 'string')) return byteLength(str(body.string));
  if (isSet(body, 'bytes')) return Buffer.from(str(body.bytes), 'base64').length;
  return 0;
}

/** validation.validateHTTPDirectResponse. */
export function validateHTTPDirectResponse(report: Reporter, path: Path, directResponse: unknown): void {
  if (!isObject(directResponse)) return;
  if (isObject(directResponse.body)) {
    const size = bodySize(directResponse.body);
    const fix = 'serve large bodies from a backend; keep direct responses small';
    if (size > MB) report.error([...path, 'body'], 'large direct_responses may impact control plane performance, must be less than 1MB', fix);
    else if (size > 100 * KB) report.warn([...path, 'body'], 'large direct_responses may impact control plane performance', fix);
  }
  const err = validateHTTPStatus(num(directResponse.status));
  if (err) report.error([...path, 'status'], err, 'use an HTTP status between 200 and 599');
}

/** validation.validateHTTPMirrors. */
function validateHTTPMirrors(report: Reporter, path: Path, mirrors: unknown): void {
  list(mirrors).forEach((mirror, i) => {
    const p = [...path, i];
    if (!isObject(mirror)) {
      report.error(p, 'mirror cannot be null', 'remove the empty entry');
      return;
    }
    if (!isSet(mirror, 'destination')) {
      report.error(p, 'destination is required for mirrors', 'add `destination: {host: ...}`');
      return;
    }
    validateDestination(report, [...p, 'destination'], mirror.destination);
    if (isObject(mirror.percentage)) {
      const value = num(mirror.percentage.value);
      if (value > 100) report.error([...p, 'percentage', 'value'], `mirror percentage must have a max value of 100 (it has ${goFixed(value)})`, 'use a percentage between 0 and 100');
      if (value < 0) report.error([...p, 'percentage', 'value'], `mirror percentage must have a min value of 0 (it has ${goFixed(value)})`, 'use a percentage between 0 and 100');
    }
  });
}

/** validation.validateURIRegexRewrite. */
function uriRegexRewriteError(regexRewrite: unknown): string | undefined {
  if (!isObject(regexRewrite)) return undefined;
  if (str(regexRewrite.match) === '' || str(regexRewrite.rewrite) === '') return 'UriRegexRewrite requires both Rewrite and Match fields to be specified';
  return validateStringRegexp(str(regexRewrite.match), 'HTTPRewrite.UriRegexRewrite.Match');
}

/** validation.validateURIRegexRewrite, reported at `path` (the `uriRegexRewrite` object). */
export function validateURIRegexRewrite(report: Reporter, path: Path, regexRewrite: unknown): void {
  const err = uriRegexRewriteError(regexRewrite);
  if (err) report.error(path, err, 'set both `match` (an RE2 pattern) and `rewrite` (using `\\1`, `\\2` for groups)');
}

/** validation.validateHTTPRewrite. */
export function validateHTTPRewrite(report: Reporter, path: Path, rewrite: unknown): void {
  if (!isObject(rewrite)) return;
  const uri = str(rewrite.uri);
  const hasRegex = isSet(rewrite, 'uriRegexRewrite');
  if (uri !== '' && hasRegex) {
    report.error([...path, 'uriRegexRewrite'], 'rewrite may only contain one of URI or UriRegexRewrite', 'keep either `uri` (prefix rewrite) or `uriRegexRewrite`');
    return;
  }
  if (uri === '' && !hasRegex && str(rewrite.authority) === '') {
    report.error(path, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified', 'set `uri`, `uriRegexRewrite` or `authority`, or remove `rewrite`');
    return;
  }
  const err = uriRegexRewriteError(rewrite.uriRegexRewrite);
  if (err) report.error([...path, 'uriRegexRewrite'], `UriRegexRewrite has errors: ${err}`, 'set both `match` (an RE2 pattern) and `rewrite` (using `\\1`, `\\2` for groups)');
}

/** virtualservice.go: validateAuthorityRewrite — the authority may be rewritten in one place only. */
function validateAuthorityRewrite(report: Reporter, path: Path, rewrite: unknown, headers: unknown): void {
  let current = isObject(rewrite) ? str(rewrite.authority) : '';
  const request = isObject(headers) && isObject(headers.request) ? headers.request : undefined;
  for (const op of ['set', 'add'] as const) {
    for (const [k, v] of entries(request?.[op])) {
      if (!isAuthorityHeader(k)) continue;
      if (current !== '') {
        report.error([...path, 'headers', 'request', op, k], `authority header cannot be set multiple times: have ${quoteValue(current)}, attempting to set ${quoteValue(str(v))}`, 'rewrite the authority once: either `rewrite.authority` or one request `set`/`add` of `host`');
        return;
      }
      current = str(v);
    }
  }
}

/** The `retryOn` tokens Envoy understands (agent/validation.go: supportedRetryOnPolicies). */
export const SUPPORTED_RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

/**
 * agent.ValidateHTTPRetry. `retryOn` is split on `,` without trimming, and each token must be an
 * Envoy policy name or an HTTP status code Go's net/http knows.
 */
export function validateHTTPRetry(report: Reporter, path: Path, retries: unknown): void {
  if (!isObject(retries)) return;
  const attempts = num(retries.attempts);
  if (attempts < 0) report.error([...path, 'attempts'], 'attempts cannot be negative', 'use `attempts: 0` to disable retries, or a positive number of retries');
  const retryOn = str(retries.retryOn);
  if (attempts === 0 && (isSet(retries, 'perTryTimeout') || retryOn !== '' || isSet(retries, 'retryRemoteLocalities'))) {
    report.error(path, 'http retry policy configured when attempts are set to 0 (disabled)', 'set `attempts` above 0, or remove `perTryTimeout`, `retryOn` and `retryRemoteLocalities`');
  }
  if (isSet(retries, 'perTryTimeout')) {
    const err = validateDuration(retries.perTryTimeout);
    if (err) report.error([...path, 'perTryTimeout'], err, DURATION_FIX);
  }
  if (retryOn !== '') {
    for (const policy of retryOn.split(',')) {
      const code = goAtoi(policy) ?? 0;
      if (goStatusText(code) === '' && !SUPPORTED_RETRY_ON.has(policy)) {
        report.error(
          [...path, 'retryOn'],
          `${quoteValue(policy)} is not a valid retryOn policy`,
          'use comma-separated Envoy conditions without spaces (e.g. `5xx,reset,connect-failure`), gRPC names (`unavailable`) or HTTP status codes (`503`)',
        );
      }
    }
  }
  if (isSet(retries, 'backoff')) {
    const err = validateDuration(retries.backoff);
    if (err) report.error([...path, 'backoff'], err, DURATION_FIX);
  }
}

/** virtualservice.go: validateHTTPRoute, for one `http[]` rule at `path`. */
export function validateHTTPRoute(report: Reporter, path: Path, http: Record<string, any>, delegate: boolean, gatewaySemantics: boolean): void {
  const routeType: HTTPRouteType = delegate ? 'delegate' : isSet(http, 'delegate') ? 'root' : 'independent';
  validateHTTPRouteConflict(report, path, http, routeType);
  validateHTTPRouteMatchRequest(report, path, http);
  reportHeaderOperations(report, [...path, 'headers'], http.headers);
  validateCORSPolicy(report, [...path, 'corsPolicy'], http.corsPolicy);
  validateHTTPFaultInjection(report, [...path, 'fault'], http.fault);

  // `mirror_percent` is the proto name of the deprecated field; the CRD accepts both spellings.
  for (const field of ['mirrorPercent', 'mirror_percent'] as const) {
    if (!isSet(http, field)) continue;
    const value = num(http[field]);
    if (value > 100) report.error([...path, field], `mirror_percent must have a max value of 100 (it has ${value})`, 'use a percentage between 0 and 100');
    report.warn([...path, field], 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead', 'replace `mirrorPercent: N` with `mirrorPercentage: {value: N}`');
  }
  if (isObject(http.mirrorPercentage)) {
    const value = num(http.mirrorPercentage.value);
    if (value > 100) report.error([...path, 'mirrorPercentage', 'value'], `mirror_percentage must have a max value of 100 (it has ${goFixed(value)})`, 'use a percentage between 0 and 100');
    if (value < 0) report.error([...path, 'mirrorPercentage', 'value'], `mirror_percentage must have a min value of 0 (it has ${goFixed(value)})`, 'use a percentage between 0 and 100');
  }
  validateDestination(report, [...path, 'mirror'], http.mirror);
  validateHTTPMirrors(report, [...path, 'mirrors'], http.mirrors);
  validateHTTPRedirect(report, [...path, 'redirect'], http.redirect, http.match);
  validateHTTPDirectResponse(report, [...path, 'directResponse'], http.directResponse);
  validateHTTPRetry(report, [...path, 'retries'], http.retries);
  validateHTTPRewrite(report, [...path, 'rewrite'], http.rewrite);
  validateAuthorityRewrite(report, path, http.rewrite, http.headers);
  validateRouteDestinations(report, [...path, 'route'], http.route, gatewaySemantics, true);
  if (isSet(http, 'timeout')) {
    const err = validateDuration(http.timeout);
    if (err) report.error([...path, 'timeout'], err, DURATION_FIX);
  }
}
