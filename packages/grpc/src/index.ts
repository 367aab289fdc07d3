/**
 * @meshwork/grpc: @grpc/grpc-js channels and servers through the mesh.
 *
 * @example
 * const mesh = new Mesh({ configDir: './istio' });
 * const client = createMeshClient(EchoClient, 'echo.default:9090', { mesh });
 * client.say({ text: 'hi' }, (err, reply) => { ... });
 */
import { credentials as grpcCredentials, type ChannelCredentials, type ChannelOptions, type ClientOptions } from '@grpc/grpc-js';
import type { Mesh } from '@meshwork/core';
import { MESH_CHANNEL_OPTION, SCHEME, meshId, registerMeshwork } from './balancer.js';
import { meshInterceptor, splitAuthority, type MeshInterceptorOptions } from './client.js';

export { registerMeshwork, SCHEME, LB_POLICY_NAME, MESH_CHANNEL_OPTION } from './balancer.js';
export { meshInterceptor, splitAuthority, type GrpcCallInfo, type MeshInterceptorOptions } from './client.js';

/** `reviews.default:9080` or `meshwork:///reviews.default:9080` → the authority and the channel target. */
export function meshTarget(target: string): { authority: string; target: string } {
  const m = /^meshwork:(?:\/\/[^/]*)?\/*(.+)$/.exec(target);
  const authority = (m ? m[1]! : target).trim();
  splitAuthority(authority); // throws a clear error for what is not host[:port]
  return { authority, target: `${SCHEME}:///${authority}` };
}

export interface MeshChannelOptions extends MeshInterceptorOptions {
  mesh: Mesh;
  /** More channel options (keepalive, message sizes, ...). */
  channelOptions?: ChannelOptions | undefined;
}

/**
 * The options for a grpc-js client (`new XClient(target, credentials, options)`) whose calls go
 * through the mesh: the Meshwork interceptor and the channel's Mesh. Use the returned `target`.
 */
export function meshChannelOptions(target: string, options: MeshChannelOptions): { target: string; options: ClientOptions } {
  registerMeshwork();
  const t = meshTarget(target);
  const { mesh, channelOptions, ...interceptorOptions } = options;
  const user = (channelOptions ?? {}) as ClientOptions;
  return {
    target: t.target,
    options: {
      ...user,
      [MESH_CHANNEL_OPTION]: meshId(mesh),
      // Each channel balances over its own subchannels (a shared pool would mix meshes).
      'grpc.use_local_subchannel_pool': 1,
      interceptors: [meshInterceptor(mesh, t.authority, interceptorOptions), ...(user.interceptors ?? [])],
    },
  };
}

export interface CreateMeshClientOptions extends MeshChannelOptions {
  /** Default: insecure (plaintext) channel credentials. */
  credentials?: ChannelCredentials | undefined;
}

/** A generated grpc-js client class (`makeGenericClientConstructor`, proto-loader, grpc-tools). */
export type ClientConstructor<C> = new (address: string, credentials: ChannelCredentials, options?: ClientOptions) => C;

/** Makes a client of `Ctor` to a mesh service: `createMeshClient(EchoClient, 'echo.default:9090', { mesh })`. */
export function createMeshClient<C>(Ctor: ClientConstructor<C>, target: string, options: CreateMeshClientOptions): C {
  const { credentials, ...rest } = options;
  const c = meshChannelOptions(target, rest);
  return new Ctor(c.target, credentials ?? grpcCredentials.createInsecure(), c.options);
}
