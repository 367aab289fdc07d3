/**
 * What Envoy's router does per request on top of the route decision — which fault and
 * mirrors apply this time, the authority and header operations sent upstream, the timeout in
 * force, the local replies of routes that need no upstream — as pure functions with the
 * randomness injected, so that every adapter (fetch now, gRPC later) and `explain` share one
 * copy of these rules (route.go: TranslateRoute, TranslateHeadersOperations; Envoy's fault
 * filter and router).
 */
import type { FaultPolicy, HeaderOps } from '../compile/virtual-service.js';
import type { OutboundDecision, RouteDestination } from './outbound.js';

export type HeaderMap = Record<string, string | string[]>;
type Ops = HeaderOps['request'];

/** A route answered without an upstream: status, body, Envoy flags and headers to send. */
export interface RouteLocalReply {
  status: number;
  body: string;
  flags: ('NR' | 'NC')[];
  headers?: HeaderMap | undefined;
}

const BLOCKED: RouteLocalReply = Object.freeze({ status: 502, body: '', flags: [] }) as RouteLocalReply;
const NO_ROUTE: RouteLocalReply = Object.freeze({ status: 404, body: '', flags: ['NR'] }) as RouteLocalReply;
const NO_CLUSTER: RouteLocalReply = Object.freeze({ status: 503, body: '', flags: ['NC'] }) as RouteLocalReply;

/**
 * The local reply of a decision that needs no upstream, or null when the request goes on
 * (route, passthrough). REGISTRY_ONLY's catch-all is a direct response 502 with no flag
 * (httproute.go: buildCatchAllVirtualHost); a route table without a match answers 404 NR;
 * a direct response carries the rule's response header operations.
 */
export function routeLocalReply(decision: OutboundDecision): RouteLocalReply | null {
  switch (decision.action) {
    case 'blocked':
      return BLOCKED;
    case 'noRoute':
      return NO_ROUTE;
    case 'directResponse': {
      const ops = decision.headers?.response;
      return { status: decision.directResponse!.status, body: decision.directResponse!.body ?? '', flags: [], headers: hasHeaderOps(ops) ? applyHeaderOps({}, ops) : undefined };
    }
    case 'redirect':
      return { status: decision.redirect!.status, body: '', flags: [], headers: { location: decision.redirect!.location } };
    default:
      return null;
  }
}

/** 503 NC for a destination whose host or subset has no cluster, else null. */
export function destinationLocalReply(dest: RouteDestination): RouteLocalReply | null {
  return dest.missing ? NO_CLUSTER : null;
}

/**
 * The fault injected into this request: the delay and the abort each apply with their own
 * percentage (Envoy's fault filter draws for each). `random` returns [0, 1).
 */
export function sampleFault(fault: FaultPolicy | null, random: () => number): { delayMs: number | null; abort: NonNullable<FaultPolicy['abort']> | null } {
  if (!fault) return NO_FAULT;
  const delayMs = fault.delay && random() * 100 < fault.delay.percent ? fault.delay.ms : null;
  const abort = fault.abort && random() * 100 < fault.abort.percent ? fault.abort : null;
  return delayMs === null && abort === null ? NO_FAULT : { delayMs, abort };
}

const NO_FAULT = Object.freeze({ delayMs: null, abort: null });

/** The mirrors this request is copied to, each drawn with its own percentage. */
export function sampleMirrors(mirrors: OutboundDecision['mirrors'], random: () => number): OutboundDecision['mirrors'] {
  if (mirrors.length === 0) return mirrors;
  return mirrors.filter((m) => random() * 100 < m.percent);
}

/**
 * The authority sent upstream: the rewrite's, else a `host` header operation of the rule,
 * else of the destination, else the request's own (route.go: processDestination).
 */
export function upstreamAuthority(decision: OutboundDecision, dest: RouteDestination, requestAuthority: string): string {
  return decision.rewrite?.authority ?? decision.headers?.authority ?? dest.headers?.authority ?? requestAuthority;
}

/**
 * The request headers sent upstream: the route rule's operations, then the destination's, on
 * a copy (the caller's headers are returned as they are when nothing changes them).
 */
export function upstreamRequestHeaders<T extends HeaderMap>(headers: T, decision: OutboundDecision, dest: RouteDestination): T | HeaderMap {
  const rule = decision.headers?.request;
  const own = dest.headers?.request;
  if (!hasHeaderOps(rule) && !hasHeaderOps(own)) return headers;
  const out: HeaderMap = { ...headers };
  if (rule) applyHeaderOps(out, rule);
  if (own) applyHeaderOps(out, own);
  return out;
}

/** The response header operations of a route (rule, then destination), or null when there are none. */
export function responseHeaderOps(decision: OutboundDecision, dest: RouteDestination): Ops[] | null {
  const rule = decision.headers?.response;
  const own = dest.headers?.response;
  if (!hasHeaderOps(rule) && !hasHeaderOps(own)) return null;
  return [rule, own].filter(hasHeaderOps);
}

/** Whether a set of header operations changes anything. */
export function hasHeaderOps(ops: Ops | undefined): ops is Ops {
  return !!ops && (ops.set.length > 0 || ops.add.length > 0 || ops.remove.length > 0);
}

/**
 * Applies header operations as Envoy's header parser does: removals first, then `set`
 * (replace), then `add` (append to what is there). Mutates and returns `headers`.
 */
export function applyHeaderOps(headers: HeaderMap, ops: Ops): HeaderMap {
  for (const name of ops.remove) delete headers[name];
  for (const [k, v] of ops.set) headers[k] = v;
  for (const [k, v] of ops.add) {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : ([] as string[]).concat(prev, v);
  }
  return headers;
}

/**
 * The timeout in force for the whole request (all attempts): the route's, capped by the
 * remaining deadline of the inbound request the call is made for; the deadline alone when the
 * route has none; null for no timeout.
 */
export function effectiveTimeoutMs(routeTimeoutMs: number | null, remainingBudgetMs: number | undefined): number | null {
  if (remainingBudgetMs === undefined) return routeTimeoutMs;
  return routeTimeoutMs === null ? remainingBudgetMs : Math.min(routeTimeoutMs, remainingBudgetMs);
}
