/**
 * `installMesh({ mesh })`: clients made the plain grpc-js way
 * (`new ReviewsClient('reviews.default:9080', credentials.createInsecure())`) send calls to mesh
 * names through the mesh, with the same call logic as `createMeshClient` (MeshCall: routing,
 * retries, deadlines, faults, mirroring, mTLS, telemetry). Targets the mesh does not know keep
 * their own channel.
 *
 * Where it hooks in, and why there: grpc-js has no global interceptors, no public way to set
 * the default resolver scheme, and generated stubs call the request methods grpc-js captured
 * when it loaded. What every call of every client does reach is its channel's `createCall`
 * (public `ChannelInterface`), below the client's own interceptors, with encoded messages.
 * For a channel whose target names a mesh service, the call returned is a bridge: it collects
 * what the client does in its first synchronous steps and then runs a MeshCall whose attempts
 * are calls of a `meshwork:` channel for the same authority.
 *
 * The bridge only sees encoded messages, not the method's kind; grpc-js's own call order
 * tells it: a unary-response call reads (`startRead`) before its first message, a unary
 * request sends one message and half-closes at once. A call the bridge cannot tell is treated
 * as streaming, which only means it is not retried.
 */
import { Channel, Metadata, status as Status, type ChannelOptions } from '@grpc/grpc-js';
import type { Mesh } from '@meshwork/core';
import { MeshCall, splitAuthority, type MeshInterceptorOptions } from './client.js';
import { MeshChannelCredentials } from './credentials.js';
import { SCHEME, meshChannelArgs, registerMeshwork } from './balancer.js';

export interface InstallMeshOptions extends MeshInterceptorOptions {
  mesh: Mesh;
  /** Options of the mesh channels made for plain clients (keepalive, message sizes, ...). */
  channelOptions?: ChannelOptions | undefined;
}

export interface InstalledMesh {
  readonly mesh: Mesh;
  /** Puts grpc-js's `createCall` back and closes the mesh channels it made. */
  close(): void;
}

type CreateCall = Channel['createCall'];
type GrpcCall = ReturnType<CreateCall>;
type Listener = Parameters<GrpcCall['start']>[1];
type MessageContext = Parameters<GrpcCall['sendMessageWithContext']>[0];

/** `dns:host:port`, `dns:///host:port` or `host:port` → `host:port` (grpc-js's default port 443); other schemes are not mesh names. */
export function plainAuthority(target: string): string | undefined {
  let rest = target;
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\d+$)/i.exec(target);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'dns') return undefined;
    rest = target.slice(scheme[0].length).replace(/^\/\/[^/]*\//, '').replace(/^\/+/, '');
  }
  if (rest === '' || rest.includes('/')) return undefined;
  return /:\d+$/.test(rest) ? rest : `${rest}:443`;
}

const identity = (b: Buffer): Buffer => b;

/** The Call grpc-js gets for a plain client's call to a mesh name. */
class BridgeCall implements GrpcCall {
  private mc: MeshCall | undefined;
  private metadata: Metadata | undefined;
  private listener: Listener | undefined;
  private readonly queued: { context: MessageContext; message: Buffer }[] = [];
  private halfClosed = false;
  private reading = false;
  private readBeforeMessage = false;
  private cancelled: { code: Status; details: string } | undefined;

  constructor(
    private readonly mesh: Mesh,
    private readonly target: MeshTarget,
    private readonly method: string,
    private readonly deadline: Parameters<CreateCall>[1],
    private readonly host: string | null | undefined,
    private readonly options: MeshInterceptorOptions,
  ) {}

  start(metadata: Metadata, listener: Listener): void {
    this.metadata = metadata;
    this.listener = listener;
    // grpc-js makes its first moves (read, message, half-close) synchronously after start.
    queueMicrotask(() => this.begin());
  }

  private begin(): void {
    if (this.cancelled) {
      this.listener!.onReceiveStatus({ code: this.cancelled.code, details: this.cancelled.details, metadata: new Metadata() });
      return;
    }
    const responseUnary = this.readBeforeMessage;
    const requestUnary = this.halfClosed && this.queued.length === 1;
    const { authority, host, port, channel } = this.target;
    const method_definition = { path: this.method, requestStream: !requestUnary, responseStream: !responseUnary, requestSerialize: identity, responseDeserialize: identity, meshworkEncoded: true } as never;
    const callOptions = { method_definition, deadline: this.deadline, ...(this.host ? { host: this.host } : {}) };
    const nextCall = (o: { deadline?: Parameters<CreateCall>[1]; host?: string }) => {
      const c = channel.createCall(this.method, o.deadline ?? Infinity, o.host, null, undefined);
      return Object.assign(c, { sendMessage: (m: Buffer) => c.sendMessageWithContext({}, m) });
    };
    const mc = new MeshCall(this.mesh, host, port, authority, this.options, callOptions as never, nextCall as never);
    this.mc = mc;
    mc.start(this.metadata!, this.listener as never);
    for (const q of this.queued.splice(0)) mc.sendMessageWithContext(q.context, q.message);
    if (this.halfClosed) mc.halfClose();
    if (this.reading) mc.startRead();
  }

  sendMessageWithContext(context: MessageContext, message: Buffer): void {
    if (this.mc) return this.mc.sendMessageWithContext(context, message);
    this.queued.push({ context, message });
  }

  startRead(): void {
    if (this.mc) return this.mc.startRead();
    if (this.queued.length === 0) this.readBeforeMessage = true;
    this.reading = true;
  }

  halfClose(): void {
    if (this.mc) return this.mc.halfClose();
    this.halfClosed = true;
  }

  cancelWithStatus(code: Status, details: string): void {
    if (this.mc) return this.mc.cancelWithStatus(code, details);
    this.cancelled = { code, details };
  }

  getPeer(): string {
    return this.mc?.getPeer() ?? '';
  }

  getCallNumber(): number {
    return 0;
  }

  setCredentials(): void {
    /* per-call credentials do not apply: the mesh decides the transport's identity */
  }

  getAuthContext(): ReturnType<GrpcCall['getAuthContext']> {
    return (this.mc?.getAuthContext() ?? null) as ReturnType<GrpcCall['getAuthContext']>;
  }
}

/** A mesh name plain clients address, with its parts and the mesh channel made for it (once per name). */
interface MeshTarget {
  authority: string;
  host: string;
  port: number;
  channel: Channel;
}

let installed: { restore(): void } | undefined;

/**
 * Sends the calls of plain grpc-js clients whose target is a mesh name through the mesh. One
 * mesh per process; installing again replaces the previous one.
 *
 * @example
 * installMesh({ mesh });
 * const client = new ReviewsClient('reviews.default:9080', grpc.credentials.createInsecure());
 * client.getReview({ id: 1 }, cb); // routed, balanced, retried and mTLS'd by the mesh
 */
export function installMesh(options: InstallMeshOptions): InstalledMesh {
  installed?.restore();
  registerMeshwork();
  const { mesh, channelOptions, ...callOptions } = options;
  const proto = Channel.prototype as unknown as { createCall: CreateCall };
  const original = proto.createCall;
  const targets = new Map<string, MeshTarget>();
  const meshChannels = new WeakSet<Channel>();
  const targetFor = (authority: string): MeshTarget => {
    let t = targets.get(authority);
    if (!t) {
      const channel = new Channel(`${SCHEME}:///${authority}`, new MeshChannelCredentials(mesh), { ...channelOptions, ...meshChannelArgs(mesh) });
      t = { authority, ...splitAuthority(authority), channel };
      targets.set(authority, t);
      meshChannels.add(channel);
    }
    return t;
  };
  // A channel's target never changes: its mesh-name reading (null: not a mesh name's form) is kept per channel.
  const authorities = new WeakMap<Channel, string | null>();
  // Whether an authority names a mesh service, decided once per authority and snapshot (a name
  // can join or leave the mesh with a snapshot; the answer depends on nothing else).
  let decidedFor: unknown;
  const meshNames = new Map<string, boolean>();
  const isMeshName = (authority: string): boolean => {
    if (mesh.snapshot !== decidedFor) {
      decidedFor = mesh.snapshot;
      meshNames.clear();
    }
    let inMesh = meshNames.get(authority);
    if (inMesh === undefined) {
      const port = Number(authority.slice(authority.lastIndexOf(':') + 1));
      try {
        inMesh = mesh.decide({ method: 'POST', scheme: 'http', authority, port, target: '/', headers: {} }).action !== 'passthrough';
      } catch {
        inMesh = false;
      }
      meshNames.set(authority, inMesh);
    }
    return inMesh;
  };
  proto.createCall = function (this: Channel, method, deadline, host, parentCall, propagateFlags) {
    if (!meshChannels.has(this)) {
      let authority = authorities.get(this);
      if (authority === undefined) authorities.set(this, (authority = plainAuthority(this.getTarget()) ?? null));
      if (authority !== null && isMeshName(authority)) {
        return new BridgeCall(mesh, targetFor(authority), method, deadline, host, callOptions);
      }
    }
    return original.call(this, method, deadline, host, parentCall, propagateFlags);
  };
  const state = {
    restore() {
      proto.createCall = original;
      for (const t of targets.values()) t.channel.close();
      targets.clear();
      if (installed === state) installed = undefined;
    },
  };
  installed = state;
  return { mesh, close: () => state.restore() };
}
