/**
 * The control API v1 over node:http or node:https. `controlHandler` is the request listener
 * (so another server can mount it); `createControlServer` wraps it in an http.Server, or an
 * https.Server when given `tls`, that the caller listens on.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { CertificateAuthority } from '@meshwork/identity';
import { keepServingCertificateFresh, type ControlTlsOptions } from '../tls.js';
import { MAX_SIGN_BODY_BYTES, noCa, signCertificate, trustBundleReply } from './certificates.js';
import type { SnapshotHub } from '../snapshots.js';
import { ackWorkload, DEFAULT_WATCH_HEARTBEAT_MS, serveWatch, statusReply } from './watch.js';
import { RateLimiter, rateLimited, type RateLimitClass, type RateLimitOptions } from './rate-limit.js';
import type { ControlStore, ResourceKey } from '../store/types.js';
import { adminTokenDigest, authenticate, authorize, authorizeWorkload, type Action, type Principal, type WorkloadOperation } from './auth.js';
import { createToken, revokeToken } from './tokens.js';
import { ApiError, readBody, sendError, sendJson } from './http.js';
import { applyFormat, applyResources, deleteResource, getResource, listResources, storeErrorToApi, type JsonReply } from './resources.js';
import { DEFAULT_HEARTBEAT_TTL_MS } from '../registry-view.js';
import { deregisterWorkload, heartbeatWorkload, listWorkloadsReply, namespaceOfId, registerWorkload, requireJson, type WorkloadApiOptions } from './workloads.js';

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ControlServerOptions {
  store: ControlStore;
  /** Bearer token of the administrator (everything, including join tokens). At least 16 characters. */
  adminToken: string;
  /** Largest request body accepted (default 4 MiB); larger ones get 413. */
  maxBodyBytes?: number | undefined;
  /** A workload is unhealthy (out of endpoint sets) this long after its last heartbeat; default 30 s. */
  heartbeatTtlMs?: number | undefined;
  /** The clock, in milliseconds since the epoch (tests inject one); default `Date.now`. */
  now?: (() => number) | undefined;
  /**
   * The CA that signs workload certificates (`POST /v1/certificates:sign`) and whose roots
   * `GET /v1/trust-bundle` returns (see `openControlCa`). Without it both answer 501.
   */
  ca?: CertificateAuthority | undefined;
  /**
   * Serve HTTPS with this key and certificate (see `controlTlsOptions`); with `renew`, the
   * certificate is renewed before it expires. Only `createControlServer` reads it.
   */
  tls?: ControlTlsOptions | undefined;
  /**
   * Per-token limits of workload registrations and certificate signing (each its own bucket
   * per token): default 20 at once, then 5 per second; `false` turns them off.
   */
  rateLimit?: RateLimitOptions | false | undefined;
  /**
   * The snapshot hub (see `SnapshotHub`): serves the watch streams and status, and is told
   * of every write. Without it the watch, ack and status endpoints answer 501.
   */
  hub?: SnapshotHub | undefined;
  /** Watch streams send a heartbeat comment this often (default 15 s). */
  watchHeartbeatMs?: number | undefined;
}

interface RouteContext {
  req: IncomingMessage;
  query: URLSearchParams;
  params: string[];
  store: ControlStore;
  maxBodyBytes: number;
  workloads: WorkloadApiOptions;
  ca: CertificateAuthority | undefined;
  hub: SnapshotHub | undefined;
  watchHeartbeatMs: number;
  /** Set once the request is authenticated (before `run`). */
  principal: Principal;
}

interface RouteMethod {
  /** What authorization must allow, from the path parameters and query. */
  action: (ctx: RouteContext) => Action;
  /**
   * Authorization that needs the store (after `action` is allowed, before the rate limit, the
   * body and any streaming): throws 403 (or 404) when the principal may not act on the target.
   */
  target?: (ctx: RouteContext) => Promise<void>;
  /** Rate-limited per token (checked after authorization, before the body is read). */
  limit?: RateLimitClass;
  run: (ctx: RouteContext) => Promise<JsonReply> | JsonReply;
  /** A streaming answer (the watch): writes the response itself instead of `run`'s JSON. */
  stream?: (ctx: RouteContext, res: ServerResponse) => Promise<void>;
  /** A successful call may change snapshots: the hub rebuilds and pushes. */
  changes?: true;
}

/** Stands for `run` on routes that only stream. */
/** An ACK carries a version and at most a few KB of error text. */
const MAX_ACK_BODY_BYTES = 16 * 1024;

function noHub(): ApiError {
  return new ApiError(501, 'not_configured', 'this control server has no snapshot hub (createControlServer({ hub }) or startControlService)');
}

const streamOnly = (): never => {
  throw new ApiError(500, 'internal', 'internal error');
};

export interface Route {
  /** OpenAPI path template, e.g. `/v1/resources/{kind}/{namespace}/{name}`. */
  path: string;
  pattern: RegExp;
  methods: Record<string, RouteMethod>;
}

const SEGMENT = '([^/]+)';

/** The `workload` action of a route on `/v1/workloads/{id}...`: the namespace of the id. */
const workloadAction = (operation: WorkloadOperation) => (ctx: RouteContext): Action => ({ verb: 'workload', namespace: namespaceOfId(ctx.params[0]!), operation });

/**
 * A join token acts only on the workloads of its namespace (`workloadAction`) that run as its
 * service account: the workload is loaded to check (404 when it is not registered). The
 * admin acts on any.
 */
const ownWorkload = (operation: WorkloadOperation) => async (ctx: RouteContext): Promise<void> => {
  if (ctx.principal.kind === 'admin') return;
  const id = ctx.params[0]!;
  const workload = await ctx.store.getWorkload(id);
  if (!workload) throw new ApiError(404, 'not_found', `workload ${id} is not registered`, { workload: id });
  authorizeWorkload(ctx.principal, workload, operation);
};

function keyFrom(params: string[]): ResourceKey {
  const [kind, namespace, name] = params as [string, string, string];
  return { kind, namespace, name };
}

/** Every route the API serves; the OpenAPI document lists exactly these (a test checks it). */
export const ROUTES: readonly Route[] = [
  {
    path: '/v1/resources:apply',
    pattern: /^\/v1\/resources:apply$/,
    methods: {
      POST: {
        action: () => ({ verb: 'write' }),
        changes: true,
        run: async (ctx) => {
          const format = applyFormat(ctx.req);
          const body = await readBody(ctx.req, ctx.maxBodyBytes);
          return applyResources(ctx.store, body, format, ctx.query);
        },
      },
    },
  },
  {
    path: '/v1/resources',
    pattern: /^\/v1\/resources$/,
    methods: {
      GET: {
        action: (ctx) => ({ verb: 'read', namespace: ctx.query.get('namespace') || undefined }),
        run: (ctx) => listResources(ctx.store, ctx.query),
      },
    },
  },
  {
    path: '/v1/resources/{kind}/{namespace}/{name}',
    pattern: new RegExp(`^/v1/resources/${SEGMENT}/${SEGMENT}/${SEGMENT}$`),
    methods: {
      GET: {
        action: (ctx) => ({ verb: 'read', namespace: ctx.params[1] }),
        run: (ctx) => getResource(ctx.store, keyFrom(ctx.params)),
      },
      DELETE: {
        action: (ctx) => ({ verb: 'write', namespace: ctx.params[1] }),
        changes: true,
        run: (ctx) => deleteResource(ctx.store, keyFrom(ctx.params), ctx.query),
      },
    },
  },
  {
    path: '/v1/workloads:register',
    pattern: /^\/v1\/workloads:register$/,
    methods: {
      POST: {
        // The namespace comes from the body (the group's); join-token scope is checked in
        // registerWorkload once the body is read.
        action: () => ({ verb: 'register' }),
        limit: 'register',
        changes: true,
        run: async (ctx) => {
          requireJson(ctx.req);
          const body = await readBody(ctx.req, ctx.maxBodyBytes);
          return registerWorkload(ctx.store, body, ctx.workloads, ctx.principal);
        },
      },
    },
  },
  {
    path: '/v1/workloads',
    pattern: /^\/v1\/workloads$/,
    methods: {
      GET: {
        action: (ctx) => ({ verb: 'read', namespace: ctx.query.get('namespace') || undefined }),
        run: (ctx) => listWorkloadsReply(ctx.store, ctx.query, ctx.workloads),
      },
    },
  },
  {
    path: '/v1/workloads/{id}:heartbeat',
    pattern: new RegExp(`^/v1/workloads/${SEGMENT}:heartbeat$`),
    methods: {
      POST: {
        action: workloadAction('heartbeat'),
        target: ownWorkload('heartbeat'),
        run: (ctx) => heartbeatWorkload(ctx.store, ctx.params[0]!, ctx.workloads),
      },
    },
  },
  {
    path: '/v1/workloads/{id}:watch',
    pattern: new RegExp(`^/v1/workloads/${SEGMENT}:watch$`),
    methods: {
      GET: {
        action: workloadAction('watch'),
        target: ownWorkload('watch'),
        run: streamOnly,
        stream: async (ctx, res) => {
          if (!ctx.hub) throw noHub();
          await serveWatch(ctx.req, res, ctx.params[0]!, { hub: ctx.hub, store: ctx.store, heartbeatMs: ctx.watchHeartbeatMs });
        },
      },
    },
  },
  {
    path: '/v1/workloads/{id}:ack',
    pattern: new RegExp(`^/v1/workloads/${SEGMENT}:ack$`),
    methods: {
      POST: {
        action: workloadAction('ack'),
        target: ownWorkload('ack'),
        run: async (ctx) => {
          requireJson(ctx.req);
          const body = await readBody(ctx.req, Math.min(ctx.maxBodyBytes, MAX_ACK_BODY_BYTES));
          return ackWorkload(ctx.store, ctx.params[0]!, body, ctx.workloads.now());
        },
      },
    },
  },
  {
    path: '/v1/status',
    pattern: /^\/v1\/status$/,
    methods: {
      GET: {
        action: (ctx) => ({ verb: 'read', namespace: ctx.query.get('namespace') || undefined }),
        run: (ctx) => {
          if (!ctx.hub) throw noHub();
          return statusReply(ctx.hub, ctx.query);
        },
      },
    },
  },
  {
    path: '/v1/workloads/{id}',
    pattern: new RegExp(`^/v1/workloads/${SEGMENT}$`),
    methods: {
      DELETE: {
        action: workloadAction('deregister'),
        target: ownWorkload('deregister'),
        changes: true,
        run: (ctx) => deregisterWorkload(ctx.store, ctx.params[0]!),
      },
    },
  },
  {
    path: '/v1/certificates:sign',
    pattern: /^\/v1\/certificates:sign$/,
    methods: {
      POST: {
        // The identity comes from the CSR and is checked against the token once it is read.
        action: () => ({ verb: 'sign' }),
        limit: 'sign',
        run: async (ctx) => {
          if (!ctx.ca) throw noCa();
          requireJson(ctx.req);
          const body = await readBody(ctx.req, Math.min(ctx.maxBodyBytes, MAX_SIGN_BODY_BYTES));
          return signCertificate(ctx.ca, body, ctx.principal);
        },
      },
    },
  },
  {
    path: '/v1/trust-bundle',
    pattern: /^\/v1\/trust-bundle$/,
    methods: {
      GET: {
        action: () => ({ verb: 'trust' }),
        run: (ctx) => {
          if (!ctx.ca) throw noCa();
          return trustBundleReply(ctx.ca);
        },
      },
    },
  },
  {
    path: '/v1/tokens',
    pattern: /^\/v1\/tokens$/,
    methods: {
      POST: {
        action: () => ({ verb: 'admin' }),
        run: async (ctx) => {
          requireJson(ctx.req);
          const body = await readBody(ctx.req, ctx.maxBodyBytes);
          return createToken(ctx.store, body, ctx.workloads.now());
        },
      },
    },
  },
  {
    path: '/v1/tokens/{hash}',
    pattern: new RegExp(`^/v1/tokens/${SEGMENT}$`),
    methods: {
      DELETE: {
        action: () => ({ verb: 'admin' }),
        run: (ctx) => revokeToken(ctx.store, ctx.params[0]!),
      },
    },
  },
];

function validateOptions(o: ControlServerOptions): void {
  if (!o || typeof o.store !== 'object' || o.store === null) throw new TypeError('controlHandler: options.store is required (e.g. await openSqliteStore({ dataDir }))');
  if (typeof o.adminToken !== 'string' || o.adminToken.length < 16) throw new TypeError('controlHandler: options.adminToken must be a string of at least 16 characters');
  if (o.maxBodyBytes !== undefined && (!Number.isInteger(o.maxBodyBytes) || o.maxBodyBytes < 1)) throw new TypeError('controlHandler: options.maxBodyBytes must be a positive integer');
  if (o.heartbeatTtlMs !== undefined && (!Number.isInteger(o.heartbeatTtlMs) || o.heartbeatTtlMs < 1)) throw new TypeError('controlHandler: options.heartbeatTtlMs must be a positive integer (milliseconds)');
  if (o.now !== undefined && typeof o.now !== 'function') throw new TypeError('controlHandler: options.now must be a function returning milliseconds since the epoch');
  if (o.ca !== undefined && (typeof o.ca !== 'object' || o.ca === null || typeof o.ca.sign !== 'function')) throw new TypeError('controlHandler: options.ca must be a CertificateAuthority of @meshwork/identity (e.g. (await openControlCa({ dataDir })).ca)');
  if (o.tls !== undefined && (typeof o.tls !== 'object' || o.tls === null || typeof o.tls.key !== 'string' || typeof o.tls.cert !== 'string')) throw new TypeError('createControlServer: options.tls must be { key, cert } in PEM (e.g. await controlTlsOptions(ca))');
  if (o.rateLimit !== undefined && o.rateLimit !== false && (typeof o.rateLimit !== 'object' || o.rateLimit === null)) throw new TypeError('controlHandler: options.rateLimit must be { burst?, perSecond?, maxBuckets? } or false');
}

function decodeParams(match: RegExpExecArray): string[] {
  return match.slice(1).map((p) => {
    try {
      return decodeURIComponent(p!);
    } catch {
      throw new ApiError(400, 'bad_request', 'the path holds an invalid percent-encoding');
    }
  });
}

/** The request listener of the control API. Never throws into node:http. */
export function controlHandler(options: ControlServerOptions): RequestListener {
  validateOptions(options);
  const { store } = options;
  const adminDigest = adminTokenDigest(options.adminToken);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const workloads: WorkloadApiOptions = { heartbeatTtlMs: options.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS, now: options.now ?? Date.now, trustDomain: options.ca?.trustDomain };
  const { ca, hub } = options;
  const watchHeartbeatMs = options.watchHeartbeatMs ?? DEFAULT_WATCH_HEARTBEAT_MS;
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit ?? {}, workloads.now);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://control.invalid');
    } catch {
      throw new ApiError(400, 'bad_request', 'the request target is not a valid URL');
    }
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of ROUTES) {
      match = r.pattern.exec(url.pathname);
      if (match) {
        route = r;
        break;
      }
    }
    if (!route || !match) throw new ApiError(404, 'not_found', `no such endpoint: ${url.pathname.slice(0, 200)}`);
    const method = route.methods[req.method ?? ''];
    if (!method) {
      const allow = Object.keys(route.methods).join(', ');
      throw new ApiError(405, 'method_not_allowed', `${route.path} accepts ${allow}`, { allow: Object.keys(route.methods) }, { allow });
    }
    const params = decodeParams(match);
    const principal = await authenticate(req, adminDigest, store, workloads.now());
    const ctx: RouteContext = { req, query: url.searchParams, params, store, maxBodyBytes, workloads, ca, hub, watchHeartbeatMs, principal };
    authorize(principal, method.action(ctx));
    await method.target?.(ctx);
    if (method.limit && limiter) {
      // Keyed by the token's sha256 (or 'admin'), never by the token.
      const retryAfter = limiter.take(`${method.limit}:${principal.kind === 'admin' ? 'admin' : principal.tokenHash}`);
      if (retryAfter > 0) throw rateLimited(method.limit, retryAfter, limiter);
    }
    if (method.stream) {
      await method.stream(ctx, res);
      return;
    }
    const reply = await method.run(ctx);
    if (method.changes && reply.status < 300) ctx.hub?.poke();
    sendJson(res, reply.status, reply.body);
  };

  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      // A request whose body was not read (413, 401 on a write...) does not keep its
      // connection: closing it is cheaper than reading the rest.
      try {
        if (!req.complete) res.shouldKeepAlive = false;
        const api = e instanceof ApiError ? e : storeErrorToApi(e);
        if (api) {
          sendError(res, api);
        } else {
          sendJson(res, 500, { error: 'internal', message: 'internal error' });
        }
      } catch {
        res.destroy();
      }
    });
  };
}

/**
 * An http.Server serving the control API, or an https.Server with `options.tls` (its
 * certificate renewed before it expires when `tls.renew` is set; a failed renewal emits
 * `tlsRenewalError` on the server and is retried). The caller calls `listen`.
 */
export function createControlServer(options: ControlServerOptions & { tls: ControlTlsOptions }): HttpsServer;
export function createControlServer(options: ControlServerOptions & { tls?: undefined }): Server;
export function createControlServer(options: ControlServerOptions): Server | HttpsServer;
export function createControlServer(options: ControlServerOptions): Server | HttpsServer {
  const handler = controlHandler(options);
  const { tls } = options;
  const server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, handler) : createServer(handler);
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  if (tls) keepServingCertificateFresh(server as HttpsServer, tls, options.now ?? Date.now);
  return server;
}
