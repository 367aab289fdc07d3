/**
 * Building blocks shared by the semantic validators, ported from Istio's
 * pkg/config/validation (validation.go, agent/validation.go, header_value_validator.go) and the
 * small packages they call (pkg/config/labels, host, visibility, protocol, pkg/jwt). The Go
 * standard-library parsers they inherit (netip, net/url, time, strconv) are in ../go-compat.ts.
 *
 * Each check returns Istio's own error text (or `undefined` when the value is fine) so that callers
 * can attach the field path and a fix. Messages keep Go's formatting (`%q` quoting, `%v` floats)
 * because users search for the text they saw from `kubectl apply`.
 */
import type { PathSegment } from '../../load/resource.js';
import { re2Error } from '../../util/regex.js';
import { goAtoi, goFloat, goParseAddr, goParsePrefix, parseGoBool, parseGoDuration, quoteValue, showValue } from '../go-compat.js';
import type { Reporter, SemanticContext } from '../types.js';
import { isWildcard } from '../../compile/hosts.js';

export type Path = readonly PathSegment[];

// ---------------------------------------------------------------------------------------------
// Reading a spec the way the webhook sees it. The CRD schema has been checked, but a validator
// must never throw, and proto3 semantics need "unset" and "zero" to read the same.
//
// The webhook turns the object into a Go proto with jsonpb (protomarshal.ApplyJSON). Three
// consequences the checks depend on:
//  * an empty list (`rules: []`) decodes to a nil slice, exactly like an absent field;
//  * `null` for a singular message field means "absent", but `null` as a list element or map
//    value becomes an empty message (so `from: [null]` is a `from` entry without `source`);
//  * an empty map (`portLevelMtls: {}`) stays a non-nil empty map.

export type Obj = Record<string, unknown>;

/** A plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, any> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** True when a message or wrapper field is present (proto `!= nil`); `null` counts as unset. */
export function isSet(o: unknown, key: string): boolean {
  return isObject(o) && o[key] !== undefined && o[key] !== null;
}

/** A proto3 string field: unset reads as `''`. */
export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** A proto3 number field: unset reads as `0`. */
export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** A singular message field: `undefined` when absent or `null`. */
export function msg(v: unknown): Obj | undefined {
  return isObject(v) ? v : undefined;
}

/** Elements of a repeated message field; `null` elements read as empty messages. */
export function msgList(v: unknown): Obj[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (isObject(x) ? x : {}));
}

/** Elements of a repeated string field; `null` elements read as `''`. */
export function strList(v: unknown): string[] {
  return list(v).map((x) => str(x));
}

/** A repeated field: unset (or a non-list) reads as `[]`. */
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A map field as entries: unset reads as no entries. */
export function entries(v: unknown): [string, unknown][] {
  return isObject(v) ? Object.entries(v) : [];
}

/** A non-empty repeated or map field (Go `len(x) > 0`). */
export function nonEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return false;
}

/** Go `len(s)`: the UTF-8 byte length of a string, which Istio's size limits use. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Name of an enum value. jsonpb accepts the name or the number, so numbers map through
 * `names` (index = proto number); absent and `null` are the zero value.
 */
export function enumName(v: unknown, names: readonly string[]): string {
  if (typeof v === 'number') return names[v] ?? String(v);
  if (typeof v === 'string' && v !== '') return v;
  return names[0] ?? '';
}

/**
 * Which member of a protobuf `oneof` the webhook keeps: jsonpb sets the members in declaration
 * order and each assignment replaces the previous one, so the last member present wins.
 */
export function oneofWinner(o: Obj, membersInDeclarationOrder: readonly string[]): string | undefined {
  let winner: string | undefined;
  for (const m of membersInDeclarationOrder) {
    if (o[m] !== undefined && o[m] !== null) winner = m;
  }
  return winner;
}

// ---------------------------------------------------------------------------------------------
// DNS names (pkg/config/labels, agent/validation.go).

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
// A wildcard prefix is `*`, or a DNS-1123 label optionally led by `*` or `*-`.
const WILDCARD_DNS1123_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

/** labels.IsDNS1123Label: at most 63 characters of `[a-zA-Z0-9-]`, alphanumeric at both ends. */
export function isDNS1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** labels.IsWildcardDNS1123Label: a DNS-1123 label, `*`, or a label led by `*` / `*-`. */
export function isWildcardDNS1123Label(value: string): boolean {
  return value.length <= 63 && WILDCARD_DNS1123_LABEL.test(value);
}

/** agent.CheckDNS1123Preconditions. */
function checkDNS1123Preconditions(name: string): string | undefined {
  if (byteLength(name) > 255) return `domain name ${quoteValue(name)} too long (max 255)`;
  if (name.length === 0) return 'empty domain name not allowed';
  return undefined;
}

/** agent.ValidateDNS1123Labels: every dot-separated label valid; the top-level label not all-numeric. */
export function validateDNS1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1]!;
  if (goAtoi(tld) !== undefined) {
    return `domain name ${quoteValue(domain)} invalid (top level domain ${quoteValue(tld)} cannot be all-numeric)`;
  }
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i]!;
    // A trailing dot (`istio.io.`) is allowed.
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDNS1123Label(label)) return `domain name ${quoteValue(domain)} invalid (label ${quoteValue(label)} invalid)`;
  }
  return undefined;
}

/** agent.ValidateFQDN. */
export function validateFQDN(fqdn: string): string | undefined {
  return checkDNS1123Preconditions(fqdn) ?? validateDNS1123Labels(fqdn);
}

/** agent.ValidateWildcardDomain: an FQDN whose first label may be a wildcard (`*`, `*.foo`, `*foo`). */
export function validateWildcardDomain(domain: string): string | undefined {
  const pre = checkDNS1123Preconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (!isWildcardDNS1123Label(first)) return `domain name ${quoteValue(domain)} invalid (label ${quoteValue(first)} invalid)`;
  if (dot >= 0) return validateDNS1123Labels(domain.slice(dot + 1));
  return undefined;
}

const OUTBOUND_SNI_FORMAT = 'outbound_.<PORT>_._.<HOSTNAME>';

/** agent.parseAutoGeneratedSNIDomain: splits `outbound_.80_._.host` into its parts. */
export function parseAutoGeneratedSNIDomain(domain: string): { direction: string; port: string; hostname: string } | { error: string } {
  const parts = domain.split('_');
  if (parts.length < 4) return { error: `domain name ${domain} invalid, should follow '${OUTBOUND_SNI_FORMAT}' format` };
  const trimDots = (s: string) => s.replace(/^\.+|\.+$/g, '');
  return { direction: parts[0]!, port: trimDots(parts[1]!), hostname: trimDots(parts[3]!) };
}

/**
 * agent.ValidateWildcardDomainForVirtualServiceBoundToGateway: like validateWildcardDomain, but an SNI
 * host may be the `outbound_.<port>_._.<host>` name generated for AUTO_PASSTHROUGH gateways.
 */
export function validateWildcardDomainForVirtualServiceBoundToGateway(sni: boolean, domain: string): string | undefined {
  const pre = checkDNS1123Preconditions(domain);
  if (pre) return pre;
  if (sni && domain.startsWith('outbound_')) {
    const parsed = parseAutoGeneratedSNIDomain(domain);
    if ('error' in parsed) return parsed.error;
    if (parsed.direction !== 'outbound') return `domain name ${quoteValue(domain)} invalid (label ${quoteValue(parsed.direction)} invalid)`;
    // Go uses unanchored regexp.MatchString: "contains a digit" / "contains a letter".
    if (!/[0-9]/.test(parsed.port)) {
      return `domain name ${quoteValue(domain)} invalid (label ${quoteValue(parsed.port)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    if (!/[a-zA-Z]/.test(parsed.hostname)) {
      return `domain name ${quoteValue(domain)} invalid (label ${quoteValue(parsed.hostname)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    return undefined;
  }
  return validateWildcardDomain(domain);
}

/** agent.ValidatePartialWildCard: `*` is only allowed alone or as a whole first label (`*.foo`). */
export function validatePartialWildcard(host: string): string | undefined {
  if (host.includes('*') && host.length !== 1 && !host.startsWith('*.')) return `partial wildcard ${quoteValue(host)} not allowed`;
  return undefined;
}

/** agent.validateSidecarOrGatewayHostnamePart: the `dnsName` half of `namespace/dnsName`. */
function validateSidecarOrGatewayHostnamePart(hostname: string, isGateway: boolean): string[] {
  const errs: string[] = [];
  if (hostname !== '*' && !hostname.includes('.')) errs.push('short names (non FQDN) are not allowed');
  const err = validateWildcardDomain(hostname);
  // Gateways also accept an IP address as the host. (Istio appends the same error twice for a
  // sidecar host that is not an IP either; once is enough.)
  if (err && (!isGateway || !isValidIPAddress(hostname))) errs.push(err);
  const partial = validatePartialWildcard(hostname);
  if (partial) errs.push(partial);
  return errs;
}

/**
 * agent.ValidateNamespaceSlashWildcardHostname: Sidecar egress hosts and Gateway server hosts of the
 * form `namespace/dnsName` (gateways also accept a bare `dnsName`).
 */
export function validateNamespaceSlashWildcardHostname(hostname: string, isGateway: boolean, gatewaySemantics: boolean): string[] {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    if (isGateway) return validateSidecarOrGatewayHostnamePart(hostname, true);
    return ['host must be of form namespace/dnsName'];
  }
  const ns = hostname.slice(0, slash);
  const name = hostname.slice(slash + 1);
  const errs: string[] = [];
  if (ns.length === 0 || name.length === 0) errs.push('config namespace and dnsName in host entry cannot be empty');
  if (!isGateway) {
    // A sidecar namespace may be `*`, `.`, or a DNS label, optionally `~`-prefixed to exclude it.
    const bare = ns.startsWith('~') ? ns.slice(1) : ns;
    if (bare !== '' && bare !== '*' && bare !== '.' && !isDNS1123Label(bare)) errs.push(`invalid namespace value ${quoteValue(ns)} in sidecar`);
  } else if (ns !== '*' && ns !== '.' && (ns !== '~' || !gatewaySemantics)) {
    // `~` is only produced by Gateway API conversion, for listeners with no routes.
    if (!isDNS1123Label(ns)) errs.push(`invalid namespace value ${quoteValue(ns)} in gateway`);
  }
  errs.push(...validateSidecarOrGatewayHostnamePart(name, isGateway));
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Host name matching (pkg/config/host/name.go).

/** host.Name.Matches: the two names overlap (either one may be a wildcard). */
export function hostMatches(n: string, o: string): boolean {
  const nw = isWildcard(n);
  const ow = isWildcard(o);
  if (nw) {
    if (ow) return n.length < o.length ? o.slice(1).endsWith(n.slice(1)) : n.slice(1).endsWith(o.slice(1));
    return o.endsWith(n.slice(1));
  }
  if (ow) return n.endsWith(o.slice(1));
  return n === o;
}

/** host.Name.SubsetOf: every name matched by `n` is matched by `o`. */
export function hostSubsetOf(n: string, o: string): boolean {
  const nw = isWildcard(n);
  const ow = isWildcard(o);
  if (nw) {
    if (ow) return n.length < o.length ? false : n.slice(1).endsWith(o.slice(1));
    return false;
  }
  if (ow) return n.endsWith(o.slice(1));
  return n === o;
}

// ---------------------------------------------------------------------------------------------
// IP addresses and prefixes, parsed with Go's net/netip as Istio does.

/** netutil.IsValidIPAddress. */
export function isValidIPAddress(s: string): boolean {
  return !('error' in goParseAddr(s));
}

/** agent.ValidateIPAddress. */
export function validateIPAddress(addr: string): string | undefined {
  return isValidIPAddress(addr) ? undefined : `${addr} is not a valid IP`;
}

/** agent.ValidateIPSubnet: `a.b.c.d/nn`, `x::y/nn`, or a single address. */
export function validateIPSubnet(subnet: string): string | undefined {
  if (subnet.split('/').length - 1 === 1) {
    return 'error' in goParsePrefix(subnet) ? `${subnet} is not a valid CIDR block` : undefined;
  }
  return validateIPAddress(subnet);
}

/** validation.ValidateUnixAddress: an absolute socket path, or an abstract socket `@name`. */
export function validateUnixAddress(addr: string): string | undefined {
  if (addr.length === 0) return 'unix address must not be empty';
  if (addr.startsWith('@')) return undefined;
  if (!addr.startsWith('/') || addr.endsWith('/')) return `${addr} is not an absolute path to a file`;
  return undefined;
}

export const UNIX_ADDRESS_PREFIX = 'unix://';

// ---------------------------------------------------------------------------------------------
// Ports and protocols.

/** agent.ValidatePort. */
export function validatePort(port: number): string | undefined {
  if (Number.isInteger(port) && port >= 1 && port <= 65535) return undefined;
  return `port number ${port} must be in the range 1..65535`;
}

/** validation.ValidatePortName: port names are DNS-1123 labels. */
export function validatePortName(name: string): string | undefined {
  return isDNS1123Label(name) ? undefined : `invalid port name: ${name}`;
}

/** The protocol names of pkg/config/protocol (parsed case-insensitively). */
export type Protocol = 'TCP' | 'UDP' | 'GRPC' | 'GRPC-Web' | 'HTTP' | 'HTTP_PROXY' | 'HTTP2' | 'HTTPS' | 'TLS' | 'Mongo' | 'Redis' | 'MySQL' | 'Unsupported';

const PROTOCOLS: Record<string, Protocol> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};

/** protocol.Parse. */
export function parseProtocol(s: string): Protocol {
  return PROTOCOLS[s.toLowerCase()] ?? 'Unsupported';
}

/** protocol.Instance.IsHTTP. */
export function isHTTPProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web';
}

/** protocol.Instance.IsTLS. */
export function isTLSProtocol(p: Protocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

/** protocol.Instance.IsTCP. */
export function isTCPProtocol(p: Protocol): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'Mongo' || p === 'Redis' || p === 'MySQL';
}

/** validation.ValidateProtocol: empty means "sniff"; anything else must be a known protocol. */
export function validateProtocol(protocol: string): string | undefined {
  if (protocol !== '' && parseProtocol(protocol) === 'Unsupported') return `unsupported protocol: ${protocol}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Durations.

/**
 * A `google.protobuf.Duration` field in nanoseconds. Istio decodes these with the legacy jsonpb
 * decoder, which uses time.ParseDuration, so `1m`, `1h30m` and `1.5s` are all accepted. Returns
 * `undefined` for text Go would reject (the schema check reports those).
 */
export function parseGoDurationNanos(text: unknown): bigint | undefined {
  if (typeof text !== 'string') return undefined;
  const d = parseGoDuration(text);
  return typeof d === 'bigint' ? d : undefined;
}

/** agent.ValidateDuration: at least 1ms, and a whole number of milliseconds. */
export function validateDuration(text: unknown): string | undefined {
  const ns = parseGoDurationNanos(text);
  if (ns === undefined) return undefined;
  if (ns < 1_000_000n) return 'duration must be greater than 1ms';
  if (ns % 1_000_000n !== 0n) return 'only durations to ms precision are supported';
  return undefined;
}

/**
 * agent.ValidateDuration where no schema rule checks the syntax first: text jsonpb cannot
 * decode is rejected with jsonpb's "bad Duration".
 */
export function durationError(text: unknown): string | undefined {
  const d = parseGoDuration(str(text));
  if (typeof d !== 'bigint') return `bad Duration: ${d.error}`;
  return validateDuration(str(text));
}

// ---------------------------------------------------------------------------------------------
// Percentages.

/** validation.validatePercentage: a `Percent` is 0, or within [0.0001, 100]. */
export function validatePercentage(percentage: unknown): string | undefined {
  if (!isObject(percentage)) return undefined;
  const v = num(percentage.value);
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) return `percentage ${goFloat(v)} is neither 0.0, nor in range [0.0001, 100.0]`;
  return undefined;
}

/** validation.ValidatePercent: an integer percentage within 0..100. */
export function validatePercent(val: number): string | undefined {
  if (val < 0 || val > 100) return `percentage ${val} is not in range 0..100`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Labels and selectors (pkg/config/labels/instance.go).

const QUALIFIED_NAME = '(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const DNS1123_LABEL_FMT = '[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?';
const TAG_KEY = new RegExp(`^(${DNS1123_LABEL_FMT}(?:\\.${DNS1123_LABEL_FMT})*/)?(${QUALIFIED_NAME})$`);
const LABEL_VALUE = new RegExp(`^(?:${QUALIFIED_NAME})?$`);

/** labels.validateTagKey: a Kubernetes label key (`[prefix/]name`). */
export function validateLabelKey(k: string): string | undefined {
  const m = TAG_KEY.exec(k);
  if (!m) return `invalid tag key: ${quoteValue(k)}`;
  const prefix = m[1] ?? '';
  if (prefix.length > 0 && prefix.length - 1 > 253) return `invalid tag key: ${quoteValue(k)} (DNS prefix is too long)`;
  if ((m[2] ?? '').length > 63) return `invalid tag key: ${quoteValue(k)} (name is too long)`;
  return undefined;
}

/**
 * labels.Instance.Validate: label keys and values. Istio checks the value's characters but, unlike
 * Kubernetes, not its length.
 */
export function validateLabelValue(v: string): string | undefined {
  return LABEL_VALUE.test(v) ? undefined : `invalid tag value: ${quoteValue(v)}`;
}

/** Reports labels.Instance.Validate findings for a label map at `path`. */
export function reportLabels(report: Reporter, path: Path, labels: unknown, prefix = ''): void {
  for (const [k, v] of entries(labels)) {
    const keyErr = validateLabelKey(k);
    if (keyErr) report.error([...path, k], prefix + keyErr, 'label keys are `[dns-prefix/]name`: alphanumerics, `-`, `_` and `.`, starting and ending with an alphanumeric; name at most 63 characters');
    const valErr = validateLabelValue(str(v));
    if (valErr) report.error([...path, k], prefix + valErr, 'label values are empty or alphanumerics, `-`, `_` and `.`, starting and ending with an alphanumeric');
  }
}

export interface Finding {
  path: Path;
  message: string;
  fix: string;
}

/**
 * validation.validateWorkloadSelector (istio.type.v1beta1.WorkloadSelector, `matchLabels`) and
 * ValidateAlphaWorkloadSelector (networking WorkloadSelector, `labels`): no empty keys, no `*`;
 * a selector without labels is a warning. Returns the findings rather than reporting them, because
 * Sidecar, ServiceEntry and EnvoyFilter stop at a selector error (and word the warning differently).
 */
export function checkWorkloadSelector(selector: unknown, labelsField: 'matchLabels' | 'labels', path: Path): { errors: Finding[]; emptyWarning: boolean } {
  const errors: Finding[] = [];
  if (!isObject(selector)) return { errors, emptyWarning: false };
  const labels = selector[labelsField];
  for (const [k, v] of entries(labels)) {
    const pair = quoteValue(`${k}=${str(v)}`);
    const at = [...path, labelsField, k];
    if (k === '') errors.push({ path: at, message: `empty key is not supported in selector: ${pair}`, fix: 'give the label a name' });
    if (k.includes('*') || str(v).includes('*')) {
      errors.push({ path: at, message: `wildcard is not supported in selector: ${pair}`, fix: 'selectors match labels exactly; list the exact label value' });
    }
  }
  return { errors, emptyWarning: entries(labels).length === 0 };
}

/** validation.validateWorkloadSelector, reported: errors, and a warning for a selector without labels. */
export function validateWorkloadSelector(selector: unknown, path: Path, report: Reporter): void {
  const { errors, emptyWarning } = checkWorkloadSelector(selector, 'matchLabels', path);
  for (const e of errors) report.error(e.path, e.message, e.fix);
  if (emptyWarning) report.warn(path, 'workload selector specified without labels', 'add matchLabels, or remove the selector to target the whole namespace');
}

/** validation.validateOneOfSelectorType. Pass `targetRef: false` for kinds without it. */
export function validateOneOfSelectorType(spec: Obj, report: Reporter, fields: { targetRef: boolean } = { targetRef: true }): void {
  const present: string[] = [];
  if (msg(spec.selector)) present.push('selector');
  if (fields.targetRef && msg(spec.targetRef)) present.push('targetRef');
  if (nonEmpty(spec.targetRefs)) present.push('targetRefs');
  if (present.length > 1) {
    report.error(['spec', present[present.length - 1]!], 'only one of targetRefs or workloadSelector can be set', `keep one of ${present.join(', ')}`);
  }
}

const ALLOWED_TARGET_REFS: readonly { group: string; version: string; kind: string }[] = [
  { group: '', version: 'v1', kind: 'Service' },
  { group: 'networking.istio.io', version: 'v1', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'GatewayClass' },
];
const canonicalGroup = (g: string): string => (g === '' ? 'core' : g);
/** How Go prints `allowedTargetRefs` (a slice of GroupVersionKind) with %v. */
const ALLOWED_TARGET_REFS_TEXT = `[${ALLOWED_TARGET_REFS.map((r) => `${canonicalGroup(r.group)}/${r.version}/${r.kind}`).join(' ')}]`;

/** validation.validatePolicyTargetReference. */
export function validatePolicyTargetReference(ref: unknown, path: Path, report: Reporter): void {
  const r = msg(ref);
  if (!r) return;
  const group = str(r.group);
  const kind = str(r.kind);
  if (str(r.name) === '') report.error([...path, 'name'], 'targetRef name must be set', 'set the name of the Gateway, GatewayClass, Service or ServiceEntry this policy attaches to');
  if (str(r.namespace) !== '') {
    report.error([...path, 'namespace'], 'targetRef namespace must not be set; cross namespace referencing is not supported', "remove namespace; the target must be in the policy's namespace");
  }
  const allowed = ALLOWED_TARGET_REFS.some((a) => a.kind === kind && canonicalGroup(a.group) === canonicalGroup(group));
  if (!allowed) {
    report.error(path, `targetRef must be to one of ${ALLOWED_TARGET_REFS_TEXT} but was ${group}/${kind}`, 'target a Gateway or GatewayClass (group gateway.networking.k8s.io), a Service (group "") or a ServiceEntry (group networking.istio.io)');
  }
}

/** validation.validatePolicyTargetReferences. */
export function validatePolicyTargetReferences(refs: unknown, path: Path, report: Reporter): void {
  msgList(refs).forEach((r, i) => validatePolicyTargetReference(r, [...path, i], report));
}

/**
 * The workload selection every policy kind checks first (AuthorizationPolicy,
 * RequestAuthentication, Telemetry, WasmPlugin, TrafficExtension): validateOneOfSelectorType,
 * validateWorkloadSelector, validatePolicyTargetReference(s), in Istio's order.
 */
export function validatePolicySelection(spec: Obj, report: Reporter, fields: { targetRef: boolean } = { targetRef: true }): void {
  validateOneOfSelectorType(spec, report, fields);
  validateWorkloadSelector(spec.selector, ['spec', 'selector'], report);
  if (fields.targetRef) validatePolicyTargetReference(spec.targetRef, ['spec', 'targetRef'], report);
  validatePolicyTargetReferences(spec.targetRefs, ['spec', 'targetRefs'], report);
}

// ---------------------------------------------------------------------------------------------
// exportTo (validation.go: validateExportTo, pkg/config/visibility).

/** visibility.Instance.Validate. */
function validateVisibility(v: string): string | undefined {
  if (v === '.' || v === '*') return undefined;
  if (v === '~') return 'exportTo ~ (none) is not allowed for Istio configuration objects';
  if (!isDNS1123Label(v)) return 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry';
  return undefined;
}

/**
 * validation.validateExportTo: entries are `.`, `*`, `~` (ServiceEntry only) or namespace names;
 * no duplicates (`.` counts as the resource's own namespace); `*` and `~` must stand alone; a
 * DestinationRule with a workloadSelector may only be exported to its own namespace.
 */
export function reportExportTo(
  report: Reporter,
  path: Path,
  namespace: string,
  exportTo: unknown,
  isServiceEntry: boolean,
  isDestinationRuleWithSelector: boolean,
): void {
  const items = list(exportTo).map((e) => str(e));
  if (items.length === 0) return;
  const fix = 'list each namespace once; use `.` for this namespace, `*` for all (alone)' + (isServiceEntry ? ', `~` for none (alone)' : '');
  const set = new Set<string>();
  items.forEach((e, i) => {
    const key = e === '.' ? namespace : e;
    if (set.has(key)) {
      if (key !== e) report.error([...path, i], `duplicate entries in exportTo: . and current namespace ${namespace}`, fix);
      else report.error([...path, i], `duplicate entries in exportTo for entry ${e}`, fix);
    } else if (isServiceEntry && e === '~') {
      set.add(key);
    } else {
      const err = validateVisibility(key);
      if (err) report.error([...path, i], err, fix);
      else set.add(key);
    }
  });
  if (isDestinationRuleWithSelector && set.size > 0) {
    if (set.has(namespace)) {
      if (set.size > 1) report.error(path, 'destination rule with workload selector cannot have multiple entries in exportTo', 'export a DestinationRule with a workloadSelector only to its own namespace (`.`)');
    } else {
      report.error(path, 'destination rule with workload selector cannot have exportTo beyond current namespace', 'export a DestinationRule with a workloadSelector only to its own namespace (`.`)');
    }
  }
  if (set.has('*') && items.length > 1) report.error(path, 'cannot have both public (*) and non-public exportTo values for a resource', 'use `*` alone, or list namespaces without `*`');
  if (set.has('~') && items.length > 1) report.error(path, 'cannot export service entry to no one (~) and someone', 'use `~` alone, or list namespaces without `~`');
}

// ---------------------------------------------------------------------------------------------
// HTTP status codes and headers.

/**
 * The codes Go's net/http.StatusText knows. Istio accepts a numeric `retryOn` token only if
 * StatusText returns a non-empty text for it (agent.ValidateHTTPRetry), so this table decides
 * validity: 306 and unassigned codes such as 420 or 599 are absent on purpose.
 */
export const GO_STATUS_TEXT: ReadonlyMap<number, string> = new Map([
  [100, 'Continue'], [101, 'Switching Protocols'], [102, 'Processing'], [103, 'Early Hints'],
  [200, 'OK'], [201, 'Created'], [202, 'Accepted'], [203, 'Non-Authoritative Information'], [204, 'No Content'],
  [205, 'Reset Content'], [206, 'Partial Content'], [207, 'Multi-Status'], [208, 'Already Reported'], [226, 'IM Used'],
  [300, 'Multiple Choices'], [301, 'Moved Permanently'], [302, 'Found'], [303, 'See Other'], [304, 'Not Modified'],
  [305, 'Use Proxy'], [307, 'Temporary Redirect'], [308, 'Permanent Redirect'],
  [400, 'Bad Request'], [401, 'Unauthorized'], [402, 'Payment Required'], [403, 'Forbidden'], [404, 'Not Found'],
  [405, 'Method Not Allowed'], [406, 'Not Acceptable'], [407, 'Proxy Authentication Required'], [408, 'Request Timeout'],
  [409, 'Conflict'], [410, 'Gone'], [411, 'Length Required'], [412, 'Precondition Failed'], [413, 'Request Entity Too Large'],
  [414, 'Request URI Too Long'], [415, 'Unsupported Media Type'], [416, 'Requested Range Not Satisfiable'],
  [417, 'Expectation Failed'], [418, "I'm a teapot"], [421, 'Misdirected Request'], [422, 'Unprocessable Entity'],
  [423, 'Locked'], [424, 'Failed Dependency'], [425, 'Too Early'], [426, 'Upgrade Required'], [428, 'Precondition Required'],
  [429, 'Too Many Requests'], [431, 'Request Header Fields Too Large'], [451, 'Unavailable For Legal Reasons'],
  [500, 'Internal Server Error'], [501, 'Not Implemented'], [502, 'Bad Gateway'], [503, 'Service Unavailable'],
  [504, 'Gateway Timeout'], [505, 'HTTP Version Not Supported'], [506, 'Variant Also Negotiates'], [507, 'Insufficient Storage'],
  [508, 'Loop Detected'], [510, 'Not Extended'], [511, 'Network Authentication Required'],
]);

/** Go's http.StatusText: `''` for codes it does not know. */
export function goStatusText(code: number): string {
  return GO_STATUS_TEXT.get(code) ?? '';
}

// RFC 7230 token characters, written exactly as Istio's Go character class. Note `+-.` is a
// range, so `,` is accepted too, as it is by Istio.
const VALID_HEADER_NAME = /^[!#$%&'*+-.^_`|~A-Za-z0-9]+$/;
const VALID_PROBE_HEADER_NAME = /^[-A-Za-z0-9]+$/;
const VALID_STRICT_HEADER_NAME = /^[-_A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);

/** pkg/jwt: ToRoutingClaim(...).Match — `@request.auth.claims.x` or `@request.auth.claims[x]`. */
export function isJwtClaimRoute(name: string): boolean {
  const prefix = '@request.auth.claims';
  if (!name.toLowerCase().startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  if (rest.startsWith('.') && rest.length > 1) return true;
  return rest.startsWith('[') && rest.endsWith(']') && rest.length > 2;
}

/** validation.ValidateStrictHTTPHeaderName. */
export function validateStrictHTTPHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!VALID_STRICT_HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** validation.ValidateProbeHeaderName (Kubernetes probe header rules). */
export function validateProbeHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!VALID_PROBE_HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** validation.ValidateCORSHTTPHeaderName: a token, or `*`. */
export function validateCORSHTTPHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name === '*') return undefined;
  if (!VALID_HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** validation.ValidateHTTPHeaderNameOrJwtClaimRoute: match keys may be tokens, pseudo-headers or JWT claims. */
export function validateHTTPHeaderNameOrJwtClaimRoute(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name)) return undefined;
  if (PSEUDO_HEADERS.has(name)) return undefined;
  if (!VALID_HEADER_NAME.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}

/** validation.isInternalHeader. */
function isInternalHeader(name: string): boolean {
  return name.startsWith(':') || name.toLowerCase() === 'host';
}

/** validation.isAuthorityHeader. */
export function isAuthorityHeader(name: string): boolean {
  const l = name.toLowerCase();
  return l === ':authority' || l === 'host';
}

/** validation.ValidateHTTPHeaderWithAuthorityOperationName: request set/add (Host/:authority become a rewrite). */
export function validateHTTPHeaderWithAuthorityOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isInternalHeader(name) && !isAuthorityHeader(name)) return `invalid header ${quoteValue(name)}: header cannot have ":" prefix`;
  return undefined;
}

/** validation.ValidateHTTPHeaderOperationName: request remove and all response operations. */
export function validateHTTPHeaderOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header ${quoteValue(name)}: cannot set Host header`;
  if (isInternalHeader(name)) return `invalid header ${quoteValue(name)}: header cannot have ":" prefix`;
  return undefined;
}

// eslint-disable-next-line no-control-regex
const HEADER_VALUE_CHARS = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

// Parser states of header_value_validator.go.
const S = {
  Literal: 0,
  VariableName: 1,
  ExpectArray: 2,
  ExpectString: 3,
  String: 4,
  ExpectArrayDelimiterOrEnd: 5,
  ExpectArgsEnd: 6,
  ExpectVariableEnd: 7,
} as const;

/**
 * header_value_validator.go: validateHeaderValue, a port of Envoy's header formatter parser
 * (`%VAR%`, `%VAR(args)%`, `%%`). Only the syntax is checked, not the variable names.
 */
function validateHeaderFormatter(value: string): string | undefined {
  let state: number = S.Literal;
  for (let pos = 0; pos < value.length; pos++) {
    const ch = value[pos];
    const hasNext = pos + 1 < value.length;
    switch (state) {
      case S.Literal:
        if (ch !== '%') break;
        if (!hasNext) return 'invalid header configuration. Un-escaped %';
        if (value[pos + 1] === '%') {
          pos++;
          break;
        }
        state = S.VariableName;
        break;
      case S.VariableName:
        if (ch === '%') state = S.Literal;
        else if (ch === '(') state = S.ExpectArray;
        break;
      case S.ExpectArray:
        if (ch === '[') state = S.ExpectString;
        else if (ch !== ' ') state = S.String;
        break;
      case S.ExpectArrayDelimiterOrEnd:
        if (ch === ',') state = S.ExpectString;
        else if (ch === ']') state = S.ExpectArgsEnd;
        else if (ch !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case S.ExpectString:
        if (ch === '"') state = S.String;
        else if (ch !== ' ') return 'invalid header configuration. Expecting \'"\'';
        break;
      case S.String:
        if (ch === '\\') {
          if (!hasNext) return 'invalid header configuration. Un-terminated backslash in JSON string';
          pos++;
        } else if (ch === ')') state = S.ExpectVariableEnd;
        else if (ch === '"') state = S.ExpectArrayDelimiterOrEnd;
        break;
      case S.ExpectArgsEnd:
        if (ch === ')') state = S.ExpectVariableEnd;
        else if (ch !== ' ') return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        break;
      case S.ExpectVariableEnd:
        if (ch === '%') state = S.Literal;
        else if (ch !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  if (state !== S.Literal) return `invalid header configuration. Un-terminated variable expression '${value}'`;
  return undefined;
}

/** validation.ValidateHTTPHeaderValue: no control characters, and well-formed `%VAR%` expressions. */
export function validateHTTPHeaderValue(value: string): string | undefined {
  if (!HEADER_VALUE_CHARS.test(value)) return `header value configuration ${value} is invalid`;
  const err = validateHeaderFormatter(value);
  if (err) return `header value configuration: ${err}`;
  return undefined;
}

export const HEADER_VALUE_FIX = 'escape a literal `%` as `%%`, close every `%VARIABLE%`, and remove control characters';

// ---------------------------------------------------------------------------------------------
// Object metadata (validation.go: validateMetadata, wrapped around every kind's validator).

const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const ALWAYS_REJECT_ANNOTATION = 'internal.istio.io/webhook-always-reject';
const INTERNAL_PARENT_NAMESPACE = 'internal.istio.io/parent-namespace';
const INTERNAL_PARENT_NAMES = 'internal.istio.io/parents';

/**
 * validation.validateMetadata / checkDryRunAnnotation: annotations Istio rejects before looking
 * at the spec. `authzAction` is the AuthorizationPolicy action for that kind, and `undefined` for
 * every other kind (which may not carry `istio.io/dry-run` at all). Istio stops at the first of
 * these problems and then skips the kind's own checks, so this returns false when the caller
 * must stop.
 */
export function validateMetadata(ctx: SemanticContext, authzAction?: string): boolean {
  const { metadata } = ctx.resource;
  const annotations = metadata.annotations ?? {};
  const where = `${metadata.namespace}/${metadata.name}`;
  const at = (key: string): Path => ['metadata', 'annotations', key];
  if (Object.hasOwn(annotations, DRY_RUN_ANNOTATION)) {
    const val = annotations[DRY_RUN_ANNOTATION] ?? '';
    if (authzAction === undefined) {
      ctx.report.error(at(DRY_RUN_ANNOTATION), `${where} has unsupported annotation ${DRY_RUN_ANNOTATION}, please remove the annotation`, `only AuthorizationPolicy supports ${DRY_RUN_ANNOTATION}; remove the annotation`);
      return false;
    }
    if (authzAction !== 'ALLOW' && authzAction !== 'DENY') {
      ctx.report.error(at(DRY_RUN_ANNOTATION), `the annotation ${DRY_RUN_ANNOTATION} currently only supports action ALLOW/DENY, found action ${authzAction} in ${where}`, 'remove the annotation, or use it on an ALLOW or DENY policy');
      return false;
    }
    if (parseGoBool(val) === undefined) {
      ctx.report.error(at(DRY_RUN_ANNOTATION), `${where} has annotation ${DRY_RUN_ANNOTATION} with invalid value (${showValue(val)}): strconv.ParseBool: parsing ${quoteValue(val)}: invalid syntax`, 'use "true" or "false"');
      return false;
    }
  }
  if (Object.hasOwn(annotations, ALWAYS_REJECT_ANNOTATION)) {
    ctx.report.error(at(ALWAYS_REJECT_ANNOTATION), `${quoteValue(ALWAYS_REJECT_ANNOTATION)} annotation found, rejecting`, 'remove this internal annotation');
    return false;
  }
  for (const key of [INTERNAL_PARENT_NAMESPACE, INTERNAL_PARENT_NAMES]) {
    if (Object.hasOwn(annotations, key)) {
      ctx.report.error(at(key), `${quoteValue(key)} annotation found, this may not be set by users`, 'remove this internal annotation; Istio sets it only on configuration it generates');
      return false;
    }
  }
  return true;
}

/** The `internal.istio.io/*-semantics` annotations mark config converted from the Gateway API. */
export function annotation(ctx: SemanticContext, key: string): string | undefined {
  const a = ctx.resource.metadata.annotations ?? {};
  return Object.hasOwn(a, key) ? a[key] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Regular expressions.

/**
 * validation.validateStringRegexp: a pattern Envoy will compile. Istio compiles with Go's RE2-based
 * regexp package; we compile with RE2 itself, so lookarounds and backreferences are rejected as in
 * Envoy. Errors are prefixed with the quoted field name (`"uri": ...`) as Istio does.
 */
export function validateStringRegexp(re: string, where: string): string | undefined {
  // Envoy caps RE2 program size; Istio approximates it by the pattern's byte length.
  if (byteLength(re) > 1024) return `${quoteValue(where)}: regex is too large, max length allowed is 1024`;
  const err = re2Error(re);
  if (err === undefined) return undefined;
  return `${quoteValue(where)}: ${err}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`;
}
