/**
 * @meshwork/fastify: the inbound pipeline of @meshwork/server as a Fastify plugin. Peer
 * identity (mTLS), RequestAuthentication (JWT) and AuthorizationPolicy run in `onRequest`;
 * the result is on `request.meshwork`. `meshServerFactory` puts Fastify behind the mesh's
 * one-port mTLS/plaintext listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginCallback, FastifyReply, FastifyServerFactory, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { assertInboundOptions, createInbound, createMeshServer, meshworkOf, runPipeline, type Inbound, type InboundOptions, type MeshServerOptions, type MeshworkContext, type ReplyWriter } from '@meshwork/server';

export { meshworkOf, type MeshworkContext } from '@meshwork/server';

declare module 'fastify' {
  interface FastifyRequest {
    /** What @meshwork/fastify learned: peer principal, JWT claims, authorization decision. */
    meshwork: MeshworkContext | null;
  }
}

export interface MeshworkPluginOptions extends InboundOptions {
  /** A pipeline to share with `meshServerFactory` (else one is made from the other options). */
  inbound?: Inbound | undefined;
}

/** The request goes on to its route with the result on `request.meshwork`. */
function proceed(reply: FastifyReply, next: HookHandlerDoneFunction): void {
  reply.request.meshwork = meshworkOf(reply.request.raw) ?? null;
  next();
}

/** A local reply (401, 403, 500) goes out through Fastify, so its hooks and logging see it. */
const writeReply: ReplyWriter<FastifyReply> = (reply, status, headers, body) => {
  reply.request.meshwork = meshworkOf(reply.request.raw) ?? null;
  void reply.code(status).headers(headers).send(body);
};

const plugin: FastifyPluginCallback<MeshworkPluginOptions> = (app, options, done) => {
  // Fastify passes its own registration options (prefix, logLevel, ...) along with ours.
  const { prefix: _p, logLevel: _l, logSerializers: _s, ...own } = options as MeshworkPluginOptions & { prefix?: unknown; logLevel?: unknown; logSerializers?: unknown };
  let inbound: Inbound;
  try {
    assertInboundOptions(own, 'meshworkPlugin', '@meshwork/fastify');
    inbound = options.inbound ?? createInbound(own);
  } catch (err) {
    done(err as Error);
    return;
  }
  app.decorateRequest('meshwork', null);
  app.addHook('onRequest', (request, reply, next) => runPipeline(inbound, request.raw, reply.raw, reply, next, proceed, writeReply));
  if (!options.inbound) app.addHook('onClose', (_app, closed) => {
    inbound.close();
    closed();
  });
  done();
};

/**
 * The Fastify plugin: `app.register(meshworkPlugin, { inbound })`.
 *
 * @example
 * const inbound = createInbound({ configDir: './istio', workload: { namespace: 'default', labels: { app: 'details' } } });
 * const app = Fastify({ serverFactory: meshServerFactory({ inbound, identity }) });
 * await app.register(meshworkPlugin, { inbound });
 */
export const meshworkPlugin = fp(plugin, { fastify: '5.x', name: '@meshwork/fastify' });

/** A Fastify `serverFactory` that serves the app on the mesh's one-port mTLS/plaintext listener. */
export function meshServerFactory(options: MeshServerOptions): FastifyServerFactory {
  return (handler, fastifyOptions) => {
    const server = createMeshServer(handler as (req: IncomingMessage, res: ServerResponse) => void, { ...options, pipeline: false });
    // Fastify leaves its server timeouts to a custom factory (keep-alive 72 s by default).
    const o = fastifyOptions as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number; maxRequestsPerSocket?: number | null };
    server.setHttpTimeouts({ keepAliveTimeout: o.keepAliveTimeout, requestTimeout: o.requestTimeout, connectionTimeout: o.connectionTimeout, maxRequestsPerSocket: o.maxRequestsPerSocket ?? undefined });
    return server as unknown as ReturnType<FastifyServerFactory>;
  };
}
