/**
 * @meshwork/express: the inbound pipeline of @meshwork/server as an Express middleware. Peer
 * identity (mTLS), RequestAuthentication (JWT) and AuthorizationPolicy run before your routes;
 * the result is on `req.meshwork`. For mTLS, serve the app with `createMeshServer(app, { inbound,
 * identity, pipeline: false })` so that the connection layer and this middleware share one pipeline.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertInboundOptions, createInbound, meshworkOf, runPipeline, writeNodeReply, type Inbound, type InboundOptions, type MeshworkContext } from '@meshwork/server';

export { meshworkOf, type MeshworkContext } from '@meshwork/server';

declare global {
  // Express's own extension point: every express Request extends Express.Request.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** What @meshwork/express learned: peer principal, JWT claims, authorization decision. */
      meshwork?: MeshworkContext | undefined;
    }
  }
}

export interface MeshworkMiddlewareOptions extends InboundOptions {
  /** A pipeline to share with `createMeshServer` (else one is made from the other options). */
  inbound?: Inbound | undefined;
}

export interface MeshworkMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The pipeline this middleware runs. */
  readonly inbound: Inbound;
  /** Releases the pipeline (and its Mesh, when the middleware made it). */
  close(): void;
}


/** Puts the result on `req.meshwork` and hands the request to the next middleware. */
function proceed(res: ServerResponse, next: (err?: unknown) => void): void {
  (res.req as IncomingMessage & { meshwork?: MeshworkContext }).meshwork = meshworkOf(res.req);
  next();
}

/**
 * An Express (or any connect-style) middleware that applies the workload's
 * PeerAuthentication, RequestAuthentication and AuthorizationPolicy.
 *
 * @example
 * app.use(meshworkMiddleware({ configDir: './istio', workload: { namespace: 'default', labels: { app: 'reviews' } } }));
 * app.get('/reviews/:id', (req, res) => res.json({ caller: req.meshwork?.principal }));
 */
export function meshworkMiddleware(options: MeshworkMiddlewareOptions = {}): MeshworkMiddleware {
  // Validate eagerly: a typo in an option is a startup error, not a silent default.
  assertInboundOptions(options, 'meshworkMiddleware', '@meshwork/express');
  const inbound = options.inbound ?? createInbound(options);
  const owns = !options.inbound;
  const mw = ((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    runPipeline(inbound, req, res, res, next, proceed, writeNodeReply);
  }) as MeshworkMiddleware;
  Object.defineProperty(mw, 'inbound', { value: inbound });
  mw.close = () => {
    if (owns) inbound.close();
  };
  return mw;
}
