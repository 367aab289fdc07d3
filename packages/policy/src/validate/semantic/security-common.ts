/**
 * The value checks of istio/istio pkg/config/security/security.go, which AuthorizationPolicy and
 * RequestAuthentication validation call: IPs and CIDRs, ports, principals and namespaces, path
 * templates, `when` attributes, and the JWKS URI.
 */
import { byteLength } from './common.js';
import { goAtoi, goParseAddr, goParsePrefix, goUrlParse, quoteValue, showValue } from '../go-compat.js';

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
      const prefix = goParsePrefix(v);
      if ('error' in prefix) out.push({ index, message: `bad CIDR range (${v}): ${prefix.error}` });
    } else if ('error' in goParseAddr(v)) {
      out.push({ index, message: `bad IP address (${v})` });
    }
  });
  return out;
}

/** strconv.ParseUint(s, 10, 32): the Go error text, or undefined. */
function parseUint32Error(s: string): string | undefined {
  if (!/^[0-9]+$/.test(s)) return `strconv.ParseUint: parsing ${quoteValue(s)}: invalid syntax`;
  if (BigInt(s) > 0xffffffffn) return `strconv.ParseUint: parsing ${quoteValue(s)}: value out of range`;
  return undefined;
}

/** security.go: ValidatePorts (every bad entry is reported). */
export function validatePorts(ports: readonly string[]): ValueError[] {
  const out: ValueError[] = [];
  ports.forEach((port, index) => {
    const err = parseUint32Error(port);
    if (err !== undefined || Number(port) > 65535) {
      // Go prints the nil error of an in-range-for-uint32 but > 65535 port as <nil>.
      out.push({ index, message: `bad port (${showValue(port)}): ${err ?? '<nil>'}` });
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
    if (count > 1) return { index, message: `at most one wildcard is allowed, found in ${key}: ${quoteValue(value)}` };
    if (count === 1 && value !== '*' && !value.startsWith('*') && !value.endsWith('*')) {
      return { index, message: `wildcard is only allowed at the start or end, found in ${key}: ${quoteValue(value)}` };
    }
  }
  return undefined;
}

/** security.go: CheckTrustDomainValues. */
export function checkTrustDomainValues(key: string, values: readonly string[]): ValueError | undefined {
  const w = checkWildcardValues(key, values);
  if (w) return w;
  const index = values.findIndex((v) => v.includes('/'));
  return index < 0 ? undefined : { index, message: `trust domain must not contain '/', found in ${key}: ${quoteValue(values[index]!)}` };
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
      return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found ${quoteValue(value)} in ${key}` };
    }
    if (byteLength(value) > 320) return { index, message: `value cannot exceed 320 characters, found ${quoteValue(value)} in ${key}` };
    const slash = value.indexOf('/');
    if (slash >= 0) {
      if (slash === 0) {
        return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty namespace ${quoteValue(value)} in ${key}` };
      }
      if (slash === value.length - 1) {
        return { index, message: `expected format 'serviceAccount' or 'namespace/serviceAccount', found empty serviceAccount ${quoteValue(value)} in ${key}` };
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
  return `bad key (${showValue(key)}): should have format a[b]`;
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
      return one(`attribute ${showValue(key)} is replaced by the metadata.namespace`);
    case 'destination.name':
    case 'destination.user':
      return one(`deprecated attribute ${showValue(key)}: only supported in v1alpha1`);
    default:
      break;
  }
  if (key.startsWith('request.auth.claims')) return one(validateMapKey(key));
  if (key.startsWith('experimental.envoy.filters.')) return one(validateMapKey(key));
  if (key.startsWith('destination.labels')) return one(`attribute ${showValue(key)} is replaced by the workload selector`);
  return one(`unknown attribute: ${showValue(key)}`);
}

/** security.go: ParseJwksURI; undefined when Istio accepts the URI, else the error text. */
export function jwksUriError(uri: string): string | undefined {
  const u = goUrlParse(uri);
  if ('error' in u) return u.error;
  if (u.scheme !== 'http' && u.scheme !== 'https') return `URI scheme ${quoteValue(u.scheme)} is not supported`;
  const port = u.port();
  // strconv.Atoi on the digits url.Parse already validated: only overflow can fail.
  if (port !== '' && goAtoi(port) === undefined) return `strconv.Atoi: parsing ${quoteValue(port)}: value out of range`;
  return undefined;
}

