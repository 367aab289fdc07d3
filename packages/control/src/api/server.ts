/**
 * The control API v1 over node:http. `controlHandler` is the request listener (so HTTPS or
 * another server can mount it); `createControlServer` wraps it in an http.Server that the
 * caller listens on.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { ControlStore, ResourceKey } from '../store/types.js';
import { adminTokenDigest, authenticate, authorize, type Action, type Principal } from './auth.js';
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
}

interface RouteContext {
  req: IncomingMessage;
  query: URLSearchParams;
  params: string[];
  store: ControlStore;
  maxBodyBytes: number;
  workloads: WorkloadApiOptions;
  /** Set once the request is authenticated (before `run`). */
  principal: Principal;
}

interface RouteMethod {
  /** What authorization must allow, from the path parameters and query. */
  action: (ctx: RouteContext) => Action;
  run: (ctx: RouteContext) => Promise<JsonReply>;
}

export interface Route {
  /** OpenAPI path template, e.g. `/v1/resources/{kind}/{namespace}/{name}`. */
  path: string;
  pattern: RegExp;
  methods: Record<string, RouteMethod>;
}

const SEGMENT = '([^/]+)';

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
        action: (ctx) => ({ verb: 'workload', namespace: namespaceOfId(ctx.params[0]!) }),
        run: (ctx) => heartbeatWorkload(ctx.store, ctx.params[0]!, ctx.workloads),
      },
    },
  },
  {
    path: '/v1/workloads/{id}',
    pattern: new RegExp(`^/v1/workloads/${SEGMENT}$`),
    methods: {
      DELETE: {
        action: (ctx) => ({ verb: 'workload', namespace: namespaceOfId(ctx.params[0]!) }),
        run: (ctx) => deregisterWorkload(ctx.store, ctx.params[0]!),
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
  const workloads: WorkloadApiOptions = { heartbeatTtlMs: options.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS, now: options.now ?? Date.now };

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
    const ctx: RouteContext = { req, query: url.searchParams, params, store, maxBodyBytes, workloads, principal };
    authorize(principal, method.action(ctx));
    const reply = await method.run(ctx);
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

/** An http.Server serving the control API; the caller calls `listen`. */
export function createControlServer(options: ControlServerOptions): Server {
  const server = createServer(controlHandler(options));
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  return server;
}
