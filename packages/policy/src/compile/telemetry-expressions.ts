/**
 * Envoy attribute expressions found in Telemetry resources, compiled once per snapshot:
 *
 * - access-log filters (`accessLogging[].filter.expression`): full CEL over Envoy's request
 *   attributes, type-checked against the attribute vocabulary and evaluated per request the way
 *   Envoy's CEL access-log filter does (an evaluation error, e.g. a missing header, means "do not
 *   log");
 * - metric tag values (`metrics[].overrides[].tagOverrides[].value`): the simple forms that cover
 *   Istio's documented examples — a literal, an attribute (`request.host`, `string(destination.port)`)
 *   or a header (`request.headers['x-user']`). Anything else is reported and records `unknown`,
 *   which is what Istio's stats filter records when an expression fails to evaluate
 *   (istio_stats.cc: StreamOverrides::evaluate).
 *
 * Attribute names and types: https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/advanced/attributes
 */
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';

/**
 * The Envoy attributes of one request, as plain values (the data plane fills what it knows;
 * absent attributes behave as in Envoy: reading them is an evaluation error). Header maps have
 * lower-case names. Durations are milliseconds; they become CEL durations.
 */
export interface EnvoyAttributes {
  request?: {
    path?: string | undefined;
    url_path?: string | undefined;
    host?: string | undefined;
    scheme?: string | undefined;
    method?: string | undefined;
    headers?: Readonly<Record<string, string>> | undefined;
    referer?: string | undefined;
    useragent?: string | undefined;
    time?: Date | undefined;
    id?: string | undefined;
    protocol?: string | undefined;
    /** Milliseconds. */
    duration?: number | undefined;
    size?: number | undefined;
    total_size?: number | undefined;
  } | undefined;
  response?: {
    code?: number | undefined;
    code_details?: string | undefined;
    flags?: number | undefined;
    grpc_status?: number | undefined;
    headers?: Readonly<Record<string, string>> | undefined;
    trailers?: Readonly<Record<string, string>> | undefined;
    size?: number | undefined;
    total_size?: number | undefined;
  } | undefined;
  source?: { address?: string | undefined; port?: number | undefined } | undefined;
  destination?: { address?: string | undefined; port?: number | undefined } | undefined;
  connection?: {
    id?: number | undefined;
    mtls?: boolean | undefined;
    requested_server_name?: string | undefined;
    tls_version?: string | undefined;
    subject_local_certificate?: string | undefined;
    subject_peer_certificate?: string | undefined;
    dns_san_local_certificate?: string | undefined;
    dns_san_peer_certificate?: string | undefined;
    uri_san_local_certificate?: string | undefined;
    uri_san_peer_certificate?: string | undefined;
    termination_details?: string | undefined;
  } | undefined;
  upstream?: {
    address?: string | undefined;
    port?: number | undefined;
    tls_version?: string | undefined;
    subject_local_certificate?: string | undefined;
    subject_peer_certificate?: string | undefined;
    dns_san_local_certificate?: string | undefined;
    dns_san_peer_certificate?: string | undefined;
    uri_san_local_certificate?: string | undefined;
    uri_san_peer_certificate?: string | undefined;
    local_address?: string | undefined;
    transport_failure_reason?: string | undefined;
  } | undefined;
  xds?: { cluster_name?: string | undefined; route_name?: string | undefined } | undefined;
}

type AttrType = 'string' | 'int' | 'bool' | 'map<string, string>' | 'google.protobuf.Duration' | 'google.protobuf.Timestamp';

const TLS_FIELDS: Record<string, AttrType> = {
  tls_version: 'string',
  subject_local_certificate: 'string',
  subject_peer_certificate: 'string',
  dns_san_local_certificate: 'string',
  dns_san_peer_certificate: 'string',
  uri_san_local_certificate: 'string',
  uri_san_peer_certificate: 'string',
};

/** The attribute vocabulary Meshwork evaluates (a subset of Envoy's; the rest is reported). */
export const ENVOY_ATTRIBUTES: Readonly<Record<string, Readonly<Record<string, AttrType>>>> = {
  request: {
    path: 'string', url_path: 'string', host: 'string', scheme: 'string', method: 'string',
    headers: 'map<string, string>', referer: 'string', useragent: 'string', time: 'google.protobuf.Timestamp',
    id: 'string', protocol: 'string', duration: 'google.protobuf.Duration', size: 'int', total_size: 'int',
  },
  response: {
    code: 'int', code_details: 'string', flags: 'int', grpc_status: 'int', headers: 'map<string, string>',
    trailers: 'map<string, string>', size: 'int', total_size: 'int',
  },
  source: { address: 'string', port: 'int' },
  destination: { address: 'string', port: 'int' },
  connection: { id: 'int', mtls: 'bool', requested_server_name: 'string', termination_details: 'string', ...TLS_FIELDS },
  upstream: { address: 'string', port: 'int', local_address: 'string', transport_failure_reason: 'string', ...TLS_FIELDS },
  xds: { cluster_name: 'string', route_name: 'string' },
};

let environment: Environment | undefined;
let durationCtor: (new (seconds: bigint, nanos?: number) => unknown) | undefined;

function celEnvironment(): Environment {
  if (environment) return environment;
  const env = new Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: false, limits: { maxAstNodes: 2000, maxDepth: 64 } });
  for (const [name, fields] of Object.entries(ENVOY_ATTRIBUTES)) env.registerVariable({ name, schema: { ...fields } });
  // cel-js does not export its Duration class; a value it creates leads to the constructor.
  durationCtor = (env.evaluate('duration("1s")') as object).constructor as typeof durationCtor;
  environment = env;
  return env;
}

/** Plain attributes to CEL values: ints become BigInt, milliseconds durations. Only present fields are copied. */
function toCel(attrs: EnvoyAttributes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const group in ENVOY_ATTRIBUTES) {
    const src = (attrs as Record<string, Record<string, unknown> | undefined>)[group];
    if (!src) continue;
    const types = ENVOY_ATTRIBUTES[group]!;
    const dst: Record<string, unknown> = {};
    for (const key in src) {
      const v = src[key];
      const t = types[key];
      if (v === undefined || v === null || t === undefined) continue;
      if (t === 'int') {
        if (typeof v === 'number' && Number.isFinite(v)) dst[key] = BigInt(Math.trunc(v));
      } else if (t === 'google.protobuf.Duration') {
        if (typeof v === 'number' && Number.isFinite(v)) {
          const ms = Math.max(0, v);
          dst[key] = new durationCtor!(BigInt(Math.floor(ms / 1000)), Math.round((ms % 1000) * 1e6));
        }
      } else dst[key] = v;
    }
    out[group] = dst;
  }
  return out;
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

// ---------------------------------------------------------------------------------------------
// Access-log filters

/** A compiled `accessLogging[].filter.expression`. */
export interface CompiledLogFilter {
  readonly expression: string;
  /**
   * Whether the request is logged. An evaluation error (a missing attribute or header) or a
   * non-boolean result means "not logged", as in Envoy's CEL access-log filter.
   */
  matches(attrs: EnvoyAttributes): boolean;
}

export type LogFilterResult =
  | { ok: true; filter: CompiledLogFilter }
  /** `parse`: not CEL (Istio's webhook rejects it); `unsupported`: CEL that names attributes Meshwork does not have. Either way the filter logs nothing. */
  | { ok: false; kind: 'parse' | 'unsupported'; message: string; filter: CompiledLogFilter };

const cache = new Map<string, LogFilterResult>();

/** Compiles a filter expression once (cached by text). */
export function compileLogFilter(expression: string): LogFilterResult {
  const hit = cache.get(expression);
  if (hit) return hit;
  const result = compileLogFilterUncached(expression);
  if (cache.size > 1000) cache.clear();
  cache.set(expression, result);
  return result;
}

function never(expression: string): CompiledLogFilter {
  return { expression, matches: () => false };
}

function compileLogFilterUncached(expression: string): LogFilterResult {
  const env = celEnvironment();
  let program: ParseResult;
  try {
    program = env.parse(expression);
  } catch (e) {
    return { ok: false, kind: 'parse', message: `not a valid CEL expression: ${firstLine((e as Error).message)}`, filter: never(expression) };
  }
  const checked = program.check();
  if (!checked.valid) {
    return { ok: false, kind: 'unsupported', message: `cannot be evaluated in-process: ${firstLine(checked.error?.message ?? 'type error')}`, filter: never(expression) };
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { ok: false, kind: 'unsupported', message: `evaluates to ${checked.type}, not bool; Envoy logs nothing for it`, filter: never(expression) };
  }
  return {
    ok: true,
    filter: {
      expression,
      matches(attrs) {
        try {
          return program(toCel(attrs)) === true;
        } catch {
          return false;
        }
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Metric tag values

/** A compiled `tagOverrides[].value`. */
export interface CompiledTagValue {
  readonly expression: string;
  /** `literal`: same value for every request (`constant`); `attribute`: read per request; `unknown`: not evaluable in-process, records `unknown`. */
  readonly kind: 'literal' | 'attribute' | 'unknown';
  readonly constant?: string | undefined;
  /** The label value for a request; `unknown` when the attribute is absent (Envoy's evaluation-error value). */
  evaluate(attrs: EnvoyAttributes): string;
}

export type TagValueResult =
  | { ok: true; value: CompiledTagValue }
  /** `parse`: Envoy drops a standard tag whose expression does not parse, and skips a new one. `unsupported`: records `unknown`. */
  | { ok: false; kind: 'parse' | 'unsupported'; message: string; value: CompiledTagValue };

const UNKNOWN = 'unknown';

/** Envoy's `print()` of a CEL value, for the forms Meshwork reads. */
function printValue(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined;
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return undefined;
  }
}

function node(n: unknown): ASTNode | undefined {
  return n && typeof n === 'object' && 'op' in (n as object) ? (n as ASTNode) : undefined;
}

/** `group.field` → [group, field] when both are a known attribute of a printable type. */
function attributePath(n: ASTNode): [string, string] | undefined {
  if (n.op !== '.') return undefined;
  const [target, field] = n.args as unknown as [unknown, unknown];
  const t = node(target);
  if (!t || t.op !== 'id' || typeof t.args !== 'string' || typeof field !== 'string') return undefined;
  const type = ENVOY_ATTRIBUTES[t.args]?.[field];
  if (!type || type === 'map<string, string>' || type === 'google.protobuf.Duration' || type === 'google.protobuf.Timestamp') return undefined;
  return [t.args, field];
}

/** `group.map['key']` for the header maps → [group, map, key]. */
function mapLookup(n: ASTNode): [string, string, string] | undefined {
  if (n.op !== '[]') return undefined;
  const [target, index] = n.args as unknown as [unknown, unknown];
  const t = node(target);
  const i = node(index);
  if (!t || !i || t.op !== '.' || i.op !== 'value' || typeof i.args !== 'string') return undefined;
  const [g, field] = t.args as unknown as [unknown, unknown];
  const gn = node(g);
  if (!gn || gn.op !== 'id' || typeof gn.args !== 'string' || typeof field !== 'string') return undefined;
  if (ENVOY_ATTRIBUTES[gn.args]?.[field] !== 'map<string, string>') return undefined;
  return [gn.args, field, i.args.toLowerCase()];
}

function unknownValue(expression: string): CompiledTagValue {
  return { expression, kind: 'unknown', evaluate: () => UNKNOWN };
}

/** Compiles a tag value expression into one of the simple forms. */
export function compileTagValue(expression: string): TagValueResult {
  let ast: ASTNode;
  try {
    ast = celEnvironment().parse(expression).ast;
  } catch (e) {
    return { ok: false, kind: 'parse', message: `not a valid CEL expression: ${firstLine((e as Error).message)}`, value: unknownValue(expression) };
  }
  let n: ASTNode = ast;
  // string(x) prints the same as x for the scalar attributes read here.
  if (n.op === 'call') {
    const [fn, args] = n.args as unknown as [unknown, unknown];
    const only = Array.isArray(args) && args.length === 1 ? node(args[0]) : undefined;
    if (fn === 'string' && only) n = only;
  }
  if (n.op === 'value') {
    const text = printValue(n.args);
    if (text !== undefined) return { ok: true, value: { expression, kind: 'literal', constant: text, evaluate: () => text } };
  }
  const path = attributePath(n);
  if (path) {
    const [group, field] = path;
    return {
      ok: true,
      value: {
        expression,
        kind: 'attribute',
        evaluate(attrs) {
          const g = (attrs as Record<string, Record<string, unknown> | undefined>)[group];
          return (g && printValue(g[field])) ?? UNKNOWN;
        },
      },
    };
  }
  const lookup = mapLookup(n);
  if (lookup) {
    const [group, map, key] = lookup;
    return {
      ok: true,
      value: {
        expression,
        kind: 'attribute',
        evaluate(attrs) {
          const g = (attrs as Record<string, Record<string, unknown> | undefined>)[group];
          const m = g?.[map] as Record<string, string> | undefined;
          const v = m && Object.hasOwn(m, key) ? m[key] : undefined;
          return v ?? UNKNOWN;
        },
      },
    };
  }
  return {
    ok: false,
    kind: 'unsupported',
    message:
      'only a literal, an attribute such as request.host or string(destination.port), or a header such as request.headers[\'x-user\'] can be evaluated in-process; this tag records "unknown"',
    value: unknownValue(expression),
  };
}
