/**
 * @meshwork/fastify: the inbound pipeline of @meshwork/server as a Fastify plugin. Peer
 * identity (mTLS), RequestAuthentication (JWT) and AuthorizationPolicy run in `onRequest`;
 * the result is on `request.meshwork`. `meshServerFactory` puts Fastify behind the mesh's
 * one-port mTLS/plaintext listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyPluginCallback, FastifyServerFactory } from 'fastify';
import fp from 'fastify-plugin';
import { assertInboundOptions, createInbound, createMeshServer, type Inbound, type InboundOptions, type InboundVerdict, type MeshServerOptions, type MeshworkContext, withDeadline } from '@meshwork/server';

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

const plugin: FastifyPluginCallback<MeshworkPluginOptions> = (app, options, done) => {
  // Fastify passes its own registration options (prefix, logLevel, ...) along with ours.
  const { prefix: _p, logLevel: _l, logSerializers: _s, ...own } = options as MeshworkPluginOptions & { prefix?: unknown; logLevel?: unknown; logSerializers?: unknown };
  let inbound: Inbound;
  try {
    assertInboundOptions(own, 'meshworkPlugin');
    inbound = options.inbound ?? createInbound(own);
  } catch (err) {
    done(err as Error);
    return;
  }
  app.decorateRequest('meshwork', null);
  app.addHook('onRequest', (request, reply, next) => {
    const apply = (v: InboundVerdict): void => {
      inbound.observe(request.raw, v);
      request.meshwork = v.context;
      if (v.action === 'continue') {
        if (v.deadlineMs !== undefined) withDeadline(v.deadlineMs, next);
        else next();
      } else if (v.action === 'reply') {
        void reply.code(v.status).headers(v.headers).send(v.body);
      } else {
        // Plaintext on a STRICT port: closed with no HTTP answer, as Envoy's filter chain does.
        request.raw.socket.destroy();
      }
    };
    let v: InboundVerdict | Promise<InboundVerdict>;
    try {
      v = inbound.evaluate(request.raw);
    } catch (err) {
      next(err as Error);
      return;
    }
    if (v instanceof Promise) v.then(apply, (err: unknown) => next(err as Error));
    else apply(v);
  });
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
