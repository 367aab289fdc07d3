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
import { Metadata, Server, ServerCredentials, ServerInterceptingCall, ServerListenerBuilder, status as Status, type ServerInterceptor, type ServerOptions } from '@grpc/grpc-js';
import { MeshListener, createInbound, setMeshwork, type Inbound, type InboundVerdict, type MeshListenerOptions } from '@meshwork/server';

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
    this.listenerOptions = { ...rest, inbound };
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
 * The server interceptor: runs the inbound pipeline when a call's metadata arrives and lets it
 * reach the handler only on `continue`. `connectionOf` finds the socket the call came on.
 * The handler finds the result with `meshworkOf(call.metadata)` (peer principal, JWT claims, decision).
 */
export function meshServerInterceptor(inbound: Inbound, connectionOf: (key: string) => Socket | undefined): ServerInterceptor {
  return (method, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const info = call.getConnectionInfo();
        const socket = connectionOf(`${info.remoteAddress}|${info.remotePort}`);
        if (!socket) {
          // Not one of our connections (the server was also bound with bindAsync): no pipeline can vouch for it.
          call.sendStatus({ code: Status.UNAVAILABLE, details: 'meshwork: call on a connection the mesh port did not accept (use bindMesh, not bindAsync)' });
          return;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === 'string') headers[k] = v;
        const before = { ...headers };
        headers['content-type'] ??= 'application/grpc';
        headers[':authority'] ??= call.getHost();
        headers.host ??= call.getHost();
        const req = { method: 'POST', url: method.path, headers, socket };
        const settle = (v: InboundVerdict) => {
          inbound.observe(req, v);
          if (v.action === 'continue') {
            // RequestAuthentication may have set or stripped headers (outputPayloadToHeader,
            // forwardOriginalToken): the handler sees the metadata as the pipeline left it.
            for (const [k, val] of Object.entries(before)) if (req.headers[k] !== val) metadata.remove(k);
            for (const [k, val] of Object.entries(req.headers)) if (before[k] !== val && !k.startsWith(':') && k !== 'host' && k !== 'content-type') metadata.set(k, val);
            setMeshwork(metadata, v.context);
            next(metadata);
          } else if (v.action === 'reply') call.sendStatus(replyStatus(v));
          else {
            // A refused peer (the port closes such connections first; this is the per-call check).
            call.sendStatus({ code: Status.UNAVAILABLE, details: `meshwork: connection refused by PeerAuthentication (${v.reason})` });
            socket.destroy();
          }
        };
        let verdict: InboundVerdict | Promise<InboundVerdict>;
        try {
          verdict = inbound.evaluate(req);
        } catch {
          call.sendStatus({ code: Status.INTERNAL, details: 'meshwork: inbound pipeline failed' });
          return;
        }
        if (verdict instanceof Promise) verdict.then(settle, () => call.sendStatus({ code: Status.INTERNAL, details: 'meshwork: inbound pipeline failed' }));
        else settle(verdict);
      })
      .build();
    return new ServerInterceptingCall(call, { start: (next) => next(listener) });
  };
}
