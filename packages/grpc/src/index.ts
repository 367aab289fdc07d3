/**
 * @meshwork/grpc: @grpc/grpc-js channels and servers through the mesh.
 *
 * @example
 * const mesh = new Mesh({ configDir: './istio' });
 * const client = createMeshClient(EchoClient, 'echo.default:9090', { mesh });
 * client.say({ text: 'hi' }, (err, reply) => { ... });
 */
import type { ChannelCredentials, ChannelOptions, ClientOptions } from '@grpc/grpc-js';
import type { Mesh } from '@meshwork/core';
import { SCHEME, meshChannelArgs, registerMeshwork } from './balancer.js';
import { meshInterceptor, splitAuthority, type MeshInterceptorOptions } from './client.js';
import { MeshChannelCredentials } from './credentials.js';

export { registerMeshwork, SCHEME, LB_POLICY_NAME, MESH_CHANNEL_OPTION } from './balancer.js';
export { meshInterceptor, splitAuthority, type GrpcCallInfo, type MeshInterceptorOptions } from './client.js';
export { MeshChannelCredentials } from './credentials.js';
export { installMesh, plainAuthority, type InstallMeshOptions, type InstalledMesh } from './install.js';
export { MeshGrpcServer, meshServerInterceptor, type MeshGrpcServerOptions } from './server.js';
export { meshworkOf, type MeshworkContext } from '@meshwork/server';

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
      ...meshChannelArgs(mesh),
      interceptors: [meshInterceptor(mesh, t.authority, interceptorOptions), ...(user.interceptors ?? [])],
    },
  };
}

export interface CreateMeshClientOptions extends MeshChannelOptions {
  /**
   * Default: the mesh's own (`new MeshChannelCredentials(mesh)`): mTLS with the workload
   * certificate and secure naming, TLS origination or plaintext per endpoint, as the
   * DestinationRule and auto-mTLS decide. Other credentials replace that decision.
   */
  credentials?: ChannelCredentials | undefined;
}

/** A generated grpc-js client class (`makeGenericClientConstructor`, proto-loader, grpc-tools). */
export type ClientConstructor<C> = new (address: string, credentials: ChannelCredentials, options?: ClientOptions) => C;

/** Makes a client of `Ctor` to a mesh service: `createMeshClient(EchoClient, 'echo.default:9090', { mesh })`. */
export function createMeshClient<C>(Ctor: ClientConstructor<C>, target: string, options: CreateMeshClientOptions): C {
  const { credentials, ...rest } = options;
  const c = meshChannelOptions(target, rest);
  return new Ctor(c.target, credentials ?? new MeshChannelCredentials(rest.mesh), c.options);
}
