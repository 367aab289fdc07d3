/**
 * Inbound telemetry, once for node:http, Express and Fastify (the pipeline calls it): what an
 * Istio sidecar's inbound listener reports — reporter=destination metrics, a server span joined
 * to the caller's trace, an access-log line — and its side of the peer-metadata exchange.
 *
 * Before the handler: the exchange headers are read and removed (the application never sees
 * them, neither in `req.headers` nor in `req.rawHeaders`), the server span starts, `x-request-id`
 * is kept or made and the span's trace context replaces the caller's trace headers (as Envoy
 * rewrites them), so an application that copies trace headers propagates the server span.
 * When the response closes: the facts go to the Mesh's telemetry. One record object and one
 * shared listener per request; nothing at all when the Mesh's telemetry is off.
 */
import { IncomingMessage, validateHeaderValue, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { InboundFacts, MeshTelemetry } from '@meshwork/core';
import {
  injectHandleTraceHeaders, removePeerMetadata, newRequestId, requestIdFrom, propagatorFor, startServerSpan, takePeerMetadata, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, REQUEST_ID_HEADER,
  type HeaderBag, type SpanHandle, type WorkloadMetadata,
} from '@meshwork/telemetry';
import { meshworkOf, type MeshworkContext } from './context.js';

const kRecord = Symbol('@meshwork/server.telemetry');
const NO_FLAGS: readonly string[] = Object.freeze([]);
const DC: readonly string[] = Object.freeze(['DC']);

/** One inbound request under way. */
export interface InboundRecord {
  readonly t: MeshTelemetry;
  readonly req: IncomingMessage;
  readonly start: number;
  readonly span: SpanHandle | undefined;
  readonly requestId: string;
  readonly peer: WorkloadMetadata | undefined;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Envoy's response_code_details: `via_upstream` unless the pipeline answered. */
  details: string;
  /** A refused connection is not a request: nothing is recorded. */
  skip: boolean;
}

/** Called with `this` = the response: the request is over (finished, or the caller went away). */
function onClose(this: ServerResponse): void {
  const rec = (this as ServerResponse & { [kRecord]?: InboundRecord })[kRecord];
  if (!rec) return;
  try {
    finish(rec, this);
  } catch {
    /* telemetry never breaks a request */
  }
}

/** What `beginInbound` learned and started. */
export interface InboundBegin {
  /** The caller's metadata from the exchange headers. */
  peer: WorkloadMetadata | undefined;
  /** The caller sent exchange headers: answer with ours (Istio's request_peer_received_). */
  exchanged: boolean;
  span: SpanHandle | undefined;
  requestId: string;
}

/**
 * The protocol-neutral start of an inbound request's telemetry, for HTTP (startInbound) and
 * gRPC (@meshwork/grpc): the caller's exchange headers read and removed from `headers` (a
 * lower-case header bag, changed in place), the server span started and joined to the caller's
 * trace, the span's trace context written over the caller's trace headers (as Envoy rewrites
 * them for the application), and `x-request-id` kept or made and set.
 */
export function beginInbound(t: MeshTelemetry, headers: HeaderBag, o: { method: string; target: string; authority: string | undefined; socket: Socket }): InboundBegin {
  const { peer, present: exchanged } = takePeerMetadata(headers);
  const socket = o.socket;
  let span: SpanHandle | undefined;
  let requestId: string;
  if (t.tracing) {
    const tls = (socket as TLSSocket).encrypted === true;
    const port = socket.localPort ?? 0;
    span = startServerSpan({
      headers, method: o.method, target: o.target, scheme: tls ? 'https' : 'http', authority: o.authority, port,
      clientAddress: socket.remoteAddress, clientPort: socket.remotePort, operation: t.inboundOperation(port),
      tracing: t.serverTracing, sampling: t.serverSampling, istioTags: t.istioTags,
    });
    requestId = span.requestId;
    if (!t.serverTracing?.disableContextPropagation) injectHandleTraceHeaders(span, headers, propagatorFor(t.serverTracing));
  } else {
    requestId = requestIdFrom(headers[REQUEST_ID_HEADER]) ?? newRequestId();
  }
  if (headers[REQUEST_ID_HEADER] !== requestId) headers[REQUEST_ID_HEADER] = requestId;
  return { peer, exchanged, span, requestId };
}

/**
 * Starts the telemetry of an inbound request (before authorization and the handler). Returns
 * undefined when the request is already recorded (a pipeline run twice).
 */
export function startInbound(t: MeshTelemetry, req: IncomingMessage, res: ServerResponse): InboundRecord | undefined {
  const r = res as ServerResponse & { [kRecord]?: InboundRecord };
  if (r[kRecord]) return undefined;
  const headers = req.headers;
  const socket = req.socket;
  const { peer, exchanged, span, requestId } = beginInbound(t, headers, { method: req.method ?? 'GET', target: req.url ?? '/', authority: headers.host, socket });
  if (exchanged) {
    // In place: the application reads this very array.
    removePeerMetadata(req.rawHeaders);
    rawHeadersShortened(req);
    // Answer with ours, only to a peer that sent its own (Istio's request_peer_received_).
    setCheckedHeader(res, PEER_METADATA_ID_HEADER, t.peerMetadataId);
    setCheckedHeader(res, PEER_METADATA_HEADER, t.peerMetadata);
  }
  const rec: InboundRecord = {
    t, req, start: performance.now(), span, requestId, peer,
    bytesRead: socket.bytesRead, bytesWritten: socket.bytesWritten, details: 'via_upstream', skip: false,
  };
  r[kRecord] = rec;
  res.on('close', onClose);
  return rec;
}

/**
 * node:http's own store of a response's headers (the symbol its OutgoingMessage keeps them
 * under: name in lower case -> [name, value]), found on the first response; null when this
 * Node keeps them elsewhere.
 */
let outHeadersKey: symbol | null | undefined;
/** Header values already checked with node:http's validateHeaderValue (the exchange pair's few values). */
const checkedValues = new Set<string>();

/**
 * `res.setHeader(name, value)` for a value that is the same on every response (the exchange
 * pair): node:http checks every character of a value on each setHeader, with a regular
 * expression that costs ~0.36 us for the ~320-character metadata, per response. Here the value
 * is checked once (the same check, node:http's public validateHeaderValue) and then stored
 * where setHeader stores it; getHeader, removeHeader and the header block see it as any other.
 * Anything unusual (headers sent, an unchecked value, another Node's layout) takes setHeader.
 * `name` is in lower case.
 */
function setCheckedHeader(res: ServerResponse, name: string, value: string): void {
  const key = outHeadersKey !== undefined ? outHeadersKey : (outHeadersKey = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders') ?? null);
  const r = res as unknown as Record<symbol, Record<string, [string, string]> | null | undefined>;
  const store = key === null ? undefined : r[key];
  if (key === null || res.headersSent || (store !== null && typeof store !== 'object') || !checked(name, value)) {
    res.setHeader(name, value);
    return;
  }
  if (store === null || store === undefined) r[key] = { __proto__: null, [name]: [name, value] } as unknown as Record<string, [string, string]>;
  else store[name] = [name, value];
}

function checked(name: string, value: string): boolean {
  if (checkedValues.has(value)) return true;
  try {
    validateHeaderValue(name, value);
  } catch {
    return false;
  }
  // A workload's metadata changes rarely (a new certificate, a new snapshot): a few values.
  if (checkedValues.size >= 64) checkedValues.clear();
  checkedValues.add(value);
  return true;
}

const kDistinct = Symbol('@meshwork/server.headersDistinct');
type HeaderLines = IncomingMessage & {
  _addHeaderLineDistinct(field: string, value: string, dest: Record<string, string[]>): void;
  [kDistinct]?: Record<string, string[]> | undefined;
};

/** `req.headersDistinct` as node:http builds it, from `rawHeaders` as they are now. */
function distinctOf(req: HeaderLines): Record<string, string[]> {
  const raw = req.rawHeaders;
  const dest: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) req._addHeaderLineDistinct(raw[i]!, raw[i + 1]!, dest);
  return dest;
}

/**
 * The request class of MeshServer's http servers. node:http builds `req.headersDistinct` (on
 * first read) from `rawHeaders` up to the number of entries it parsed: once the exchange pair
 * is taken out of `rawHeaders` its getter reads past the end and throws. This one reads
 * `rawHeaders` as they are, and forgets what it built when they shorten. node:http's own
 * requests (the Express and Fastify adapters on an application's server) get theirs rebuilt
 * at once instead (rawHeadersShortened): eager, since nothing tells whether it will be read.
 */
export class MeshIncomingMessage extends IncomingMessage {}
Object.defineProperty(MeshIncomingMessage.prototype, 'headersDistinct', {
  configurable: true,
  enumerable: false,
  get(this: HeaderLines) {
    return (this[kDistinct] ??= distinctOf(this));
  },
  set(this: HeaderLines, v: Record<string, string[]>) {
    this[kDistinct] = v;
  },
});

/** `req.rawHeaders` lost entries: keep `req.headersDistinct` readable, and true to them. */
function rawHeadersShortened(req: IncomingMessage): void {
  const r = req as HeaderLines;
  if (r instanceof MeshIncomingMessage) r[kDistinct] = undefined;
  else r.headersDistinct = distinctOf(r);
}

/** The record of a request, if telemetry follows it. */
export function inboundRecord(res: ServerResponse): InboundRecord | undefined {
  return (res as ServerResponse & { [kRecord]?: InboundRecord })[kRecord];
}

/** Envoy's `response_code_details` of an RBAC denial: `rbac_access_denied_matched_policy[ns[<ns>]-policy[<name>]-rule[<i>]]`, or `[none]`. */
export function rbacDetails(ctx: MeshworkContext | undefined): string {
  const p = ctx?.policy;
  if (!p) return 'rbac_access_denied_matched_policy[none]';
  const slash = p.indexOf('/');
  return `rbac_access_denied_matched_policy[ns[${p.slice(0, slash)}]-policy[${p.slice(slash + 1)}]-rule[${ctx?.rule ?? 0}]]`;
}

/** Envoy's jwt_authn details: `jwt_authn_access_denied{Jwt_is_expired}`. */
export function jwtDetails(body: string): string {
  return `jwt_authn_access_denied{${body.replace(/\s/g, '_')}}`;
}

function contentLength(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function finish(rec: InboundRecord, res: ServerResponse): void {
  const req = rec.req;
  if (rec.skip) {
    rec.span?.end({ statusCode: 0 });
    return;
  }
  const durationMs = performance.now() - rec.start;
  const socket = req.socket;
  const complete = res.writableFinished;
  const status = res.headersSent ? res.statusCode : 0;
  // Body sizes: Content-Length when given; else what crossed the socket meanwhile (for the
  // response, less the header block).
  const requestBytes = contentLength(req.headers['content-length']) ?? (req.headers['transfer-encoding'] !== undefined && socket ? Math.max(0, socket.bytesRead - rec.bytesRead) : 0);
  let responseBytes = contentLength(res.getHeader('content-length'));
  if (responseBytes === undefined) {
    const header = (res as ServerResponse & { _header?: string | null })._header;
    responseBytes = socket ? Math.max(0, socket.bytesWritten - rec.bytesWritten - (typeof header === 'string' ? header.length : 0)) : 0;
  }
  if (req.method === 'HEAD' || status === 204 || status === 304) responseBytes = 0;
  const grpc = (req.headers['content-type'] ?? '').startsWith('application/grpc');
  const gs = grpc ? res.getHeader('grpc-status') : undefined;
  recordInboundOn(rec.t, {
    method: req.method ?? 'GET',
    target: req.url ?? '/',
    httpVersion: req.httpVersion,
    durationMs,
    status,
    flags: complete ? NO_FLAGS : DC,
    details: complete ? rec.details : 'downstream_remote_disconnect',
    requestBytes,
    responseBytes,
    grpc,
    grpcStatus: gs !== undefined ? Number(gs) : undefined,
    peer: rec.peer,
    span: rec.span,
    requestId: rec.requestId,
    requestHeaders: req.headers,
  }, socket, meshworkOf(req));
}

/** The facts of an inbound request that its connection and the pipeline's verdict give. */
type ConnectionFacts = 'peerPrincipal' | 'mtls' | 'localAddress' | 'localPort' | 'remoteAddress' | 'remotePort' | 'sni';

/**
 * Records a finished inbound request (HTTP here, gRPC in @meshwork/grpc): `facts` completed
 * with what the connection and the pipeline's context say (peer principal, mTLS, addresses,
 * SNI), in place.
 */
export function recordInboundOn(t: MeshTelemetry, facts: Omit<InboundFacts, ConnectionFacts>, socket: Socket | undefined, ctx: MeshworkContext | undefined): void {
  const f = facts as InboundFacts;
  f.peerPrincipal = ctx?.peerId;
  f.mtls = ctx?.mtls ?? (socket as TLSSocket | undefined)?.encrypted === true;
  f.localAddress = socket?.localAddress;
  f.localPort = socket?.localPort ?? 0;
  f.remoteAddress = socket?.remoteAddress;
  f.remotePort = socket?.remotePort;
  f.sni = ctx?.mtls ? ((socket as TLSSocket).servername || undefined) : undefined;
  t.recordInbound(f);
}
