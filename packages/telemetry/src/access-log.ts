/**
 * Envoy-style access logs through one pino logger: Istio's default JSON format
 * (pilot/pkg/model/telemetry_logging.go: EnvoyJSONLogFormatIstio — the same 24 fields as
 * EnvoyTextLogFormat, keys in alphabetical order, absent values `null`, codes, sizes and
 * durations as numbers) or Istio's text format, switched on and filtered by the Telemetry API
 * (`compileTelemetry(...).accessLogging`, whose filters are compiled CEL over Envoy attributes).
 *
 * What is never logged: header values other than `x-forwarded-for`, `user-agent`, `x-request-id`
 * and `:authority` (the default format has no Authorization or Cookie field), and the values of
 * query parameters that usually carry secrets (`access_token`, `token`, `api_key`, ...), which
 * Meshwork masks in `path` (Envoy logs the path as it is; this is Meshwork's one deviation).
 */
import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import type { DestinationStream, Logger } from 'pino';

// pino is loaded when the first logger or destination is made, not with this module: a
// workload that logs nothing does not carry it (about 10 MB of RSS).
let pinoModule: typeof import('pino') | undefined;
function pino(): typeof import('pino') {
  return (pinoModule ??= createRequire(import.meta.url)('pino') as typeof import('pino'));
}
import type { AccessLogSpec, EnvoyAttributes } from '@meshwork/policy';
import type { HeaderBag } from './tracing.js';

/** One finished request, as the access log needs it. */
export interface AccessLogEvent {
  /** When the first request byte arrived (`%START_TIME%`). */
  startTime: Date | number;
  method?: string | undefined;
  /** Path with query (`%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`). */
  path?: string | undefined;
  /** `HTTP/1.1`, `HTTP/2`. */
  protocol?: string | undefined;
  /** 0 when no response was sent. */
  responseCode?: number | undefined;
  responseFlags?: readonly string[] | string | undefined;
  /** `via_upstream`, `upstream_reset_before_response_started{...}`, `rbac_access_denied_matched_policy[none]`... */
  responseCodeDetails?: string | undefined;
  connectionTerminationDetails?: string | undefined;
  upstreamTransportFailureReason?: string | undefined;
  bytesReceived?: number | undefined;
  bytesSent?: number | undefined;
  durationMs?: number | undefined;
  /** `x-envoy-upstream-service-time` of the response. */
  upstreamServiceTimeMs?: number | undefined;
  /** Request headers (lower-case): `x-forwarded-for`, `user-agent`, `x-request-id`, `:authority`/`host`, `x-envoy-original-path` are read; all are visible to filters. */
  requestHeaders?: HeaderBag | undefined;
  /** Response headers, visible to filters (`response.headers`). */
  responseHeaders?: HeaderBag | undefined;
  authority?: string | undefined;
  requestId?: string | undefined;
  upstreamHost?: string | undefined;
  upstreamCluster?: string | undefined;
  upstreamLocalAddress?: string | undefined;
  /** `ip:port` of the listener. */
  downstreamLocalAddress?: string | undefined;
  /** `ip:port` of the caller. */
  downstreamRemoteAddress?: string | undefined;
  requestedServerName?: string | undefined;
  routeName?: string | undefined;
  /** The connection used mTLS (filters: `connection.mtls`). */
  mtls?: boolean | undefined;
  /** The gRPC status (filters: `response.grpc_status`). */
  grpcStatus?: number | undefined;
}

/** Istio's default JSON access log entry. */
export interface AccessLogEntry {
  authority: string | null;
  bytes_received: number;
  bytes_sent: number;
  connection_termination_details: string | null;
  downstream_local_address: string | null;
  downstream_remote_address: string | null;
  duration: number;
  method: string | null;
  path: string | null;
  protocol: string | null;
  request_id: string | null;
  requested_server_name: string | null;
  response_code: number;
  response_code_details: string | null;
  response_flags: string;
  route_name: string | null;
  start_time: string;
  upstream_cluster: string | null;
  upstream_host: string | null;
  upstream_local_address: string | null;
  upstream_service_time: string | null;
  upstream_transport_failure_reason: string | null;
  user_agent: string | null;
  x_forwarded_for: string | null;
}

export interface AccessLoggerOptions {
  /** Where lines go (default stdout, through pino's asynchronous destination). */
  destination?: DestinationStream | NodeJS.WritableStream | undefined;
  /** Default format when the Telemetry provider does not say (default `json`). */
  format?: 'json' | 'text' | undefined;
  /** The Telemetry settings of this direction (`accessLogging.server` / `.client`); null or absent: `enabled` decides. */
  spec?: AccessLogSpec | null | undefined;
  /** Whether to log when no Telemetry configures access logs (Istio's `meshConfig.accessLogFile`; default false). */
  enabled?: boolean | undefined;
  /** Query parameters whose values are masked in `path` (default: names containing token, secret, password, key, signature, auth, session, code). False: none. */
  redactQueryParams?: RegExp | false | undefined;
}

export interface AccessLogger {
  readonly logger: Logger;
  /** Logs the request if logging is on and a filter lets it through; returns whether it was logged. Never throws. */
  log(event: AccessLogEvent): boolean;
  setSpec(spec: AccessLogSpec | null | undefined): void;
  readonly enabled: boolean;
  /** Writes out buffered lines (call before the process exits). */
  flush(): void;
}

const DEFAULT_REDACT = /token|secret|passw|key|signature|sig$|auth|session|^code$|credential/i;

function str(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v?.join(',');
}

function iso(t: Date | number): string {
  return (typeof t === 'number' ? new Date(t) : t).toISOString();
}

function flagsOf(f: AccessLogEvent['responseFlags']): string {
  if (f === undefined) return '-';
  if (typeof f === 'string') return f || '-';
  return f.length ? f.join(',') : '-';
}

/** Masks the values of sensitive query parameters (the path is otherwise logged as sent). */
export function redactPath(path: string, re: RegExp | false = DEFAULT_REDACT): string {
  const q = path.indexOf('?');
  if (q < 0 || re === false) return path;
  const parts = path.slice(q + 1).split('&');
  let changed = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    let name = p.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // keep the raw name
    }
    if (re.test(name)) {
      parts[i] = `${p.slice(0, eq)}=REDACTED`;
      changed = true;
    }
  }
  return changed ? `${path.slice(0, q)}?${parts.join('&')}` : path;
}

/** Istio's JSON entry for an event (pilot/pkg/model/telemetry_logging.go: EnvoyJSONLogFormatIstio). */
export function accessLogEntry(e: AccessLogEvent, redact: RegExp | false = DEFAULT_REDACT): AccessLogEntry {
  const h = e.requestHeaders ?? {};
  const path = str(h['x-envoy-original-path']) ?? e.path;
  return {
    authority: e.authority ?? str(h[':authority']) ?? str(h.host) ?? null,
    bytes_received: e.bytesReceived ?? 0,
    bytes_sent: e.bytesSent ?? 0,
    connection_termination_details: e.connectionTerminationDetails ?? null,
    downstream_local_address: e.downstreamLocalAddress ?? null,
    downstream_remote_address: e.downstreamRemoteAddress ?? null,
    duration: e.durationMs !== undefined ? Math.trunc(e.durationMs) : 0,
    method: e.method ?? null,
    path: path !== undefined ? redactPath(path, redact) : null,
    protocol: e.protocol ?? null,
    request_id: e.requestId ?? str(h['x-request-id']) ?? null,
    requested_server_name: e.requestedServerName ?? null,
    response_code: e.responseCode ?? 0,
    response_code_details: e.responseCodeDetails ?? null,
    response_flags: flagsOf(e.responseFlags),
    route_name: e.routeName ?? null,
    start_time: iso(e.startTime),
    upstream_cluster: e.upstreamCluster ?? null,
    upstream_host: e.upstreamHost ?? null,
    upstream_local_address: e.upstreamLocalAddress ?? null,
    upstream_service_time: e.upstreamServiceTimeMs !== undefined ? String(Math.trunc(e.upstreamServiceTimeMs)) : null,
    upstream_transport_failure_reason: e.upstreamTransportFailureReason ?? null,
    user_agent: str(h['user-agent']) ?? null,
    x_forwarded_for: str(h['x-forwarded-for']) ?? null,
  };
}

/** Istio's text format (telemetry_logging.go: EnvoyTextLogFormat), `-` for absent values. */
export function accessLogText(x: AccessLogEntry): string {
  const d = (v: string | number | null) => (v === null || v === '' ? '-' : String(v));
  return (
    `[${x.start_time}] "${d(x.method)} ${d(x.path)} ${d(x.protocol)}" ${x.response_code} ${x.response_flags} ` +
    `${d(x.response_code_details)} ${d(x.connection_termination_details)} "${d(x.upstream_transport_failure_reason)}" ` +
    `${x.bytes_received} ${x.bytes_sent} ${x.duration} ${d(x.upstream_service_time)} "${d(x.x_forwarded_for)}" "${d(x.user_agent)}" ` +
    `"${d(x.request_id)}" "${d(x.authority)}" "${d(x.upstream_host)}" ${d(x.upstream_cluster)} ${d(x.upstream_local_address)} ` +
    `${d(x.downstream_local_address)} ${d(x.downstream_remote_address)} ${d(x.requested_server_name)} ${d(x.route_name)}\n`
  );
}

function splitAddress(a: string | undefined): { address?: string; port?: number } | undefined {
  if (!a) return undefined;
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(a);
  return m ? { address: m[1]!, port: Number(m[2]) } : { address: a };
}

function headerMap(h: HeaderBag | undefined): Record<string, string> | undefined {
  if (!h) return undefined;
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = str(h[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Envoy attributes of an access-log event, for `filter.expression`. */
export function accessLogAttributes(e: AccessLogEvent): EnvoyAttributes {
  const h = e.requestHeaders;
  const path = e.path;
  const q = path?.indexOf('?') ?? -1;
  return {
    request: {
      method: e.method,
      path,
      url_path: path !== undefined && q >= 0 ? path.slice(0, q) : path,
      host: e.authority ?? str(h?.[':authority']) ?? str(h?.host),
      headers: headerMap(h),
      useragent: str(h?.['user-agent']),
      referer: str(h?.referer),
      id: e.requestId ?? str(h?.['x-request-id']),
      protocol: e.protocol,
      duration: e.durationMs,
      size: e.bytesReceived,
      time: typeof e.startTime === 'number' ? new Date(e.startTime) : e.startTime,
    },
    response: { code: e.responseCode ?? 0, code_details: e.responseCodeDetails, grpc_status: e.grpcStatus, headers: headerMap(e.responseHeaders), size: e.bytesSent },
    connection: { mtls: e.mtls, requested_server_name: e.requestedServerName, termination_details: e.connectionTerminationDetails },
    source: splitAddress(e.downstreamRemoteAddress),
    destination: splitAddress(e.downstreamLocalAddress),
    upstream: { ...splitAddress(e.upstreamHost), local_address: e.upstreamLocalAddress, transport_failure_reason: e.upstreamTransportFailureReason },
    xds: { cluster_name: e.upstreamCluster, route_name: e.routeName },
  };
}

/** Standard output through pino's asynchronous destination, the loggers' default; one can serve several loggers. */
export function stdoutDestination(): DestinationStream {
  return pino().destination({ dest: 1, sync: false });
}

/**
 * Creates the access logger.
 *
 * @example
 * const log = createAccessLogger({ spec: compileTelemetry(resources, workload).accessLogging?.server });
 * log.log({ startTime: Date.now(), method: 'GET', path: '/ratings/0', protocol: 'HTTP/1.1', responseCode: 200, durationMs: 3 });
 */
export function createAccessLogger(options: AccessLoggerOptions = {}): AccessLogger {
  const redact = options.redactQueryParams ?? DEFAULT_REDACT;
  let dest: DestinationStream;
  if (!options.destination) dest = stdoutDestination();
  else dest = options.destination as DestinationStream;
  const logger = pino()(
    {
      base: null,
      timestamp: false,
      // The entry is the whole line: no level, pid, host or time keys (Envoy's format has none).
      formatters: { level: () => ({}) },
      // pino writes `{` + level fields + `,"key":value...`; with no level fields, drop the comma.
      hooks: { streamWrite: (s: string) => (s.charCodeAt(1) === 44 /* , */ ? `{${s.slice(2)}` : s) },
    },
    dest,
  );
  const textOut = dest as unknown as { write(s: string): unknown };
  let spec = options.spec ?? null;

  return {
    logger,
    get enabled() {
      return spec ? spec.enabled : options.enabled === true;
    },
    setSpec(s) {
      spec = s ?? null;
    },
    flush() {
      try {
        logger.flush();
      } catch {
        // a destination without flush
      }
    },
    log(e) {
      try {
        let format = options.format ?? 'json';
        if (spec) {
          if (!spec.enabled) return false;
          let attrs: EnvoyAttributes | undefined;
          const sink = spec.sinks.find((s) => !s.filter || s.filter.matches((attrs ??= accessLogAttributes(e))));
          if (!sink) return false;
          format = sink.provider.logFormat ?? format;
        } else if (options.enabled !== true) return false;
        const entry = accessLogEntry(e, redact);
        if (format === 'text') textOut.write(accessLogText(entry));
        else logger.info(entry);
        return true;
      } catch {
        return false; // an access log never breaks a request
      }
    },
  };
}

/** A destination that collects lines in memory (tests, examples). */
export function memoryDestination(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(l);
      cb();
    },
  });
  return Object.assign(w, { lines }) as unknown as DestinationStream & { lines: string[] };
}
