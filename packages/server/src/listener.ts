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
import { bindServerIdentity, serverTlsOptions, serverTlsSettings, type IdentitySource } from '@meshwork/identity';
import { refusedConnection } from '@meshwork/policy';
import { createInbound, type Inbound, type InboundOptions } from './inbound.js';
import { runInbound } from './http.js';

export interface MeshServerOptions extends InboundOptions {
  /** A pipeline to share (e.g. with `meshworkMiddleware`); else one is made from the options. */
  inbound?: Inbound | undefined;
  /** The workload's certificate source; without one the server takes plaintext only. */
  identity?: IdentitySource | undefined;
  /**
   * Run the request pipeline (JWT, authorization) here (default true). Set false when a
   * framework adapter (Express middleware, Fastify plugin) runs it, so it runs once.
   */
  pipeline?: boolean | undefined;
  /** Options for the node:http servers behind the port (timeouts, header limits). */
  http?: http.ServerOptions | undefined;
  /** A connection that sends nothing is closed after this long (default 15 s, Envoy's listener filter timeout). */
  firstByteTimeoutMs?: number | undefined;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const TLS_HANDSHAKE = 0x16;

/**
 * A `net.Server` that serves `handler` over mTLS and plaintext on one port, applying the
 * inbound pipeline. Use it as you would `http.createServer(handler)`: `.listen(port)`.
 */
export class MeshServer extends net.Server {
  readonly inbound: Inbound;
  /** Connections closed by PeerAuthentication so far (plaintext on STRICT, TLS on DISABLE). */
  rejectedConnections = 0;
  private readonly ownsInbound: boolean;
  private readonly plain: http.Server;
  private readonly secure: https.Server | undefined;
  private readonly identitySubscription: { dispose(): void } | undefined;

  constructor(handler: Handler, readonly options: MeshServerOptions = {}) {
    // The inner http/https servers never accept a socket themselves, so Nagle's algorithm must
    // be turned off here (node:http does it for its own): else a response written in two steps
    // waits ~40 ms for the peer's delayed ACK.
    super({ noDelay: true });
    this.ownsInbound = !options.inbound;
    this.inbound = options.inbound ?? createInbound(options);
    const inbound = this.inbound;
    const serve: Handler = options.pipeline === false ? handler : (req, res) => runInbound(inbound, req, res, handler);
    // The http servers behind the port never listen themselves, so closing the port does not
    // end their keep-alive connections: a busy client would hold `close()` open for as long as
    // it keeps sending. Once closing, each response says `Connection: close` (as Envoy drains).
    const app: Handler = (req, res) => {
      if (this.closing) res.shouldKeepAlive = false;
      serve(req, res);
    };
    this.plain = http.createServer(options.http ?? {}, app);
    // The mesh's own identity (e.g. signed by the control service) unless one is given here.
    const identity = options.identity ?? inbound.mesh.identity;
    if (identity) {
      // With a control service the certificate may not exist yet: the server then starts
      // without one and takes it from the first 'change' (listen waits for it, see below).
      const tls = this.inbound.mesh.isReady || options.identity ? serverTlsOptions(identity.current()) : serverTlsSettings();
      this.secure = https.createServer({ ...(options.http ?? {}), ...tls }, app);
      // Rotation: new handshakes take the new certificate; open connections keep theirs.
      this.identitySubscription = bindServerIdentity(this.secure, identity);
      // A failed handshake (no client certificate, foreign CA, expired) closes that connection only.
      this.secure.on('tlsClientError', (_err, socket) => socket.destroy());
    }
    const timeout = options.firstByteTimeoutMs ?? 15_000;
    this.on('connection', (socket: Socket) => this.sniff(socket, timeout));
    // The control service learns where this workload serves (its WorkloadEntry's address and port).
    this.on('listening', () => {
      const a = this.address();
      if (a && typeof a === 'object') inbound.mesh.announce(a.address, a.port);
    });
  }

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
  private closing = false as boolean;

  private sniff(socket: Socket, timeoutMs: number): void {
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      socket.unshift(chunk);
      const tls = chunk[0] === TLS_HANDSHAKE;
      if ((tls && !this.secure) || refusedConnection(this.inbound.mtlsMode(socket.localPort ?? 0), tls)) {
        this.rejectedConnections++;
        socket.destroy();
        return;
      }
      // The http and tls servers take the socket with the first chunk still in its buffer.
      if (tls) {
        this.secure!.emit('connection', socket);
      } else {
        this.plain.emit('connection', socket);
        socket.resume();
      }
    });
  }

  /** Stops accepting; idle keep-alive connections close now, busy ones after their response. */
  override close(callback?: (err?: Error) => void): this {
    this.closing = true;
    super.close(callback);
    this.plain.closeIdleConnections();
    this.secure?.closeIdleConnections();
    this.identitySubscription?.dispose();
    if (this.ownsInbound) this.inbound.close();
    return this;
  }

  /**
   * Timeouts of the servers behind the port (they are not the `net.Server` the framework sees):
   * `keepAliveTimeout`, `requestTimeout`, `headersTimeout`, `maxRequestsPerSocket`, and
   * `connectionTimeout` (socket idle timeout). Fastify's server factory passes its own here.
   */
  setHttpTimeouts(t: { keepAliveTimeout?: number | undefined; requestTimeout?: number | undefined; headersTimeout?: number | undefined; maxRequestsPerSocket?: number | null | undefined; connectionTimeout?: number | undefined }): void {
    for (const srv of [this.plain, this.secure]) {
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
    this.secure?.closeAllConnections();
  }

  closeIdleConnections(): void {
    this.plain.closeIdleConnections();
    this.secure?.closeIdleConnections();
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
