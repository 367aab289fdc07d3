/**
 * Helpers shared by the security, telemetry and extension validators: how Istio's webhook
 * decodes a spec (golang/protobuf jsonpb), selectors and target references, and the Go
 * standard-library parsers whose exact acceptance Istio's checks inherit (net/netip,
 * net/url, strconv, time.ParseDuration).
 *
 * Ported from istio/istio pkg/config/validation/validation.go and pkg/config/security/security.go.
 */
import type { PathSegment } from '../../load/resource.js';
import type { Reporter, SemanticContext } from '../types.js';

export type Path = readonly PathSegment[];

// ---------------------------------------------------------------------------------------------
// Reading a spec the way the webhook sees it.
//
// The webhook turns the object into a Go proto with jsonpb (protomarshal.ApplyJSON). Three
// consequences every check below depends on:
//  * an empty list (`rules: []`) decodes to a nil slice, exactly like an absent field;
//  * `null` for a singular message field means "absent", but `null` as a list element or map
//    value becomes an empty message (so `from: [null]` is a `from` entry without `source`);
//  * an empty map (`portLevelMtls: {}`) stays a non-nil empty map.
// ---------------------------------------------------------------------------------------------

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A singular message field: `undefined` when absent or `null`. */
export function msg(v: unknown): Obj | undefined {
  return isObj(v) ? v : undefined;
}

/** Elements of a repeated message field; `null` elements read as empty messages. */
export function msgList(v: unknown): Obj[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => (isObj(x) ? x : {}));
}

/** True when a repeated field is set and non-empty (jsonpb cannot tell `[]` from absent). */
export function hasItems(v: unknown): v is unknown[] {
  return Array.isArray(v) && v.length > 0;
}

/** Elements of a repeated string field; `null` elements read as `''`. */
export function strList(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) => str(x));
}

/** A string scalar; absent and `null` read as `''` (proto3 default). */
export function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : String(v);
}

/** A number scalar; absent and `null` read as 0. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return 0;
}

/** True when a map field is set (an empty map is still set). */
export function isMapSet(v: unknown): v is Obj {
  return isObj(v);
}

/** UTF-8 byte length: Go's `len(string)`, which Istio's size limits use. */
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
// Metadata checks that Istio's webhook runs before every kind (validation.go: validateMetadata).
// ---------------------------------------------------------------------------------------------

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const ALWAYS_REJECT_ANNOTATION = 'internal.istio.io/webhook-always-reject';
const INTERNAL_PARENT_NAMESPACE = 'internal.istio.io/parent-namespace';
const INTERNAL_PARENT_NAMES = 'internal.istio.io/parents';

/**
 * validation.go: validateMetadata / checkDryRunAnnotation. `authzAction` is the
 * AuthorizationPolicy action for that kind, and `undefined` for every other kind (which may
 * not carry `istio.io/dry-run` at all). Istio stops at the first of these problems and then
 * skips the kind's own checks, so this returns false when the caller must stop.
 */
export function validateIstioMetadata(ctx: SemanticContext, authzAction?: string): boolean {
  const md = ctx.resource.metadata;
  const annotations = md.annotations ?? {};
  const where = `${md.namespace}/${md.name}`;
  const has = (a: string): boolean => Object.prototype.hasOwnProperty.call(annotations, a);
  if (has(DRY_RUN_ANNOTATION)) {
    const path = ['metadata', 'annotations', DRY_RUN_ANNOTATION];
    const val = annotations[DRY_RUN_ANNOTATION] ?? '';
    if (authzAction === undefined) {
      ctx.report.error(path, `${where} has unsupported annotation ${DRY_RUN_ANNOTATION}, please remove the annotation`, `only AuthorizationPolicy supports ${DRY_RUN_ANNOTATION}; remove the annotation`);
      return false;
    }
    if (authzAction === 'ALLOW' || authzAction === 'DENY') {
      if (parseGoBool(val) === undefined) {
        ctx.report.error(path, `${where} has annotation ${DRY_RUN_ANNOTATION} with invalid value (${val}): strconv.ParseBool: parsing ${goQuote(val)}: invalid syntax`, 'use "true" or "false"');
        return false;
      }
    } else {
      ctx.report.error(path, `the annotation ${DRY_RUN_ANNOTATION} currently only supports action ALLOW/DENY, found action ${authzAction} in ${where}`, 'remove the annotation, or use it on an ALLOW or DENY policy');
      return false;
    }
  }
  if (has(ALWAYS_REJECT_ANNOTATION)) {
    ctx.report.error(['metadata', 'annotations', ALWAYS_REJECT_ANNOTATION], `${goQuote(ALWAYS_REJECT_ANNOTATION)} annotation found, rejecting`, 'remove the annotation');
    return false;
  }
  for (const a of [INTERNAL_PARENT_NAMESPACE, INTERNAL_PARENT_NAMES]) {
    if (has(a)) {
      ctx.report.error(['metadata', 'annotations', a], `${goQuote(a)} annotation found, this may not be set by users`, 'remove the annotation; it is reserved for configuration Istio generates');
      return false;
    }
  }
  return true;
}

/** Go strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  switch (s) {
    case '1': case 't': case 'T': case 'TRUE': case 'true': case 'True':
      return true;
    case '0': case 'f': case 'F': case 'FALSE': case 'false': case 'False':
      return false;
    default:
      return undefined;
  }
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** Go strconv.Quote (ASCII control characters escaped the way Go prints them). */
export function goQuote(s: string): string {
  let out = '"';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (GO_ESCAPES[c] !== undefined) out += GO_ESCAPES[c];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Selectors and target references.
// ---------------------------------------------------------------------------------------------

/**
 * validation.go: validateWorkloadSelector (istio.type.v1beta1.WorkloadSelector, `matchLabels`).
 * A selector without labels is a warning: it selects every workload of the namespace.
 */
export function validateWorkloadSelector(selector: unknown, path: Path, report: Reporter): void {
  const sel = msg(selector);
  if (!sel) return;
  const labels = isObj(sel.matchLabels) ? sel.matchLabels : {};
  for (const [k, v] of Object.entries(labels)) {
    const value = str(v);
    if (k === '') {
      report.error([...path, 'matchLabels', k], `empty key is not supported in selector: ${goQuote(`${k}=${value}`)}`, 'give the label a name');
    }
    if (k.includes('*') || value.includes('*')) {
      report.error([...path, 'matchLabels', k], `wildcard is not supported in selector: ${goQuote(`${k}=${value}`)}`, 'selectors match labels exactly; list the exact label value');
    }
  }
  if (Object.keys(labels).length === 0) {
    report.warn(path, 'workload selector specified without labels', 'add matchLabels, or remove the selector to target the whole namespace');
  }
}

/**
 * validation.go: ValidateAlphaWorkloadSelector (networking WorkloadSelector with `labels`, used
 * by EnvoyFilter). Reports errors; returns true when the selector has no labels (a warning the
 * caller words).
 */
export function validateAlphaWorkloadSelector(selector: unknown, path: Path, report: Reporter): boolean {
  const sel = msg(selector);
  if (!sel) return false;
  const labels = isObj(sel.labels) ? sel.labels : {};
  for (const [k, v] of Object.entries(labels)) {
    const value = str(v);
    if (k === '') {
      report.error([...path, 'labels', k], `empty key is not supported in selector: ${goQuote(`${k}=${value}`)}`, 'give the label a name');
    }
    if (k.includes('*') || value.includes('*')) {
      report.error([...path, 'labels', k], `wildcard is not supported in selector: ${goQuote(`${k}=${value}`)}`, 'selectors match labels exactly; list the exact label value');
    }
  }
  return Object.keys(labels).length === 0;
}

/** validation.go: validateOneOfSelectorType. Pass `targetRef: false` for kinds without it. */
export function validateOneOfSelectorType(spec: Obj, report: Reporter, fields: { targetRef: boolean } = { targetRef: true }): void {
  const present: string[] = [];
  if (msg(spec.selector)) present.push('selector');
  if (fields.targetRef && msg(spec.targetRef)) present.push('targetRef');
  if (hasItems(spec.targetRefs)) present.push('targetRefs');
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

/** validation.go: validatePolicyTargetReference. */
export function validatePolicyTargetReference(ref: unknown, path: Path, report: Reporter): void {
  const r = msg(ref);
  if (!r) return;
  const name = str(r.name);
  const namespace = str(r.namespace);
  const group = str(r.group);
  const kind = str(r.kind);
  if (name === '') report.error([...path, 'name'], 'targetRef name must be set', 'set the name of the Gateway, GatewayClass, Service or ServiceEntry this policy attaches to');
  if (namespace !== '') {
    report.error([...path, 'namespace'], 'targetRef namespace must not be set; cross namespace referencing is not supported', "remove namespace; the target must be in the policy's namespace");
  }
  const allowed = ALLOWED_TARGET_REFS.some((a) => a.kind === kind && canonicalGroup(a.group) === canonicalGroup(group));
  if (!allowed) {
    report.error(path, `targetRef must be to one of ${ALLOWED_TARGET_REFS_TEXT} but was ${group}/${kind}`, 'target a Gateway or GatewayClass (group gateway.networking.k8s.io), a Service (group "") or a ServiceEntry (group networking.istio.io)');
  }
}

/** validation.go: validatePolicyTargetReferences. */
export function validatePolicyTargetReferences(refs: unknown, path: Path, report: Reporter): void {
  msgList(refs).forEach((r, i) => validatePolicyTargetReference(r, [...path, i], report));
}

// ---------------------------------------------------------------------------------------------
// Go net/netip: ParseAddr and ParsePrefix, which authorization ipBlocks and source.ip use.
// ---------------------------------------------------------------------------------------------

interface GoAddr {
  is4: boolean;
  zone: string;
}

function parseIPv4Fields(s: string): string | undefined {
  let val = 0;
  let pos = 0;
  let digLen = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c >= '0' && c <= '9') {
      if (digLen === 1 && val === 0) return 'IPv4 field has octet with leading zero';
      val = val * 10 + (c.charCodeAt(0) - 48);
      digLen++;
      if (val > 255) return 'IPv4 field has value >255';
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') return 'IPv4 field must have at least one digit';
      if (pos === 3) return 'IPv4 address too long';
      pos++;
      val = 0;
      digLen = 0;
    } else {
      return 'unexpected character';
    }
  }
  if (pos < 3) return 'IPv4 address too short';
  return undefined;
}

function parseIPv6(input: string): GoAddr | string {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct !== -1) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return 'zone must be a non-empty string';
  }
  let ellipsis = -1;
  if (s.length >= 2 && s[0] === ':' && s[1] === ':') {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return { is4: false, zone };
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const c = s[off]!;
      const d = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : c >= 'a' && c <= 'f' ? c.charCodeAt(0) - 87 : c >= 'A' && c <= 'F' ? c.charCodeAt(0) - 55 : -1;
      if (d < 0) break;
      acc = acc * 16 + d;
      if (off > 3) return 'each colon-separated field must have at most 4 hex digits';
      if (acc > 0xffff) return 'IPv6 field has value >=2^16';
    }
    if (off === 0) return 'each colon-separated field must have at least one digit';
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) return 'embedded IPv4 address must replace the final 2 fields of the address';
      if (i + 4 > 16) return 'too many hex fields to fit an embedded IPv4 at the end of the address';
      const err = parseIPv4Fields(s);
      if (err) return err;
      s = '';
      i += 4;
      break;
    }
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ':') return 'unexpected character, want colon';
    if (s.length === 1) return 'colon must be followed by more characters';
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return 'multiple :: in address';
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return 'trailing garbage after address';
  if (i < 16) {
    if (ellipsis < 0) return 'address string too short';
  } else if (ellipsis >= 0) {
    return 'the :: must expand to at least one field of zeros';
  }
  return { is4: false, zone };
}

/** Go netip.ParseAddr: the address, or the error text. */
export function parseGoAddr(s: string): GoAddr | { error: string } {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '.') {
      const err = parseIPv4Fields(s);
      return err ? { error: `ParseAddr(${goQuote(s)}): ${err}` } : { is4: true, zone: '' };
    }
    if (c === ':') {
      const r = parseIPv6(s);
      return typeof r === 'string' ? { error: `ParseAddr(${goQuote(s)}): ${r}` } : r;
    }
    if (c === '%') return { error: `ParseAddr(${goQuote(s)}): missing IPv6 address` };
  }
  return { error: `ParseAddr(${goQuote(s)}): unable to parse IP` };
}

/** Go netip.ParsePrefix: undefined when valid, else the error text. */
export function goPrefixError(s: string): string | undefined {
  const prefixErr = (m: string): string => `netip.ParsePrefix(${goQuote(s)}): ${m}`;
  const slash = s.lastIndexOf('/');
  if (slash < 0) return prefixErr("no '/'");
  const ip = parseGoAddr(s.slice(0, slash));
  if ('error' in ip) return prefixErr(ip.error);
  if (!ip.is4 && ip.zone !== '') return prefixErr('IPv6 zones cannot be present in a prefix');
  const bitsStr = s.slice(slash + 1);
  if ((bitsStr.length > 1 && (bitsStr[0]! < '1' || bitsStr[0]! > '9')) || !/^[0-9]+$/.test(bitsStr)) {
    return prefixErr(`bad bits after slash: ${goQuote(bitsStr)}`);
  }
  const bits = Number(bitsStr);
  if (bits > (ip.is4 ? 32 : 128)) return prefixErr('prefix length out of range');
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// pkg/config/security/security.go: authorization value checks. Each returns the Go error text;
// `index` points at the offending list element when there is one.
// ---------------------------------------------------------------------------------------------

export interface ValueError {
  index?: number;
  message: string;
}

/** security.go: ValidateIPs (every bad entry is reported). */
export function validateIPs(ips: readonly string[]): ValueError[] {
  const out: ValueError[] = [];
  ips.forEach((v, index) => {
    if (v.includes('/')) {
      const err = goPrefixError(v);
      if (err) out.push({ index, message: `bad CIDR range (${v}): ${err}` });
    } else if ('error' in parseGoAddr(v)) {
      out.push({ index, message: `bad IP address (${v})` });
    }
  });
  return out;
}

/** strconv.ParseUint(s, 10, 32): the Go error text, or undefined. */
function parseUint32Error(s: string): string | undefined {
  if (!/^[0-9]+$/.test(s)) return `strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`;
  if (BigInt(s) > 0xffffffffn) return `strconv.ParseUint: parsing ${goQuote(s)}: value out of range`;
  return undefined;
}

/** security.go: ValidatePorts (every bad entry is reported). */
export function validatePorts(ports: readonly string[]): ValueError[] {
  const out: ValueError[] = [];
  ports.forEach((port, index) => {
    const err = parseUint32Error(port);
    if (err !== undefined || Number(port) > 65535) {
      // Go prints the nil error of an in-range-for-uint32 but > 65535 port as <nil>.
      out.push({ index, message: `bad port (${port}): ${err ?? '<nil>'}` });
    }
  });
  return out;
}

/** security.go: CheckEmptyValues (first empty value only). */
export function checkEmptyValues(key: string, values: readonly string[]): ValueError | undefined {
  const index = values.indexOf('');
  return index < 0 ? undefined : { index, message: `empty value not allowed, found in ${key}` };
}

/** security.go: CheckWildcardValues. */
export function checkWildcardValues(key: string, values: readonly string[]): ValueError | undefined {
  const empty = checkEmptyValues(key, values);
  if (empty) return empty;
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    const count = value.split('*').length - 1;
    if (count > 1) return { index, message: `at most one wildcard is allowed, found in ${key}: ${goQuote(value)}` };
    if (count === 1 && value !== '*' && !value.startsWith('*') && !value.endsWith('*')) {
      return { index, message: `wildcard is only allowed at the start or end, found in ${key}: ${goQuote(value)}` };
    }
  }
  return undefined;
}

/** security.go: CheckTrustDomainValues. */
export function checkTrustDomainValues(key: string, values: readonly string[]): ValueError | undefined {
  const w = checkWildcardValues(key, values);
  if (w) return w;
  const index = values.findIndex((v) => v.includes('/'));
  return index < 0 ? undefined : { index, message: `trust domain must not contain '/', found in ${key}: ${goQuote(values[index]!)}` };
}

/** security.go: CheckServiceAccount. */
export function checkServiceAccount(key: string, values: readonly string[]): ValueError | undefined {
  if (values.length > 16) return { message: 'may not have more than 16 values' };
  for (let index = 0; index < values.length; index++) {
    const value = values[index]!;
    if (value === '') return { index, message: `empty value not allowed, found in ${key}` };
    if (value.includes('*')) return { index, message: `wildcard not allowed, found in ${key}` };
    const segments = value.split('/').length - 1;
    if (segments !== 0 && segments !== 1) {
      return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found ${goQuote(value)} in ${key}` };
    }
    if (byteLength(value) > 320) return { index, message: `value cannot exceed 320 characters, found ${goQuote(value)} in ${key}` };
    const slash = value.indexOf('/');
    if (slash >= 0) {
      if (slash === 0) {
        return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace ${goQuote(value)} in ${key}` };
      }
      if (slash === value.length - 1) {
        return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount ${goQuote(value)} in ${key}` };
      }
    }
  }
  return undefined;
}

const MATCH_ONE_TEMPLATE = '{*}';
const MATCH_ANY_TEMPLATE = '{**}';
// RFC 3986 pchar minus `*`, `/`, `?` plus `=`: the literals Envoy's uri_template accepts.
const VALID_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** security.go: IsValidLiteral. */
export function isValidLiteral(glob: string): boolean {
  return VALID_LITERAL.test(glob);
}

/** security.go: ContainsPathTemplate. */
export function containsPathTemplate(value: string): boolean {
  return value.includes(MATCH_ONE_TEMPLATE) || value.includes(MATCH_ANY_TEMPLATE);
}

/** security.go: CheckValidPathTemplate. */
export function checkValidPathTemplate(key: string, paths: readonly string[]): ValueError | undefined {
  for (let index = 0; index < paths.length; index++) {
    const original = paths[index]!;
    const hasTemplate = containsPathTemplate(original);
    let foundMatchAny = false;
    const path = trimChar(original, '/');
    for (const glob of path.split('/')) {
      if (glob === MATCH_ONE_TEMPLATE && !foundMatchAny) continue;
      if (glob === MATCH_ANY_TEMPLATE && !foundMatchAny) {
        foundMatchAny = true;
        continue;
      }
      if ((glob === MATCH_ANY_TEMPLATE || glob === MATCH_ONE_TEMPLATE) && foundMatchAny) {
        return { index, message: `invalid or unsupported path ${path}, found in ${key}. {**} is not the last operator` };
      }
      if (glob.includes('{') || glob.includes('}')) {
        return { index, message: `invalid or unsupported path ${path}, found in ${key}. Contains '{' or '}' beyond a supported path template` };
      }
      if (hasTemplate && !isValidLiteral(glob)) {
        return { index, message: `invalid or unsupported path ${path}, found in ${key}. Contains segment ${glob} with invalid string literal` };
      }
    }
  }
  return undefined;
}

function trimChar(s: string, c: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && s[start] === c) start++;
  while (end > start && s[end - 1] === c) end--;
  return s.slice(start, end);
}

/** security.go: validateMapKey (`a[b]` with a non-empty name inside the brackets). */
function validateMapKey(key: string): string | undefined {
  const open = key.indexOf('[');
  if (key.endsWith(']') && open > 0 && open < key.length - 2) return undefined;
  return `bad key (${key}): should have format a[b]`;
}

/**
 * security.go: ValidateAttribute, for one `when` condition's `values` or `notValues`. Returns
 * the Go error (possibly several, for IP lists).
 */
export function validateAttribute(key: string, values: readonly string[]): ValueError[] {
  const empty = checkEmptyValues(key, values);
  if (empty) return [empty];
  const one = (e: ValueError | string | undefined): ValueError[] => (e === undefined ? [] : typeof e === 'string' ? [{ message: e }] : [e]);
  if (key.startsWith('request.headers')) return one(validateMapKey(key));
  switch (key) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip':
      return validateIPs(values);
    case 'source.namespace':
    case 'source.principal':
    case 'request.auth.principal':
    case 'request.auth.audiences':
    case 'request.auth.presenter':
    case 'connection.sni':
      return [];
    case 'source.serviceAccount':
      return one(checkServiceAccount(key, values));
    case 'source.trustDomain':
      return one(checkWildcardValues(key, values));
    case 'destination.port':
      return validatePorts(values);
    case 'destination.namespace':
      return one(`attribute ${key} is replaced by the metadata.namespace`);
    case 'destination.name':
    case 'destination.user':
      return one(`deprecated attribute ${key}: only supported in v1alpha1`);
    default:
      break;
  }
  if (key.startsWith('request.auth.claims')) return one(validateMapKey(key));
  if (key.startsWith('experimental.envoy.filters.')) return one(validateMapKey(key));
  if (key.startsWith('destination.labels')) return one(`attribute ${key} is replaced by the workload selector`);
  return one(`unknown attribute: ${key}`);
}

// ---------------------------------------------------------------------------------------------
// Go net/url: Parse and ParseRequestURI (JWT jwksUri, WasmPlugin url).
// ---------------------------------------------------------------------------------------------

export interface GoUrl {
  scheme: string;
  opaque: string;
  host: string;
  path: string;
  hasAuthority: boolean;
}

function isCtl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function getScheme(raw: string): { scheme: string; rest: string } | { error: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
    if ((c >= '0' && c <= '9') || c === '+' || c === '-' || c === '.') {
      if (i === 0) return { scheme: '', rest: raw };
      continue;
    }
    if (c === ':') {
      if (i === 0) return { error: 'missing protocol scheme' };
      return { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
    }
    return { scheme: '', rest: raw };
  }
  return { scheme: '', rest: raw };
}

const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

type EncodeMode = 'path' | 'host' | 'zone' | 'user' | 'fragment';

// net/url shouldEscape, only for the modes where it decides validity (host and zone).
function hostCharNeedsEscape(c: string): boolean {
  if (/^[a-zA-Z0-9]$/.test(c)) return false;
  if ("!$&'()*+,;=:[]<>\"".includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  return true;
}

/** net/url unescape: validates %-escapes (and, for hosts, the characters). */
function unescapeError(s: string, mode: EncodeMode): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      // Per RFC 6874 and net/url: in a host only non-ASCII bytes may be percent-encoded
      // (and %25 is the zone introducer).
      if (mode === 'host' && parseInt(s[i + 1]!, 16) < 8 && s.slice(i, i + 3) !== '%25') {
        return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      }
      if (mode === 'zone') {
        const v = parseInt(s.slice(i + 1, i + 3), 16);
        if (s.slice(i, i + 3) !== '%25' && v !== 0x20 && hostCharNeedsEscape(String.fromCharCode(v))) {
          return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
        }
      }
      i += 2;
    } else if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && hostCharNeedsEscape(c)) {
      return `invalid character ${goQuote(c)} in host name`;
    }
  }
  return undefined;
}

function validOptionalPort(port: string): boolean {
  if (port === '') return true;
  if (port[0] !== ':') return false;
  return /^[0-9]*$/.test(port.slice(1));
}

function parseHost(host: string): { host: string } | { error: string } {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) return { error: "missing ']' in host" };
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort)) return { error: `invalid port ${goQuote(colonPort)} after host` };
    const inside = host.slice(1, i);
    const zone = inside.indexOf('%25');
    const literal = zone >= 0 ? inside.slice(0, zone) : inside;
    // Since Go 1.25.2 (CVE-2025-47912) only IPv6 literals may be bracketed.
    const addr = parseGoAddr(literal);
    if ('error' in addr) return { error: `invalid host: ${addr.error}` };
    if (addr.is4) return { error: 'invalid IP-literal' };
    if (zone >= 0) {
      const e = unescapeError(host.slice(0, zone + 1), 'host') ?? unescapeError(inside.slice(zone), 'zone') ?? unescapeError(host.slice(i), 'host');
      if (e) return { error: e };
    } else {
      const e = unescapeError(host, 'host');
      if (e) return { error: e };
    }
    return { host };
  }
  const colon = host.lastIndexOf(':');
  if (colon !== -1) {
    const colonPort = host.slice(colon);
    if (!validOptionalPort(colonPort)) return { error: `invalid port ${goQuote(colonPort)} after host` };
  }
  const e = unescapeError(host, 'host');
  if (e) return { error: e };
  return { host };
}

function validUserinfo(s: string): boolean {
  for (const c of s) {
    if (/^[a-zA-Z0-9]$/.test(c)) continue;
    if ("-._:~!$&'()*+,;=%@".includes(c)) continue;
    return false;
  }
  return true;
}

function goUrlParseInternal(raw: string, viaRequest: boolean): GoUrl | { error: string } {
  if (isCtl(raw)) return { error: 'net/url: invalid control character in URL' };
  if (raw === '' && viaRequest) return { error: 'empty url' };
  if (raw === '*') return { scheme: '', opaque: '', host: '', path: '*', hasAuthority: false };
  const s = getScheme(raw);
  if ('error' in s) return s;
  const scheme = s.scheme.toLowerCase();
  let rest = s.rest;
  if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
  else {
    const q = rest.indexOf('?');
    if (q >= 0) rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, opaque: rest, host: '', path: '', hasAuthority: false };
    if (viaRequest) return { error: 'invalid URI for request' };
    const slash = rest.indexOf('/');
    const segment = slash >= 0 ? rest.slice(0, slash) : rest;
    if (segment.includes(':')) return { error: 'first path segment in URL cannot contain colon' };
  }
  let host = '';
  let hasAuthority = false;
  if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) {
      rest = authority.slice(slash);
      authority = authority.slice(0, slash);
    }
    const at = authority.lastIndexOf('@');
    const h = parseHost(at < 0 ? authority : authority.slice(at + 1));
    if ('error' in h) return h;
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!validUserinfo(userinfo)) return { error: 'net/url: invalid userinfo' };
      const e = unescapeError(userinfo, 'user');
      if (e) return { error: e };
    }
    host = h.host;
    hasAuthority = true;
  }
  const pe = unescapeError(rest, 'path');
  if (pe) return { error: pe };
  return { scheme, opaque: '', host, path: rest, hasAuthority };
}

/** Go url.Parse; errors read like Go's (`parse "<url>": <reason>`). */
export function goUrlParse(raw: string): GoUrl | { error: string } {
  const hash = raw.indexOf('#');
  const u = hash >= 0 ? raw.slice(0, hash) : raw;
  const r = goUrlParseInternal(u, false);
  if ('error' in r) return { error: `parse ${goQuote(u)}: ${r.error}` };
  if (hash >= 0) {
    const fe = unescapeError(raw.slice(hash + 1), 'fragment');
    if (fe) return { error: `parse ${goQuote(raw)}: ${fe}` };
  }
  return r;
}

/** Go url.ParseRequestURI. */
export function goUrlParseRequestURI(raw: string): GoUrl | { error: string } {
  const r = goUrlParseInternal(raw, true);
  if ('error' in r) return { error: `parse ${goQuote(raw)}: ${r.error}` };
  return r;
}

/** Port part of a parsed URL host (Go url.URL.Port). */
function urlPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return '';
  if (host.startsWith('[') && host.lastIndexOf(']') > colon) return '';
  return host.slice(colon + 1);
}

/** security.go: ParseJwksURI; undefined when Istio accepts the URI, else the error text. */
export function jwksUriError(uri: string): string | undefined {
  const u = goUrlParse(uri);
  if ('error' in u) return u.error;
  if (u.scheme !== 'http' && u.scheme !== 'https') return `URI scheme ${goQuote(u.scheme)} is not supported`;
  const port = urlPort(u.host);
  // strconv.Atoi on the digits url.Parse already validated: only overflow can fail.
  if (port !== '' && BigInt(port) > 9223372036854775807n) return `strconv.Atoi: parsing ${goQuote(port)}: value out of range`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Go time.ParseDuration (durations in protobuf JSON are decoded with it by jsonpb).
// ---------------------------------------------------------------------------------------------

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n,
  'μs': 1000n,
  ms: 1000000n,
  s: 1000000000n,
  m: 60000000000n,
  h: 3600000000000n,
};
const MAX_INT64 = (1n << 63n) - 1n;

/** Go time.ParseDuration, in nanoseconds; or the Go error text. */
export function parseGoDuration(orig: string): bigint | { error: string } {
  const invalid = { error: `time: invalid duration ${goQuote(orig)}` };
  let s = orig;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return invalid;
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0]! >= '0' && s[0]! <= '9'))) return invalid;
    let i = 0;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
    const intDigits = s.slice(0, i);
    s = s.slice(i);
    const pre = intDigits !== '';
    let v = pre ? BigInt(intDigits) : 0n;
    if (v > 1n << 63n) return invalid;
    let fracDigits = '';
    let post = false;
    if (s !== '' && s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      while (j < s.length && s[j]! >= '0' && s[j]! <= '9') j++;
      fracDigits = s.slice(0, j);
      s = s.slice(j);
      post = fracDigits !== '';
    }
    if (!pre && !post) return invalid;
    let u = 0;
    while (u < s.length && !(s[u] === '.' || (s[u]! >= '0' && s[u]! <= '9'))) u++;
    if (u === 0) return { error: `time: missing unit in duration ${goQuote(orig)}` };
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNIT_NS[unitName];
    if (unit === undefined) return { error: `time: unknown unit ${goQuote(unitName)} in duration ${goQuote(orig)}` };
    if (v > (1n << 63n) / unit) return invalid;
    v *= unit;
    if (fracDigits !== '') {
      // Go accumulates the fraction as float64(f) * (unit / scale), truncated.
      const f = Number(fracDigits.slice(0, 18));
      const scale = 10 ** Math.min(fracDigits.length, 18);
      v += BigInt(Math.trunc(f * (Number(unit) / scale)));
      if (v > 1n << 63n) return invalid;
    }
    d += v;
    if (d > 1n << 63n) return invalid;
  }
  if (neg) return -d;
  if (d > MAX_INT64) return invalid;
  return d;
}

/**
 * agent/validation.go: ValidateDuration, applied to a duration string as jsonpb decodes it
 * (a string the decoder cannot read is rejected with jsonpb's "bad Duration").
 */
export function durationError(text: unknown): string | undefined {
  const d = parseGoDuration(str(text));
  if (typeof d !== 'bigint') return `bad Duration: ${d.error}`;
  if (d < 1000000n) return 'duration must be greater than 1ms';
  if (d % 1000000n !== 0n) return 'only durations to ms precision are supported';
  return undefined;
}

/** validation.go: ValidateStrictHTTPHeaderName. */
export function strictHeaderNameError(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (!/^[-_A-Za-z0-9]+$/.test(name)) return `header name ${name} is not a valid header name`;
  return undefined;
}
