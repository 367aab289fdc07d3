/**
 * The channel side: a `meshwork:` name resolver and a load-balancing policy registered with
 * grpc-js. They hold no routing logic. The client interceptor (client.ts) decides, per call
 * and per attempt, which endpoint a call goes to (through the Mesh of @meshwork/core: route,
 * subset, load balancer, outlier ejection, circuit breaker) and names it in an internal
 * metadata entry; the picker here maps that name to a subchannel (made on first use), strips
 * the entry so it never goes on the wire, and reports a connection failure to that endpoint as
 * a pick failure the interceptor recognises.
 *
 * Why not grpc-js's own LB policies: round_robin / pick_first know nothing of subsets,
 * weights, locality, outlier ejection or the per-cluster circuit breakers, all of which must
 * be the same decision as for fetch (DESIGN: every decision once, in policy and core).
 */
import { connectivityState as ConnectivityState, Metadata, status as Status, experimental, type ChannelOptions } from '@grpc/grpc-js';
import type { Mesh } from '@meshwork/core';
import { HOST_SUBCHANNEL_OPTION, TLS_SUBCHANNEL_OPTION } from './credentials.js';

export const SCHEME = 'meshwork';
export const LB_POLICY_NAME = 'meshwork_endpoint';
/**
 * Internal per-attempt metadata naming the chosen endpoint and how to connect to it:
 * `<tls decision id> <destination host> <address:port>`; removed in the picker.
 */
export const ENDPOINT_METADATA_KEY = 'x-meshwork-endpoint';

/** The value of the endpoint entry for an attempt. */
export function endpointChoice(tlsId: number, host: string, endpointKey: string): string {
  return `${tlsId} ${host} ${endpointKey}`;
}
/** Marks a call that failed because its endpoint could not be connected to (set by the picker). */
export const CONNECT_FAILURE_METADATA_KEY = 'x-meshwork-connect-failure';
/** Channel option naming the Mesh of a channel (an id into the table below: channel options must stay plain values). */
export const MESH_CHANNEL_OPTION = 'grpc.meshwork.mesh_id';
// Resolver attributes become channel and subchannel options; under this prefix grpc-js leaves
// them out of the subchannel options (an object there would make every update a new connection).
const MESH_ATTRIBUTE = `${experimental.SUBCHANNEL_ARGS_EXCLUDE_KEY_PREFIX}.meshwork.mesh`;

// Channel options are compared and copied by grpc-js, so they carry an id, not the Mesh.
const meshes = new Map<number, WeakRef<Mesh>>();
const ids = new WeakMap<Mesh, number>();
let nextId = 1;

/**
 * The channel options every mesh channel carries: its Mesh, its own subchannels (a shared
 * pool would mix meshes), no HTTP proxy (with https_proxy / grpc_proxy set grpc-js would send
 * the channel through the proxy and bypass the resolver: mesh traffic goes straight to the
 * endpoints, as from a sidecar), and no grpc-js retries (the mesh retries per Istio's policy,
 * on another endpoint; grpc-js's layer would only buffer every call, ~10 us, measured).
 */
export function meshChannelArgs(mesh: Mesh): ChannelOptions {
  return { [MESH_CHANNEL_OPTION]: meshId(mesh), 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_http_proxy': 0, 'grpc.enable_retries': 0 };
}

/** The channel-option value that names `mesh`. */
export function meshId(mesh: Mesh): number {
  let id = ids.get(mesh);
  if (id === undefined) {
    id = nextId++;
    ids.set(mesh, id);
    meshes.set(id, new WeakRef(mesh));
  }
  return id;
}

function meshById(id: unknown): Mesh | undefined {
  if (typeof id !== 'number') return undefined;
  const m = meshes.get(id)?.deref();
  if (!m) meshes.delete(id);
  return m;
}

class MeshResolver implements experimental.Resolver {
  private destroyed = false;
  constructor(
    private readonly target: experimental.GrpcUri,
    private readonly listener: experimental.ResolverListener,
    private readonly options: ChannelOptions,
  ) {}

  updateResolution(): void {
    // A channel that went idle destroys its resolver and later asks the same one again.
    this.destroyed = false;
    // Asynchronously, as resolvers must: the channel is still setting up when it asks.
    process.nextTick(() => {
      if (this.destroyed) return;
      const mesh = meshById(this.options[MESH_CHANNEL_OPTION]);
      if (!mesh) {
        const error = { code: Status.UNAVAILABLE, details: `meshwork: the channel to ${experimental.uriToString(this.target)} has no Mesh (create the client with meshChannelOptions(mesh, target) or createMeshClient)`, metadata: new Metadata() };
        this.listener(experimental.statusOrFromError(error), {}, experimental.statusOrFromError(error), '');
        return;
      }
      // No address list: endpoints come from the Mesh per attempt. The service config selects
      // the policy below whatever the user's channel options say.
      this.listener(experimental.statusOrFromValue([]), { [MESH_ATTRIBUTE]: mesh }, experimental.statusOrFromValue({ loadBalancingConfig: [{ [LB_POLICY_NAME]: {} }], methodConfig: [] }), '');
    });
  }

  destroy(): void {
    this.destroyed = true;
  }

  static getDefaultAuthority(target: experimental.GrpcUri): string {
    return target.path.replace(/^\/+/, '');
  }
}

class MeshLbConfig implements experimental.TypedLoadBalancingConfig {
  getLoadBalancerName(): string {
    return LB_POLICY_NAME;
  }
  toJsonObject(): object {
    return { [LB_POLICY_NAME]: {} };
  }
  static createFromJson(): MeshLbConfig {
    return new MeshLbConfig();
  }
}

interface Entry {
  readonly subchannel: experimental.SubchannelInterface;
  state: ConnectivityState;
  error: string | null;
  readonly listener: experimental.ConnectivityStateListener;
  /** The pick result while READY, made once: grpc-js only reads it, and a pick runs per call. */
  readonly ready: experimental.PickResult;
}

/** `address:port` or `[v6]:port` → a subchannel address. */
function parseEndpoint(key: string): { host: string; port: number } | undefined {
  const i = key.lastIndexOf(':');
  if (i <= 0) return undefined;
  const port = Number(key.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  const host = key.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

class MeshLoadBalancer implements experimental.LoadBalancer {
  private readonly entries = new Map<string, Entry>();
  private mesh: Mesh | undefined;
  private removal: { dispose(): void } | undefined;
  private publishQueued = false;
  private published = false;

  constructor(private readonly helper: experimental.ChannelControlHelper) {}

  updateAddressList(_endpoints: unknown, _config: experimental.TypedLoadBalancingConfig, options: ChannelOptions): boolean {
    const mesh = options[MESH_ATTRIBUTE] as Mesh | undefined;
    if (mesh && mesh !== this.mesh) {
      this.removal?.dispose();
      this.mesh = mesh;
      // Endpoints that leave the mesh lose their connections, as Envoy drains a removed host.
      this.removal = mesh.onEndpointsRemoved((gone) => {
        for (const ep of gone) this.drop(ep.key);
      });
    }
    this.publish();
    return true;
  }

  exitIdle(): void {
    // grpc-js calls this for every call (InternalChannel.getConfig): a picker once is enough,
    // a new one per call would cost the channel a state update and a re-pick each time.
    if (!this.published) this.publish();
  }

  resetBackoff(): void {
    /* the subchannels' own backoff applies; nothing of ours to reset */
  }

  destroy(): void {
    this.removal?.dispose();
    for (const e of this.entries.values()) {
      e.subchannel.removeConnectivityStateListener(e.listener);
      e.subchannel.unref();
    }
    this.entries.clear();
  }

  getTypeName(): string {
    return LB_POLICY_NAME;
  }

  /**
   * The subchannel for an endpoint choice (endpointChoice), connecting on first use. One per
   * endpoint and TLS decision: an endpoint that starts taking mTLS gets a new connection.
   */
  entry(choice: string): Entry | undefined {
    const hit = this.entries.get(choice);
    if (hit) return hit;
    const [tlsId, host, key] = choice.split(' ');
    const address = key ? parseEndpoint(key) : undefined;
    if (!address) return undefined;
    const subchannel = this.helper.createSubchannel(address, { [TLS_SUBCHANNEL_OPTION]: Number(tlsId), [HOST_SUBCHANNEL_OPTION]: host ?? '' });
    const entry: Entry = {
      subchannel,
      state: subchannel.getConnectivityState(),
      error: null,
      ready: Object.freeze({ pickResultType: experimental.PickResultType.COMPLETE, subchannel, status: null, ...NO_CALLBACKS }),
      listener: (_sub, _prev, next, _keepalive, errorMessage) => {
        entry.state = next;
        if (next === ConnectivityState.TRANSIENT_FAILURE) entry.error = errorMessage ?? 'connection failure';
        else if (next === ConnectivityState.READY) entry.error = null;
        // A new picker makes the channel pick again for the calls queued on this endpoint.
        this.publish();
      },
    };
    subchannel.addConnectivityStateListener(entry.listener);
    subchannel.ref();
    this.entries.set(choice, entry);
    return entry;
  }

  /** Closes the subchannels of an endpoint (`address:port`), whatever their TLS. */
  private drop(endpointKey: string): void {
    for (const [choice, e] of this.entries) {
      if (!choice.endsWith(` ${endpointKey}`)) continue;
      this.entries.delete(choice);
      e.subchannel.removeConnectivityStateListener(e.listener);
      e.subchannel.unref();
    }
  }

  /** Publishes a fresh picker (the channel re-runs queued picks), at most once per tick. */
  publish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    process.nextTick(() => {
      this.publishQueued = false;
      this.published = true;
      this.helper.updateState(ConnectivityState.READY, new MeshPicker(this), null);
    });
  }
}

const NO_CALLBACKS = { onCallStarted: null, onCallEnded: null } as const;

class MeshPicker implements experimental.Picker {
  constructor(private readonly lb: MeshLoadBalancer) {}

  pick(args: experimental.PickArgs): experimental.PickResult {
    // The metadata here is the attempt's own copy (grpc-js clones it per pick and sends that
    // copy), so removing the entry keeps it off the wire.
    const chosen = args.metadata.get(ENDPOINT_METADATA_KEY)[0];
    args.metadata.remove(ENDPOINT_METADATA_KEY);
    const entry = typeof chosen === 'string' ? this.lb.entry(chosen) : undefined;
    if (!entry) {
      return {
        pickResultType: experimental.PickResultType.TRANSIENT_FAILURE,
        subchannel: null,
        status: { code: Status.INTERNAL, details: 'meshwork: a call reached the mesh channel without an endpoint (calls must go through the Meshwork interceptor)', metadata: new Metadata() },
        ...NO_CALLBACKS,
      };
    }
    switch (entry.state) {
      case ConnectivityState.READY:
        return entry.ready;
      case ConnectivityState.TRANSIENT_FAILURE: {
        const metadata = new Metadata();
        metadata.set(CONNECT_FAILURE_METADATA_KEY, String(chosen));
        // The endpoint is connected to again on the next pick that chooses it.
        entry.subchannel.startConnecting();
        return { pickResultType: experimental.PickResultType.TRANSIENT_FAILURE, subchannel: null, status: { code: Status.UNAVAILABLE, details: entry.error ?? 'connection failure', metadata }, ...NO_CALLBACKS };
      }
      case ConnectivityState.IDLE:
        entry.subchannel.startConnecting();
        return { pickResultType: experimental.PickResultType.QUEUE, subchannel: null, status: null, ...NO_CALLBACKS };
      default:
        return { pickResultType: experimental.PickResultType.QUEUE, subchannel: null, status: null, ...NO_CALLBACKS };
    }
  }
}

let registered = false;

/** Registers the `meshwork:` resolver and the mesh LB policy with grpc-js (idempotent). */
export function registerMeshwork(): void {
  if (registered) return;
  registered = true;
  experimental.registerResolver(SCHEME, MeshResolver);
  experimental.registerLoadBalancerType(LB_POLICY_NAME, MeshLoadBalancer, MeshLbConfig);
}
