/**
 * The effective per-cluster policy with Istio's defaults filled in (reference §2.3–§2.6;
 * cluster_traffic_policy.go: applyConnectionPool, applyOutlierDetection,
 * defaultLBAlgorithm; cluster_tls.go: buildUpstreamTLSSettings). The data plane reads this;
 * it never re-derives a default.
 */
import { parseDuration } from '../util/duration.js';
import type { MeshService } from './registry.js';
import type { MeshConfig } from '../mesh.js';
import type { MtlsMode } from './security.js';

/** Envoy/Istio "unlimited": 2^32 − 1. */
export const UNLIMITED = 4294967295;

export interface ClusterPolicy {
  loadBalancer:
    | { kind: 'simple'; simple: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH' }
    | { kind: 'consistentHash'; algorithm: 'RING_HASH' | 'MAGLEV'; tableSize: number; key: { httpHeaderName?: string; httpCookie?: { name: string; path?: string; ttlMs?: number }; useSourceIp?: boolean; httpQueryParameterName?: string } };
  localityLbSetting?: unknown;
  warmup?: { durationMs: number; minimumPercent: number; aggression: number } | undefined;
  connectionPool: {
    maxConnections: number;
    connectTimeoutMs: number;
    maxConnectionDurationMs: number | null;
    idleTimeoutMs: number;
    http1MaxPendingRequests: number;
    http2MaxRequests: number;
    maxRequestsPerConnection: number;
    maxRetries: number;
    maxConcurrentStreams: number;
  };
  /** null = outlier detection off (the block is absent). */
  outlierDetection: null | {
    consecutive5xxErrors: number;
    consecutiveGatewayErrors: number;
    splitExternalLocalOriginErrors: boolean;
    consecutiveLocalOriginFailures: number;
    intervalMs: number;
    baseEjectionTimeMs: number;
    maxEjectionTimeMs: number;
    maxEjectionPercent: number;
    minHealthPercent: number;
  };
  tls: { mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL'; auto: boolean; sni?: string; subjectAltNames?: string[]; insecureSkipVerify?: boolean; caCertificates?: string; clientCertificate?: string; privateKey?: string };
  retryBudget?: { percent: number; minRetryConcurrency: number } | undefined;
}

const positive = (v: unknown, d: number): number => (Number(v) > 0 ? Number(v) : d);
const dur = (v: unknown, d: number): number => {
  const ms = parseDuration(v);
  return ms !== undefined && ms > 0 ? ms : d;
};

/**
 * `serverMode` is the destination's inferred PeerAuthentication mode (namespace- or
 * mesh-level only) for auto-mTLS; pass undefined when unknown (treated as PERMISSIVE).
 */
export function clusterPolicy(tp: Record<string, any>, service: MeshService | undefined, mesh: MeshConfig, serverMode?: MtlsMode): ClusterPolicy {
  const lb = tp.loadBalancer ?? {};
  let loadBalancer: ClusterPolicy['loadBalancer'];
  if (lb.consistentHash) {
    const ch = lb.consistentHash;
    const maglev = !!ch.maglev;
    loadBalancer = {
      kind: 'consistentHash',
      algorithm: maglev ? 'MAGLEV' : 'RING_HASH',
      tableSize: maglev ? positive(ch.maglev?.tableSize, 65537) : positive(ch.ringHash?.minimumRingSize ?? ch.minimumRingSize, 1024),
      key: {
        // Lower-cased once here: request header names arrive lower-cased.
        httpHeaderName: typeof ch.httpHeaderName === 'string' ? ch.httpHeaderName.toLowerCase() : undefined,
        httpCookie: ch.httpCookie ? { name: String(ch.httpCookie.name), path: ch.httpCookie.path, ttlMs: ch.httpCookie.ttl !== undefined ? parseDuration(ch.httpCookie.ttl) : undefined } : undefined,
        useSourceIp: ch.useSourceIp === true ? true : undefined,
        httpQueryParameterName: ch.httpQueryParameterName,
      },
    };
  } else {
    const s = lb.simple;
    // UNSPECIFIED and the deprecated LEAST_CONN mean LEAST_REQUEST (defaultLBAlgorithm).
    loadBalancer = { kind: 'simple', simple: s === 'ROUND_ROBIN' || s === 'RANDOM' || s === 'PASSTHROUGH' ? s : 'LEAST_REQUEST' };
  }
  let warmup: ClusterPolicy['warmup'];
  if (lb.warmup || lb.warmupDurationSecs) {
    warmup = {
      durationMs: lb.warmup ? dur(lb.warmup.duration, 0) : dur(lb.warmupDurationSecs, 0),
      minimumPercent: lb.warmup?.minimumPercent !== undefined ? Number(lb.warmup.minimumPercent) : 10,
      aggression: lb.warmup?.aggression !== undefined ? Number(lb.warmup.aggression) : 1,
    };
  }
  const tcp = tp.connectionPool?.tcp ?? {};
  const http = tp.connectionPool?.http ?? {};
  const od = tp.outlierDetection;
  const tls = tp.tls;
  let tlsOut: ClusterPolicy['tls'];
  if (tls && typeof tls === 'object') {
    tlsOut = { mode: tls.mode ?? 'DISABLE', auto: false, sni: tls.sni, subjectAltNames: tls.subjectAltNames, insecureSkipVerify: tls.insecureSkipVerify, caCertificates: tls.caCertificates, clientCertificate: tls.clientCertificate, privateKey: tls.privateKey };
  } else if (mesh.enableAutoMtls && service?.location !== 'MESH_EXTERNAL' && serverMode !== 'DISABLE') {
    // Auto-mTLS: mTLS to endpoints that run the mesh, plaintext to others (decided per endpoint).
    tlsOut = { mode: 'ISTIO_MUTUAL', auto: true };
  } else {
    tlsOut = { mode: 'DISABLE', auto: false };
  }
  return {
    loadBalancer,
    localityLbSetting: lb.localityLbSetting,
    warmup,
    connectionPool: {
      maxConnections: positive(tcp.maxConnections, UNLIMITED),
      connectTimeoutMs: dur(tcp.connectTimeout, 10_000),
      maxConnectionDurationMs: tcp.maxConnectionDuration ? dur(tcp.maxConnectionDuration, 0) || null : null,
      idleTimeoutMs: dur(http.idleTimeout ?? tcp.idleTimeout, 3_600_000),
      http1MaxPendingRequests: positive(http.http1MaxPendingRequests, UNLIMITED),
      http2MaxRequests: positive(http.http2MaxRequests, UNLIMITED),
      maxRequestsPerConnection: positive(http.maxRequestsPerConnection, 0),
      maxRetries: positive(http.maxRetries, UNLIMITED),
      maxConcurrentStreams: positive(http.maxConcurrentStreams, 2147483647),
    },
    outlierDetection: od && typeof od === 'object'
      ? {
          consecutive5xxErrors: od.consecutive5xxErrors !== undefined ? Number(od.consecutive5xxErrors) : 5,
          consecutiveGatewayErrors: Number(od.consecutiveGatewayErrors) > 0 ? Number(od.consecutiveGatewayErrors) : 0,
          splitExternalLocalOriginErrors: od.splitExternalLocalOriginErrors === true,
          consecutiveLocalOriginFailures: positive(od.consecutiveLocalOriginFailures, 5),
          intervalMs: dur(od.interval, 10_000),
          baseEjectionTimeMs: dur(od.baseEjectionTime, 30_000),
          maxEjectionTimeMs: 300_000,
          maxEjectionPercent: Number(od.maxEjectionPercent) > 0 ? Number(od.maxEjectionPercent) : 10,
          minHealthPercent: Number(od.minHealthPercent) > 0 ? Number(od.minHealthPercent) : 0,
        }
      : null,
    tls: tlsOut,
    // retryBudget.percent is a DoubleValue: a plain number in YAML (default 20).
    retryBudget: tp.retryBudget ? { percent: typeof tp.retryBudget.percent === 'number' ? tp.retryBudget.percent : 20, minRetryConcurrency: positive(tp.retryBudget.minRetryConcurrency, 3) } : undefined,
  };
}

/** Does the route keep "avoid previously tried hosts" on retries? (retry.go, route.go: applyHTTPRouteDestination). */
export function avoidPreviousHosts(explicit: boolean | undefined, singleDestination: boolean, consistentHash: boolean): boolean {
  if (explicit !== undefined) return explicit;
  return !(singleDestination && consistentHash);
}
