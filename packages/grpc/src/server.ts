/**
 * The server side: a grpc-js `Server` behind a Meshwork port. The port (`MeshListener` from
 * @meshwork/server) takes mTLS and plaintext on one socket as a sidecar does under
 * PERMISSIVE, closes what PeerAuthentication refuses (plaintext under STRICT), terminates
 * TLS with the workload certificate (client certificate required, rotation followed), and
 * hands each connection to the grpc-js server through a connection injector. A server
 * interceptor then runs the inbound pipeline of @meshwork/server per call
 * (RequestAuthentication from metadata, AuthorizationPolicy on `/package.Service/Method`)
 * with the peer identity of the connection the call came on.
 *
 * Why our own port instead of `bindAsync` with grpc-js credentials: grpc-js binds a port to one
 * kind of credentials (TLS or not), so PERMISSIVE (both on one port) cannot be had from it;
 * and the inbound pipeline decides on the connection's socket (local port, peer certificate),
 * which is ours when we accept it.
 */
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import {
  Metadata, ResponderBuilder, Server, ServerCredentials, ServerInterceptingCall, ServerListenerBuilder, status as Status,
  type ServerInterceptingCallInterface, type ServerInterceptor, type ServerOptions, type ServiceDefinition, type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { ServerMethodDefinition } from '@grpc/grpc-js/build/src/make-client.js';
import { withDeadline, type MeshTelemetry } from '@meshwork/core';
import { headersOf } from './client.js';
import { MeshListener, beginInbound, createInbound, recordInboundOn, jwtDetails, rbacDetails, setMeshwork, type Inbound, type InboundVerdict, type MeshListenerOptions, type MeshworkContext } from '@meshwork/server';
import {
  PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, contextWithRequestId, runInContext,
  type HeaderBag, type SpanHandle, type WorkloadMetadata,
} from '@meshwork/telemetry';

type PartialStatusObject = Parameters<ServerInterceptingCallInterface['sendStatus']>[0];

export interface MeshGrpcServerOptions extends MeshListenerOptions {
  /** Options for the grpc-js server (message sizes, keepalive, your own interceptors, which run after Meshwork's). */
  grpc?: ServerOptions | undefined;
}

/** The grpc-js `ConnectionInjector` (1.11+): hands accepted connections to the server. */
type ConnectionInjector = ReturnType<Server['createConnectionInjector']>;

/** The port of a meshed gRPC server; `MeshGrpcServer.bindMesh` makes one. */
class GrpcPort extends MeshListener {
  /** Open connections by `remoteAddress|remotePort`: the call's connection, for the pipeline. */
  readonly accepted = new Map<string, Socket>();
  private readonly injector: ConnectionInjector;

  constructor(server: Server, options: MeshListenerOptions) {
    super(options);
    // TLS is terminated here, so grpc-js sees the decrypted connection.
    this.injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const tlsOptions = this.tlsOptions(['h2']);
    if (tlsOptions) {
      const secure = tls.createServer(tlsOptions);
      secure.on('secureConnection', (socket: TLSSocket) => this.inject(socket));
      this.useSecureServer(secure);
    }
  }

  protected servePlain(socket: Socket): void {
    // Not resumed here (unlike HTTP/1): node:http2 reads the socket's handle itself and takes
    // the sniffed chunk from its buffer; a resumed JS stream would race it for the bytes.
    this.inject(socket);
  }

  private inject(socket: Socket): void {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    this.accepted.set(key, socket);
    socket.once('close', () => {
      if (this.accepted.get(key) === socket) this.accepted.delete(key);
    });
    this.injector.injectConnection(socket);
  }

  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.injector.drain(1000);
    return this;
  }

  destroyConnections(): void {
    this.injector.destroy();
    for (const s of this.accepted.values()) s.destroy();
  }
}

/**
 * A grpc-js `Server` whose calls go through the inbound pipeline. Add services as usual, then
 * `await server.bindMesh('0.0.0.0:9090')` instead of `bindAsync`.
 *
 * @example
 * const server = new MeshGrpcServer({ mesh });
 * server.addService(EchoService, handlers);
 * const port = await server.bindMesh('127.0.0.1:0');
 */
export class MeshGrpcServer extends Server {
  readonly inbound: Inbound;
  private readonly ports: GrpcPort[] = [];
  private readonly listenerOptions: MeshListenerOptions;

  constructor(options: MeshGrpcServerOptions = {}) {
    const { grpc, ...rest } = options;
    const inbound = rest.inbound ?? createInbound(rest);
    // The interceptor needs this server's ports, which exist only after construction.
    const ref: { server?: MeshGrpcServer } = {};
    super({ ...grpc, interceptors: [meshServerInterceptor(inbound, (key) => ref.server?.connection(key)), ...(grpc?.interceptors ?? [])] });
    ref.server = this;
    this.inbound = inbound;
    this.listenerOptions = { portName: 'grpc', ...rest, inbound };
  }

  /**
   * As grpc-js's addService, with each method's request deserializer wrapped to note encoded
   * sizes for `istio_request_bytes` (the interceptor sees decoded messages only).
   */
  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    const sized = Object.fromEntries(Object.entries(service).map(([name, def]) => [name, { ...def, requestDeserialize: sizedDeserializer(def.requestDeserialize) }]));
    super.addService(sized as ServiceDefinition, implementation);
  }

  /** Listens on `host:port` (port 0: any free port) with mTLS and plaintext per PeerAuthentication; resolves with the port. */
  bindMesh(address: string): Promise<number> {
    const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(address);
    if (!m) return Promise.reject(new TypeError(`bindMesh: expected host:port, got ${JSON.stringify(address)}`));
    const host = m[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
    const port = new GrpcPort(this, this.listenerOptions);
    this.ports.push(port);
    return new Promise((resolve, reject) => {
      port.once('error', reject);
      port.listen(Number(m[2]), host, () => {
        port.off('error', reject);
        const a = port.address();
        resolve(a && typeof a === 'object' ? a.port : Number(m[2]));
      });
    });
  }

  /** Connections closed by PeerAuthentication on this server's ports so far. */
  rejectedConnections(): number {
    return this.ports.reduce((n, p) => n + p.rejectedConnections, 0);
  }

  /** The accepted connection a call came on. */
  connection(key: string): Socket | undefined {
    for (const p of this.ports) {
      const s = p.accepted.get(key);
      if (s) return s;
    }
    return undefined;
  }

  /** Stops accepting, lets calls in flight finish (as grpc-js's tryShutdown), then calls back. */
  override tryShutdown(callback: (error?: Error) => void): void {
    for (const p of this.ports) p.close();
    super.tryShutdown(callback);
  }

  /** Closes the ports and every connection at once. */
  override forceShutdown(): void {
    for (const p of this.ports) {
      p.close();
      p.destroyConnections();
    }
    super.forceShutdown();
  }
}

/** A gRPC status for a local reply of the pipeline (its grpc-status header, its body as details). */
function replyStatus(v: Extract<InboundVerdict, { action: 'reply' }>): { code: number; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  const auth = v.headers['www-authenticate'];
  if (typeof auth === 'string') metadata.set('www-authenticate', auth);
  const code = Number(v.headers['grpc-status'] ?? Status.UNKNOWN);
  return { code, details: v.body || decodeURIComponent(String(v.headers['grpc-message'] ?? '')), metadata };
}

/**
 * Request messages' encoded sizes, noted by the wrapped deserializers of `MeshGrpcServer`
 * (the interceptor only sees decoded messages), read once by the call that receives them.
 */
const requestSizes = new WeakMap<object, number>();

/** A method's request deserializer that notes the size of what it decodes (5-byte frame header included). */
function sizedDeserializer<T>(deserialize: (b: Buffer) => T): (b: Buffer) => T {
  return (b: Buffer) => {
    const m = deserialize(b);
    if (m !== null && typeof m === 'object') requestSizes.set(m as object, 5 + b.length);
    return m;
  };
}

const NO_FLAGS: readonly string[] = Object.freeze([]);
const DC: readonly string[] = Object.freeze(['DC']);

/** One inbound call: the pipeline's verdict, then (with telemetry) what Istio's inbound listener reports. */
class InboundGrpcCall {
  private readonly start = performance.now();
  private peer: WorkloadMetadata | undefined;
  private exchanged = false;
  private metadataSent = false;
  private span: SpanHandle | undefined;
  private requestId: string | undefined;
  private requestMessages = 0;
  private responseMessages = 0;
  private requestBytes = 0;
  private responseBytes = 0;
  private details = 'via_upstream';
  private recorded = false;
  private socket: Socket | undefined;
  private context: MeshworkContext | undefined;
  private headers: Record<string, string> = {};

  constructor(
    private readonly inbound: Inbound,
    private readonly t: MeshTelemetry | undefined,
    private readonly method: ServerMethodDefinition<unknown, unknown>,
    private readonly call: ServerInterceptingCallInterface,
    private readonly connectionOf: (key: string) => Socket | undefined,
  ) {}

  onMetadata(metadata: Metadata, next: (m: Metadata) => void): void {
    const call = this.call;
    const info = call.getConnectionInfo();
    const socket = this.connectionOf(`${info.remoteAddress}|${info.remotePort}`);
    if (!socket) {
      // Not one of our connections (the server was also bound with bindAsync): no pipeline can vouch for it.
      call.sendStatus({ code: Status.UNAVAILABLE, details: 'meshwork: call on a connection the mesh port did not accept (use bindMesh, not bindAsync)' });
      return;
    }
    this.socket = socket;
    // The text entries as a header bag: telemetry's start and the pipeline read and change it.
    const headers = headersOf(metadata);
    if (this.t) this.startTelemetry(this.t, metadata, headers, socket);
    const before = { ...headers };
    headers['content-type'] ??= 'application/grpc';
    headers[':authority'] ??= call.getHost();
    headers.host ??= call.getHost();
    this.headers = headers;
    const req = { method: 'POST', url: this.method.path, headers, socket };
    const settle = (v: InboundVerdict) => {
      this.inbound.observe(req, v);
      this.context = v.context;
      if (v.action === 'continue') {
        // RequestAuthentication may have set or stripped headers (outputPayloadToHeader,
        // forwardOriginalToken): the handler sees the metadata as the pipeline left it.
        for (const [k, val] of Object.entries(before)) if (req.headers[k] !== val) metadata.remove(k);
        for (const [k, val] of Object.entries(req.headers)) if (before[k] !== val && !k.startsWith(':') && k !== 'host' && k !== 'content-type') metadata.set(k, val);
        setMeshwork(metadata, v.context);
        this.proceed(next, metadata);
      } else if (v.action === 'reply') {
        this.details = v.reason === 'rbac' ? rbacDetails(v.context) : jwtDetails(v.body);
        this.localStatus(replyStatus(v));
      } else {
        // A refused peer (the port closes such connections first; this is the per-call check).
        this.recorded = true;
        this.span?.end({ statusCode: 0 });
        call.sendStatus({ code: Status.UNAVAILABLE, details: `meshwork: connection refused by PeerAuthentication (${v.reason})` });
        socket.destroy();
      }
    };
    let verdict: InboundVerdict | Promise<InboundVerdict>;
    try {
      verdict = this.inbound.evaluate(req);
    } catch {
      this.localStatus({ code: Status.INTERNAL, details: 'meshwork: inbound pipeline failed', metadata: new Metadata() });
      return;
    }
    if (verdict instanceof Promise) verdict.then(settle, () => this.localStatus({ code: Status.INTERNAL, details: 'meshwork: inbound pipeline failed', metadata: new Metadata() }));
    else settle(verdict);
  }

  /**
   * Before the pipeline and the handler: the caller's exchange metadata read and removed, the
   * server span started (joined to the caller's trace), x-request-id kept or made, the span's
   * trace context written over the caller's (as Envoy rewrites them for the application).
   */
  private startTelemetry(t: MeshTelemetry, metadata: Metadata, bag: HeaderBag, socket: Socket): void {
    const before = { ...bag };
    const begun = beginInbound(t, bag, { method: 'POST', target: this.method.path, authority: this.call.getHost(), socket });
    this.peer = begun.peer;
    this.exchanged = begun.exchanged;
    this.span = begun.span;
    this.requestId = begun.requestId;
    // What it removed and wrote (exchange entries, trace headers, x-request-id), back into the metadata.
    for (const k of Object.keys(before)) if (!(k in bag)) metadata.remove(k);
    for (const [k, v] of Object.entries(bag)) if (v !== before[k] && typeof v === 'string') metadata.set(k, v);
  }

  /**
   * Goes on to the handler inside the call's deadline and trace context: grpc-js runs a
   * streaming-request handler from this very `next`, a unary or server-streaming one from
   * the half-close (`onHalfClose`). Outbound calls the handler makes (fetch or gRPC through
   * the mesh) then carry the caller's remaining deadline and join the server span's trace.
   */
  proceed<A>(next: (a: A) => void, arg: A): void {
    const d = this.call.getDeadline();
    const deadline = d instanceof Date ? d.getTime() : Number(d);
    const go = Number.isFinite(deadline) ? () => withDeadline(Math.max(0, deadline - Date.now()), () => next(arg)) : () => next(arg);
    if (this.span) runInContext(this.span.context, go);
    else if (this.requestId !== undefined) runInContext(contextWithRequestId(this.requestId), go);
    else go();
  }

  onHalfClose(next: () => void): void {
    this.proceed(next, undefined);
  }

  onMessage(message: unknown, next: (m: unknown) => void): void {
    if (this.t) {
      this.requestMessages++;
      if (this.t.metrics) this.requestBytes += message instanceof Uint8Array ? 5 + message.byteLength : message !== null && typeof message === 'object' ? (requestSizes.get(message) ?? 0) : 0;
    }
    next(message);
  }

  /** Our side of the exchange in `md`, only to a peer that sent its own (Istio's request_peer_received_). */
  private answerExchange(md: Metadata): Metadata {
    if (this.exchanged && this.t) {
      md.set(PEER_METADATA_ID_HEADER, this.t.peerMetadataId);
      md.set(PEER_METADATA_HEADER, this.t.peerMetadata);
    }
    return md;
  }

  sendMetadata(md: Metadata, next: (m: Metadata) => void): void {
    this.metadataSent = true;
    next(this.answerExchange(md));
  }

  sendMessage(message: unknown, next: (m: unknown) => void): void {
    if (this.t) {
      this.responseMessages++;
      if (this.t.metrics) {
        try {
          this.responseBytes += message instanceof Uint8Array ? 5 + message.byteLength : 5 + this.method.responseSerialize(message).length;
        } catch {
          /* the handler's message fails to encode: grpc-js reports it; no size to count */
        }
      }
    }
    next(message);
  }

  sendStatus(status: PartialStatusObject, next: (s: PartialStatusObject) => void): void {
    // A trailers-only answer carries the exchange in its one header block.
    if (this.exchanged && this.t && !this.metadataSent) status = { ...status, metadata: this.answerExchange(status.metadata ?? new Metadata()) };
    this.record(status.code, false);
    next(status);
  }

  onCancel(): void {
    this.record(Status.CANCELLED, true);
  }

  /** Answers from the pipeline itself (401, 403 as gRPC statuses), recorded as Envoy records a local reply. */
  private localStatus(status: PartialStatusObject): void {
    if (this.exchanged && this.t) status = { ...status, metadata: this.answerExchange(status.metadata ?? new Metadata()) };
    this.record(status.code, false);
    this.call.sendStatus(status);
  }

  private record(grpcStatus: number, cancelled: boolean): void {
    const t = this.t;
    if (!t || this.recorded) return;
    this.recorded = true;
    try {
      recordInboundOn(t, {
        method: 'POST',
        target: this.method.path,
        httpVersion: '2.0',
        durationMs: performance.now() - this.start,
        status: cancelled ? 0 : 200,
        flags: cancelled ? DC : NO_FLAGS,
        details: cancelled ? 'downstream_remote_disconnect' : this.details,
        requestBytes: this.requestBytes,
        responseBytes: this.responseBytes,
        grpc: true,
        grpcStatus,
        requestMessages: this.requestMessages,
        responseMessages: this.responseMessages,
        peer: this.peer,
        span: this.span,
        requestId: this.requestId,
        requestHeaders: this.headers,
      }, this.socket, this.context);
    } catch {
      /* telemetry never breaks a call */
    }
  }
}

/**
 * The server interceptor: runs the inbound pipeline when a call's metadata arrives and lets it
 * reach the handler only on `continue`; with the Mesh's telemetry, reports the call
 * (reporter=destination metrics, server span, access log) and answers the metadata exchange.
 * `connectionOf` finds the socket the call came on. The handler finds the pipeline's result
 * with `meshworkOf(call.metadata)` (peer principal, JWT claims, decision).
 */
export function meshServerInterceptor(inbound: Inbound, connectionOf: (key: string) => Socket | undefined): ServerInterceptor {
  return (method, call) => {
    const c = new InboundGrpcCall(inbound, inbound.mesh.telemetry, method as ServerMethodDefinition<unknown, unknown>, call, connectionOf);
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => c.onMetadata(metadata, next))
      .withOnReceiveMessage((message, next) => c.onMessage(message, next))
      .withOnReceiveHalfClose((next) => c.onHalfClose(next))
      .withOnCancel(() => c.onCancel())
      .build();
    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendMetadata((md, next) => c.sendMetadata(md, next))
      .withSendMessage((m, next) => c.sendMessage(m, next))
      .withSendStatus((s, next) => c.sendStatus(s, next))
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}
