/**
 * Semantic validation of the kinds Meshwork reads but does not apply in-process (they program
 * Envoy): EnvoyFilter, WasmPlugin, TrafficExtension and ProxyConfig. Ported from istio/istio
 * pkg/config/validation/envoyfilter/envoyfilter.go (ValidateEnvoyFilter) and
 * pkg/config/validation/validation.go (ValidateWasmPlugin, ValidateTrafficExtension,
 * ValidateProxyConfig and their helpers).
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { re2Error } from '../../util/regex.js';
import { type GoUrl, goUrlParse, goUrlParseRequestURI } from '../go-compat.js';
import {
  byteLength, checkWorkloadSelector, enumName, isObject, msg, msgList, num, type Obj, oneofWinner, type Path,
  str, validateMetadata, validatePolicySelection, validateWorkloadSelector,
} from './common.js';

// ---------------------------------------------------------------------------------------------
// EnvoyFilter
// ---------------------------------------------------------------------------------------------

const APPLY_TO = ['INVALID', 'LISTENER', 'FILTER_CHAIN', 'NETWORK_FILTER', 'HTTP_FILTER', 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE', 'CLUSTER', 'EXTENSION_CONFIG', 'BOOTSTRAP', 'LISTENER_FILTER'] as const;
const PATCH_OPERATIONS = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE', 'MERGE_AND_REPLACE_LIST'] as const;
const PATCH_CONTEXTS = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY', 'WAYPOINT'] as const;
// EnvoyConfigObjectMatch oneof `object_types`, in declaration order (envoy_filter.proto).
const OBJECT_TYPES = ['listener', 'routeConfiguration', 'cluster', 'waypoint'] as const;
// Istio's limit on proxyVersion patterns (envoyfilter.go: maxProxyVersionLen).
const MAX_PROXY_VERSION_LEN = 1024;
const HTTP_CONNECTION_MANAGER = 'envoy.filters.network.http_connection_manager';

// pkg/config/xds/deprecated.go: DeprecatedFilterNames, reversed (old name -> canonical name).
// `envoy.ext_authz` was both the HTTP and the network filter; Go picks either at random, so the
// caller chooses by position (a sub-filter is an HTTP filter).
const DEPRECATED_FILTER_NAMES: Readonly<Record<string, string>> = {
  'envoy.buffer': 'envoy.filters.http.buffer',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.csrf': 'envoy.filters.http.csrf',
  'envoy.http_dynamo_filter': 'envoy.filters.http.dynamo',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.grpc_http1_bridge': 'envoy.filters.http.grpc_http1_bridge',
  'envoy.grpc_json_transcoder': 'envoy.filters.http.grpc_json_transcoder',
  'envoy.grpc_web': 'envoy.filters.http.grpc_web',
  'envoy.gzip': 'envoy.filters.http.gzip',
  'envoy.health_check': 'envoy.filters.http.health_check',
  'envoy.ip_tagging': 'envoy.filters.http.ip_tagging',
  'envoy.lua': 'envoy.filters.http.lua',
  'envoy.rate_limit': 'envoy.filters.http.ratelimit',
  'envoy.router': 'envoy.filters.http.router',
  'envoy.squash': 'envoy.filters.http.squash',
  'envoy.listener.http_inspector': 'envoy.filters.listener.http_inspector',
  'envoy.listener.original_dst': 'envoy.filters.listener.original_dst',
  'envoy.listener.original_src': 'envoy.filters.listener.original_src',
  'envoy.listener.proxy_protocol': 'envoy.filters.listener.proxy_protocol',
  'envoy.listener.tls_inspector': 'envoy.filters.listener.tls_inspector',
  'envoy.client_ssl_auth': 'envoy.filters.network.client_ssl_auth',
  'envoy.http_connection_manager': HTTP_CONNECTION_MANAGER,
  'envoy.mongo_proxy': 'envoy.filters.network.mongo_proxy',
  'envoy.ratelimit': 'envoy.filters.network.ratelimit',
  'envoy.redis_proxy': 'envoy.filters.network.redis_proxy',
  'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
};

function canonicalFilterName(name: string, http: boolean): string | undefined {
  if (name === 'envoy.ext_authz') return http ? 'envoy.filters.http.ext_authz' : 'envoy.filters.network.ext_authz';
  return Object.prototype.hasOwnProperty.call(DEPRECATED_FILTER_NAMES, name) ? DEPRECATED_FILTER_NAMES[name] : undefined;
}

/** envoyfilter.go: ValidateEnvoyFilter (the Envoy proto decoding of patch values is partial, see below). */
export const validateEnvoyFilter: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;

  const selector = checkWorkloadSelector(s.workloadSelector, 'labels', ['spec', 'workloadSelector']);
  for (const e of selector.errors) report.error(e.path, e.message, e.fix);
  // Istio returns the selector errors alone, before any warning or patch check.
  if (selector.errors.length > 0) return;

  report.warn(['spec'], 'EnvoyFilter exposes internal implementation details that may change at any time. Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.', 'prefer a first-class API (Telemetry, WasmPlugin, TrafficExtension, DestinationRule...) where one exists');
  if (selector.emptyWarning) {
    report.warn(['spec', 'workloadSelector'], 'Envoy filter: workload selector specified without labels, will be applied to all services in namespace', 'add labels to the workloadSelector, or remove it to target the namespace on purpose');
  }

  msgList(s.configPatches).forEach((cp, i) => validateConfigPatch(cp, ['spec', 'configPatches', i], report));
};

function validateConfigPatch(cp: Obj, path: Path, report: Reporter): void {
  const match = msg(cp.match);
  if (match && enumName(match.context, PATCH_CONTEXTS) === 'WAYPOINT') return; // Istio does not validate waypoint patches yet.
  const applyTo = enumName(cp.applyTo, APPLY_TO);
  if (applyTo === 'INVALID') {
    report.error([...path, 'applyTo'], 'Envoy filter: missing applyTo', `set applyTo to one of ${APPLY_TO.slice(1).join(', ')}`);
    return;
  }
  const patch = msg(cp.patch);
  if (!patch) {
    report.error(path, 'Envoy filter: missing patch', 'add a patch with an operation (and a value unless the operation is REMOVE)');
    return;
  }
  const operation = enumName(patch.operation, PATCH_OPERATIONS);
  if (operation === 'INVALID') {
    report.error([...path, 'patch', 'operation'], 'Envoy filter: missing patch operation', `set operation to one of ${PATCH_OPERATIONS.slice(1).join(', ')}`);
    return;
  }
  const value = msg(patch.value);
  if (operation !== 'REMOVE' && !value) {
    report.error([...path, 'patch'], 'Envoy filter: missing patch value for non-remove operation', 'add patch.value with the Envoy configuration to merge, add or insert');
    return;
  }

  const proxyVersion = str(msg(match?.proxy)?.proxyVersion);
  if (proxyVersion !== '') {
    const pvPath = [...path, 'match', 'proxy', 'proxyVersion'];
    if (proxyVersion.length > MAX_PROXY_VERSION_LEN) {
      report.warn(pvPath, `Envoy filter: proxyVersion match exceeds ${MAX_PROXY_VERSION_LEN} characters and will be ignored`, 'use a short version pattern such as ^1\\.2[0-9].*');
    } else {
      const err = re2Error(proxyVersion);
      if (err !== undefined) {
        report.error(pvPath, `Envoy filter: invalid regex for proxy version, [${err}]`, 'write an RE2 regular expression, e.g. ^1\\.30.*');
        return;
      }
    }
  }

  const objectType = match ? oneofWinner(match, OBJECT_TYPES) : undefined;
  switch (applyTo) {
    case 'LISTENER':
    case 'FILTER_CHAIN':
    case 'NETWORK_FILTER':
    case 'HTTP_FILTER': {
      if (!objectType) break;
      if (objectType !== 'listener') {
        report.error([...path, 'match', objectType], 'Envoy filter: applyTo for listener class objects cannot have non listener match', 'match on `listener` for LISTENER, FILTER_CHAIN, NETWORK_FILTER and HTTP_FILTER patches');
        return;
      }
      const filterChain = msg(msg(match!.listener)?.filterChain);
      const filter = msg(filterChain?.filter);
      if (!filter) break;
      const filterPath = [...path, 'match', 'listener', 'filterChain', 'filter'];
      if (applyTo === 'LISTENER' || applyTo === 'FILTER_CHAIN') {
        report.warn(filterPath, `Envoy filter: filter match has no effect when used with ${applyTo}`, 'remove the filter match, or apply the patch to NETWORK_FILTER or HTTP_FILTER');
      }
      const filterName = str(filter.name);
      const subFilter = msg(filter.subFilter);
      if (filterName === '') {
        report.error([...filterPath, 'name'], 'Envoy filter: filter match has no name to match on', `name the network filter, e.g. ${HTTP_CONNECTION_MANAGER}`);
        return;
      }
      if (subFilter) {
        if (applyTo !== 'HTTP_FILTER') {
          report.error([...filterPath, 'subFilter'], 'Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only', 'remove subFilter, or use applyTo HTTP_FILTER');
          return;
        }
        if (filterName !== HTTP_CONNECTION_MANAGER && filterName !== 'envoy.http_connection_manager') {
          report.error([...filterPath, 'name'], `Envoy filter: subfilter match requires filter match with ${HTTP_CONNECTION_MANAGER}`, `match the filter named ${HTTP_CONNECTION_MANAGER}`);
          return;
        }
        if (str(subFilter.name) === '') {
          report.error([...filterPath, 'subFilter', 'name'], 'Envoy filter: subfilter match has no name to match on', 'name the HTTP filter, e.g. envoy.filters.http.router');
          return;
        }
      }
      warnDeprecatedFilterName(filterName, false, [...filterPath, 'name'], report);
      warnDeprecatedFilterName(str(subFilter?.name), true, [...filterPath, 'subFilter', 'name'], report);
      break;
    }
    case 'ROUTE_CONFIGURATION':
    case 'VIRTUAL_HOST':
    case 'HTTP_ROUTE':
      if (objectType && objectType !== 'routeConfiguration') {
        report.error([...path, 'match', objectType], 'Envoy filter: applyTo for http route class objects cannot have non route configuration match', 'match on `routeConfiguration` for ROUTE_CONFIGURATION, VIRTUAL_HOST and HTTP_ROUTE patches');
      }
      break;
    case 'CLUSTER':
      if (objectType && objectType !== 'cluster') {
        report.error([...path, 'match', objectType], 'Envoy filter: applyTo for cluster class objects cannot have non cluster match', 'match on `cluster` for CLUSTER patches');
      }
      break;
    default:
      break;
  }
  if (value) validatePatchValue(applyTo, value, [...path, 'patch', 'value'], report);
}

function warnDeprecatedFilterName(name: string, http: boolean, path: Path, report: Reporter): void {
  const canonical = canonicalFilterName(name, http);
  if (canonical) report.warn(path, `using deprecated filter name ${JSON.stringify(name)}; use ${JSON.stringify(canonical)} instead`, `rename the match to ${canonical}`);
}

/**
 * The part of xds.BuildXDSObjectFromStruct (and its deprecation warnings) that can be checked
 * without Envoy's protobuf descriptors: references to the removed Envoy v2 API, which no
 * longer resolve, and filters that name an extension without `typed_config`. Type mismatches
 * and unknown fields inside the value need the descriptors and are not checked.
 */
function validatePatchValue(applyTo: string, value: Obj, path: Path, report: Reporter): void {
  const v2 = findEnvoyV2TypeUrl(value, path);
  if (v2) {
    report.error(v2.path, `referenced type unknown (hint: try using the v3 XDS API): Envoy filter: could not resolve Any message type: ${v2.url}`, 'use the v3 type, e.g. type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz');
    return;
  }
  const missing = missingTypedConfig(applyTo, value);
  if (missing.length > 0) {
    report.warn(path, `using deprecated types by name without typed_config; ${missing.join(', ')}`, 'add typed_config with the "@type" of the extension; Envoy no longer looks extensions up by name');
  }
}

// Envoy's v2 API packages were removed from go-control-plane, so Istio cannot resolve them.
const ENVOY_V2_TYPE = /^envoy\.(?:api\.v2|(?:config|service)\.[a-z0-9_.]+\.v2(?:alpha\d*)?)\.[A-Za-z0-9_]+$/;
const TYPED_STRUCTS = new Set(['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct']);

function findEnvoyV2TypeUrl(v: unknown, path: Path): { url: string; path: Path } | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findEnvoyV2TypeUrl(v[i], [...path, i]);
      if (r) return r;
    }
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const typeUrl = typeof v['@type'] === 'string' ? v['@type'] : undefined;
  const typeName = typeUrl?.slice(typeUrl.lastIndexOf('/') + 1);
  if (typeUrl && typeName && ENVOY_V2_TYPE.test(typeName)) return { url: typeUrl, path: [...path, '@type'] };
  for (const [k, child] of Object.entries(v)) {
    // A TypedStruct carries its configuration as a plain Struct: nothing inside is resolved.
    if (k === 'value' && typeName && TYPED_STRUCTS.has(typeName)) continue;
    const r = findEnvoyV2TypeUrl(child, [...path, k]);
    if (r) return r;
  }
  return undefined;
}

const field = (o: Obj, snake: string, camel: string): unknown => (o[camel] !== undefined && o[camel] !== null ? o[camel] : o[snake]);
const isSet = (o: Obj, snake: string, camel: string): boolean => {
  const f = field(o, snake, camel);
  return f !== undefined && f !== null;
};

/**
 * envoyfilter.go: recurseMissingTypedConfig, for the messages reachable through singular
 * fields (Go does not descend into lists or maps) whose type has a typed_config member.
 */
function missingTypedConfig(applyTo: string, value: Obj): string[] {
  const out: string[] = [];
  const check = (o: Obj | undefined, allowsDiscovery: boolean): void => {
    if (!o) return;
    if (isSet(o, 'typed_config', 'typedConfig')) return;
    if (allowsDiscovery && isSet(o, 'config_discovery', 'configDiscovery')) return;
    out.push(str(o.name));
  };
  switch (applyTo) {
    case 'NETWORK_FILTER':
    case 'HTTP_FILTER':
    case 'LISTENER_FILTER':
      check(value, true);
      break;
    case 'EXTENSION_CONFIG':
      check(value, false);
      break;
    case 'FILTER_CHAIN':
      check(msg(field(value, 'transport_socket', 'transportSocket')), false);
      break;
    case 'LISTENER': {
      const dfc = msg(field(value, 'default_filter_chain', 'defaultFilterChain'));
      if (dfc) check(msg(field(dfc, 'transport_socket', 'transportSocket')), false);
      break;
    }
    case 'CLUSTER':
      check(msg(field(value, 'transport_socket', 'transportSocket')), false);
      check(msg(field(value, 'cluster_type', 'clusterType')), false);
      break;
    default:
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// WasmPlugin and TrafficExtension
// ---------------------------------------------------------------------------------------------

const ENV_VALUE_SOURCES = ['INLINE', 'HOST'] as const;
const WASM_URL_SCHEMES = new Set(['', 'file', 'http', 'https', 'oci']);
const URL_FIX = 'use oci://registry/image:tag, https://host/path/plugin.wasm, file:///path/plugin.wasm, or registry/image:tag';

/** validation.go: strictParseURL. */
function strictParseUrl(original: string): GoUrl | { error: string } {
  const first = goUrlParseRequestURI(original);
  if ('error' in first) {
    const withScheme = `http://${original}`;
    const second = goUrlParseRequestURI(withScheme);
    if ('error' in second) return { error: `failed to parse url: ${first.error}` };
    const strict = goUrlParse(withScheme);
    if ('error' in strict) return { error: `failed to strict parse url: ${strict.error}` };
    return second;
  }
  const strict = goUrlParse(original);
  if ('error' in strict) return { error: `failed to strict parse url: ${strict.error}` };
  return first;
}

/** validation.go: validateWasmPluginURL. */
function validateWasmUrl(url: string, path: Path, report: Reporter): void {
  if (url === '') {
    report.error(path, 'url field needs to be set', URL_FIX);
    return;
  }
  const u = strictParseUrl(url);
  if ('error' in u) {
    report.error(path, u.error, URL_FIX);
    return;
  }
  if (!WASM_URL_SCHEMES.has(u.scheme)) report.error(path, `url contains unsupported scheme: ${u.scheme}`, URL_FIX);
}

/** validation.go: validateWasmPluginSHA. */
function validateSha(sha: string, path: Path, report: Reporter): void {
  if (sha === '') return;
  if (byteLength(sha) !== 64) {
    report.error(path, 'sha256 field must be 64 characters long', 'use the lowercase hex SHA-256 of the module (64 characters)');
    return;
  }
  if (!/^[a-f0-9]*$/.test(sha)) report.error(path, 'sha256 field must match [a-f0-9]{64} pattern', 'write the digest in lowercase hex');
}

/** validation.go: validateWasmPluginVMConfig (the first problem only, as Istio returns it). */
function validateVmConfig(vm: unknown, path: Path, report: Reporter): void {
  const env = msgList(msg(vm)?.env);
  const seen = new Set<string>();
  for (let i = 0; i < env.length; i++) {
    const e = env[i]!;
    const ePath = [...path, 'env', i];
    const name = str(e.name);
    if (name === '') {
      report.error([...ePath, 'name'], 'spec.vmConfig.env invalid', 'give every environment variable a name');
      return;
    }
    if (byteLength(name) > 256) {
      report.error([...ePath, 'name'], 'env.name field must be less than 255 characters long', 'shorten the variable name');
      return;
    }
    if (seen.has(name)) {
      report.error([...ePath, 'name'], 'duplicate env', `define ${name} only once`);
      return;
    }
    seen.add(name);
    if (enumName(e.valueFrom, ENV_VALUE_SOURCES) !== 'INLINE' && str(e.value) !== '') {
      report.error([...ePath, 'value'], 'value may only be set when valueFrom is INLINE', 'remove value (HOST takes the value from the proxy environment), or use valueFrom: INLINE');
      return;
    }
  }
}

/** validation.go: validateWasmPluginMatch / validateTrafficExtensionMatch (first problem only). */
function validateTrafficMatch(match: unknown, report: Reporter): void {
  const selectors = msgList(match);
  for (let i = 0; i < selectors.length; i++) {
    const ports = msgList(selectors[i]!.ports);
    for (let j = 0; j < ports.length; j++) {
      const n = num(ports[j]!.number);
      if (n <= 0 || n > 65535) {
        report.error(['spec', 'match', i, 'ports', j, 'number'], `spec.Match[${i}].Ports[${j}] is out of range: ${n}`, 'use a port number from 1 to 65535');
        return;
      }
    }
  }
}

/** validation.go: ValidateWasmPlugin. */
export const validateWasmPlugin: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;
  validatePolicySelection(s, report);
  validateWasmUrl(str(s.url), ['spec', 'url'], report);
  validateSha(str(s.sha256), ['spec', 'sha256'], report);
  if (byteLength(str(s.imagePullSecret)) > 253) {
    report.error(['spec', 'imagePullSecret'], 'imagePullSecret field must be less than 253 characters long', 'name a Secret (at most 253 characters)');
  }
  if (byteLength(str(s.pluginName)) > 256) {
    report.error(['spec', 'pluginName'], 'pluginName field must be less than 255 characters long', 'shorten pluginName');
  }
  validateVmConfig(s.vmConfig, ['spec', 'vmConfig'], report);
  validateTrafficMatch(s.match, report);
};

// TrafficExtension oneof `filter_config`, in declaration order (traffic_extension.proto).
const FILTER_CONFIG = ['wasm', 'lua'] as const;

/** validation.go: ValidateTrafficExtension. */
export const validateTrafficExtension: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;
  // jsonpb keeps only the last oneof member, so "both set" reaches Istio's check as one of them;
  // the CRD's CEL rule is what rejects a document with both.
  const kind = oneofWinner(s, FILTER_CONFIG);
  if (!kind) {
    report.error(['spec'], 'exactly one of wasm or lua must be set', 'add `lua: {inlineCode: ...}` or `wasm: {url: ...}`');
  }
  validatePolicySelection(s, report, { targetRef: false });
  if (kind === 'lua') {
    const code = str(msg(s.lua)?.inlineCode);
    const path = ['spec', 'lua', 'inlineCode'];
    if (code === '') report.error(path, 'lua.inlineCode cannot be empty', 'write the Lua filter code (envoy_on_request / envoy_on_response)');
    else if (byteLength(code) > 65536) report.error(path, 'lua.inlineCode exceeds maximum size of 64KB', 'shrink the Lua code to at most 64 KiB');
  }
  if (kind === 'wasm') {
    const wasm = msg(s.wasm) ?? {};
    validateWasmUrl(str(wasm.url), ['spec', 'wasm', 'url'], report);
    validateSha(str(wasm.sha256), ['spec', 'wasm', 'sha256'], report);
    const secret = str(wasm.imagePullSecret);
    if (secret !== '' && byteLength(secret) > 253) {
      report.error(['spec', 'wasm', 'imagePullSecret'], 'imagePullSecret field must be less than 253 characters long', 'name a Secret (at most 253 characters)');
    }
    if (byteLength(str(wasm.pluginName)) > 256) {
      report.error(['spec', 'wasm', 'pluginName'], 'pluginName field must be less than 256 characters long', 'shorten pluginName');
    }
    validateVmConfig(wasm.vmConfig, ['spec', 'wasm', 'vmConfig'], report);
  }
  validateTrafficMatch(s.match, report);
};

// ---------------------------------------------------------------------------------------------
// ProxyConfig
// ---------------------------------------------------------------------------------------------

/** validation.go: ValidateProxyConfig. */
export const validateProxyConfig: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;
  validateWorkloadSelector(s.selector, ['spec', 'selector'], report);
  if (num(s.concurrency) < 0) {
    report.error(['spec', 'concurrency'], 'concurrency must be greater than or equal to 0', 'use 0 (one worker per CPU core) or a positive number of worker threads');
  }
};
