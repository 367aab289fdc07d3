/**
 * One port for mTLS and plaintext, as a sidecar's inbound listener under PERMISSIVE: the
 * first byte of a connection tells them apart (0x16 opens a TLS handshake record), then the
 * connection goes to an https server (client certificate required and chained to the mesh
 * roots) or to a plain http server. Under STRICT a plaintext connection is closed before any
 * HTTP exchange; under DISABLE a TLS one is. The mode is read per connection from the
 * snapshot in force, per port (portLevelMtls).
 */
import http from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import type tls from 'node:tls';
import { bindServerIdentity, serverTlsOptions, serverTlsSettings, type IdentitySource } from '@meshwork/identity';
import { refusedConnection } from '@meshwork/policy';
import { createInbound, type Inbound, type InboundOptions } from './inbound.js';
import { runInbound } from './http.js';
import { MeshIncomingMessage } from './telemetry.js';

export interface MeshListenerOptions extends InboundOptions {
  /** A pipeline to share (e.g. with `meshworkMiddleware`); else one is made from the options. */
  inbound?: Inbound | undefined;
  /** The workload's certificate source; without one the server takes plaintext only. */
  identity?: IdentitySource | undefined;
  /** A connection that sends nothing is closed after this long (default 15 s, Envoy's listener filter timeout). */
  firstByteTimeoutMs?: number | undefined;
  /**
   * With a control service: the name of the Service port this server is, as its WorkloadEntry
   * will say (`ports: {<name>: <port>}`). Default `http` for HTTP servers, `grpc` for gRPC ones.
   */
  portName?: string | undefined;
}

export interface MeshServerOptions extends MeshListenerOptions {
  /**
   * Run the request pipeline (JWT, authorization) here (default true). Set false when a
   * framework adapter (Express middleware, Fastify plugin) runs it, so it runs once.
   */
  pipeline?: boolean | undefined;
  /** Options for the node:http servers behind the port (timeouts, header limits). */
  http?: http.ServerOptions | undefined;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const TLS_HANDSHAKE = 0x16;

/**
 * The port of a meshed server, whatever protocol runs behind it: a `net.Server` that tells
 * mTLS from plaintext by the first byte, closes what the port's PeerAuthentication refuses,
 * hands plaintext connections to `servePlain` and TLS ones to the TLS server the subclass
 * gives `useSecureServer` (made with `tlsOptions()`: the workload certificate, client
 * certificates required, kept current on rotation). With a control service it starts
 * listening once the mesh is ready, and announces its port. HTTP (`MeshServer`) and gRPC
 * (@meshwork/grpc) servers extend it.
 */
export abstract class MeshListener extends net.Server {
  readonly inbound: Inbound;
  /** Connections closed by PeerAuthentication so far (plaintext on STRICT, TLS on DISABLE). */
  rejectedConnections = 0;
  /** The workload's certificate source (the mesh's own unless one was given). */
  protected readonly identity: IdentitySource | undefined;
  private readonly ownsInbound: boolean;
  private readonly identityGiven: boolean;
  private secure: tls.Server | undefined;
  private identitySubscription: { dispose(): void } | undefined;
  protected closing = false as boolean;

  constructor(options: MeshListenerOptions = {}) {
    // The servers behind the port never accept a socket themselves, so Nagle's algorithm must
    // be turned off here (node:http does it for its own): else a response written in two steps
    // waits ~40 ms for the peer's delayed ACK.
    super({ noDelay: true });
    this.ownsInbound = !options.inbound;
    this.inbound = options.inbound ?? createInbound(options);
    const inbound = this.inbound;
    // The mesh's own identity (e.g. signed by the control service) unless one is given here.
    this.identity = options.identity ?? inbound.mesh.identity;
    this.identityGiven = options.identity !== undefined;
    const timeout = options.firstByteTimeoutMs ?? 15_000;
    this.on('connection', (socket: Socket) => this.sniff(socket, timeout));
    // The control service learns where this workload serves (its WorkloadEntry's address and port).
    this.on('listening', () => {
      const a = this.address();
      if (a && typeof a === 'object') inbound.mesh.announce(a.address, a.port, options.portName);
    });
  }

  /**
   * TLS options for the TLS server behind the port (undefined without an identity). With a
   * control service the certificate may not exist yet: the server then starts without one
   * and takes it from the first 'change' (listen waits for it, see below).
   */
  protected tlsOptions(alpnProtocols?: readonly string[]): tls.TlsOptions | undefined {
    const identity = this.identity;
    if (!identity) return undefined;
    const settings = alpnProtocols ? { alpnProtocols } : {};
    return this.inbound.mesh.isReady || this.identityGiven ? serverTlsOptions(identity.current(), settings) : serverTlsSettings(settings);
  }

  /** The TLS server that takes mTLS connections; it follows certificate rotation from here on. */
  protected useSecureServer(server: tls.Server): void {
    this.secure = server;
    // Rotation: new handshakes take the new certificate; open connections keep theirs.
    this.identitySubscription = bindServerIdentity(server, this.identity!);
    // A failed handshake (no client certificate, foreign CA, expired) closes that connection only.
    server.on('tlsClientError', (_err, socket) => socket.destroy());
  }

  /** Takes a plaintext connection; its first chunk is back in its buffer and it is paused. */
  protected abstract servePlain(socket: Socket): void;

  /**
   * As `net.Server.listen`, except that with a control service the port opens only once the
   * mesh is ready (a snapshot and a certificate are in force): serving before would mean
   * serving without the PeerAuthentication and AuthorizationPolicy the workload is under.
   */
  override listen(...args: any[]): this {
    const mesh = this.inbound.mesh;
    if (mesh.isReady) return super.listen(...args);
    const warn = setTimeout(() => {
      const s = mesh.controlStatus();
      process.emitWarning(`the server is not listening yet: no snapshot and certificate from the control service${s?.lastError ? ` (${s.lastError})` : ''}`, { code: 'MESHWORK_CONTROL' });
    }, 30_000);
    warn.unref();
    void mesh.ready(2 ** 31 - 1).then(() => {
      clearTimeout(warn);
      if (!this.closing) super.listen(...args);
    });
    return this;
  }

  private sniff(socket: Socket, timeoutMs: number): void {
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      const isTls = chunk[0] === TLS_HANDSHAKE;
      if ((isTls && !this.secure) || refusedConnection(this.inbound.mtlsMode(socket.localPort ?? 0), isTls)) {
        this.rejectedConnections++;
        socket.destroy();
        return;
      }
      // The servers behind take the socket with the first chunk still in its buffer.
      if (isTls) this.secure!.emit('connection', socket);
      else this.servePlain(socket);
    });
  }

  /** Stops accepting; what runs behind the port is the subclass's to drain. */
  override close(callback?: (err?: Error) => void): this {
    this.closing = true;
    super.close(callback);
    this.identitySubscription?.dispose();
    if (this.ownsInbound) this.inbound.close();
    return this;
  }
}

/**
 * A `net.Server` that serves `handler` over mTLS and plaintext on one port, applying the
 * inbound pipeline. Use it as you would `http.createServer(handler)`: `.listen(port)`.
 */
export class MeshServer extends MeshListener {
  private readonly plain: http.Server;
  private readonly secureHttp: https.Server | undefined;

  constructor(handler: Handler, readonly options: MeshServerOptions = {}) {
    super(options);
    const inbound = this.inbound;
    const serve: Handler = options.pipeline === false ? handler : (req, res) => runInbound(inbound, req, res, handler);
    // The http servers behind the port never listen themselves, so closing the port does not
    // end their keep-alive connections: a busy client would hold `close()` open for as long as
    // it keeps sending. Once closing, each response says `Connection: close` (as Envoy drains).
    const app: Handler = (req, res) => {
      if (this.closing) res.shouldKeepAlive = false;
      serve(req, res);
    };
    // Requests whose headersDistinct survives the exchange headers' removal (unless the
    // application brings its own request class).
    const httpOptions: http.ServerOptions = { IncomingMessage: MeshIncomingMessage, ...(options.http ?? {}) };
    this.plain = http.createServer(httpOptions, app);
    const tlsOptions = this.tlsOptions();
    if (tlsOptions) {
      this.secureHttp = https.createServer({ ...httpOptions, ...tlsOptions }, app);
      this.useSecureServer(this.secureHttp);
    }
  }

  protected servePlain(socket: Socket): void {
    this.plain.emit('connection', socket);
    socket.resume();
  }

  /** Stops accepting; idle keep-alive connections close now, busy ones after their response. */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.plain.closeIdleConnections();
    this.secureHttp?.closeIdleConnections();
    return this;
  }

  /**
   * Timeouts of the servers behind the port (they are not the `net.Server` the framework sees):
   * `keepAliveTimeout`, `requestTimeout`, `headersTimeout`, `maxRequestsPerSocket`, and
   * `connectionTimeout` (socket idle timeout). Fastify's server factory passes its own here.
   */
  setHttpTimeouts(t: { keepAliveTimeout?: number | undefined; requestTimeout?: number | undefined; headersTimeout?: number | undefined; maxRequestsPerSocket?: number | null | undefined; connectionTimeout?: number | undefined }): void {
    for (const srv of [this.plain, this.secureHttp]) {
      if (!srv) continue;
      if (t.keepAliveTimeout !== undefined) srv.keepAliveTimeout = t.keepAliveTimeout;
      if (t.requestTimeout !== undefined) srv.requestTimeout = t.requestTimeout;
      if (t.headersTimeout !== undefined) srv.headersTimeout = t.headersTimeout;
      if (t.maxRequestsPerSocket !== undefined) srv.maxRequestsPerSocket = t.maxRequestsPerSocket;
      if (t.connectionTimeout !== undefined && t.connectionTimeout > 0) srv.setTimeout(t.connectionTimeout);
    }
  }

  /** Closes every connection, busy or not. */
  closeAllConnections(): void {
    this.plain.closeAllConnections();
    this.secureHttp?.closeAllConnections();
  }

  closeIdleConnections(): void {
    this.plain.closeIdleConnections();
    this.secureHttp?.closeIdleConnections();
  }
}

/**
 * `http.createServer` for the mesh: one port, mTLS and plaintext per PeerAuthentication, the
 * peer's identity, JWT and authorization before `handler` runs.
 *
 * @example
 * const server = createMeshServer((req, res) => res.end(`hello ${meshworkOf(req)?.principal}`), { mesh, identity });
 * server.listen(9080);
 */
export function createMeshServer(handler: Handler, options: MeshServerOptions = {}): MeshServer {
  return new MeshServer(handler, options);
}
