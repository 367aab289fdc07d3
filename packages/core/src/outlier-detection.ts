/**
 * Passive health checking (Istio `outlierDetection`, reference §2.5) with Envoy's semantics
 * (`outlier_detection_impl.cc`: `DetectorHostMonitorImpl`, `DetectorImpl`), for the
 * consecutive-error detectors Istio enables (success-rate detection is always off).
 *
 * - Non-split mode: every result is an HTTP status. Local-origin failures count as 503
 *   (connect failure, reset) or 504 (timeout), so they feed both `consecutive5xxErrors` and
 *   `consecutiveGatewayErrors` (`resultToHttpCode`).
 * - Split mode (`splitExternalLocalOriginErrors`): local-origin failures have their own
 *   counter (`consecutiveLocalOriginFailures`); a successful connection resets it.
 * - A detector fires when its counter reaches the threshold exactly; its counter is then
 *   reset whether or not the host could be ejected.
 * - Ejection is refused when `100 × (ejected + 1) / hosts > maxEjectionPercent` (Istio never
 *   sets `always_eject_one_host`): with the default 10 % no host of a cluster with fewer
 *   than 10 endpoints is ever ejected.
 * - An ejected host stays out for `min(baseEjectionTime × backoff, maxEjectionTime)`; the
 *   backoff grows by one per ejection (while `backoff × base < max + base`) and shrinks by one
 *   at each interval sweep that finds the host healthy at least an interval after its
 *   un-ejection. Un-ejection happens only in the sweep and resets all counters.
 *
 * No timers live here: the owner calls `sweep(now)` (as often as it likes — the detector
 * runs its logic at most once per `interval`, on the interval grid Envoy's timer would use).
 */
import type { ClusterPolicy } from '@meshwork/policy';
import type { EndpointState } from './endpoint.js';
import { noteHealthChange } from './lb/locality.js';
import type { AttemptOutcome } from './retry.js';

export type OutlierDetectionConfig = NonNullable<ClusterPolicy['outlierDetection']>;

/** Envoy `OutlierEjectionType` of the detectors Istio can enable. */
export type EjectionType = 'CONSECUTIVE_5XX' | 'CONSECUTIVE_GATEWAY_FAILURE' | 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE';

/** A failure that happened on our side of the wire, before or instead of a response. */
export type LocalOriginFailure = 'connect-failure' | 'reset' | 'refused-stream' | 'timeout';

export type OutlierEvent =
  | {
      type: 'eject';
      endpoint: EndpointState;
      reason: EjectionType;
      /** Times this host has been ejected so far, this one included. */
      ejections: number;
      /** How long this ejection lasts at least (un-ejection waits for the next sweep). */
      durationMs: number;
      at: number;
    }
  | { type: 'uneject'; endpoint: EndpointState; ejections: number; at: number }
  /** The detector fired but `maxEjectionPercent` refused the ejection (Envoy `ejections_overflow`). */
  | { type: 'overflow'; endpoint: EndpointState; reason: EjectionType; at: number };

export type OutlierListener = (event: OutlierEvent) => void;

/** Counters named after Envoy's `outlier_detection.*` statistics. */
export interface OutlierStats {
  ejectionsEnforcedTotal: number;
  ejectionsEnforcedConsecutive5xx: number;
  ejectionsEnforcedConsecutiveGatewayFailure: number;
  ejectionsEnforcedConsecutiveLocalOriginFailure: number;
  ejectionsDetectedConsecutive5xx: number;
  ejectionsDetectedConsecutiveGatewayFailure: number;
  ejectionsDetectedConsecutiveLocalOriginFailure: number;
  ejectionsOverflow: number;
}

export interface OutlierDetectorOptions {
  /** Monotonic clock in ms; defaults to `performance.now()`. */
  now?: () => number;
  /** Shorthand for `onEvent(listener)`. */
  onEvent?: OutlierListener;
}

interface HostMonitor {
  consecutive5xx: number;
  consecutiveGateway: number;
  consecutiveLocalOrigin: number;
  ejected: boolean;
  numEjections: number;
  backoff: number;
  lastEjectionAt: number;
  lastUnejectionAt: number | undefined;
}

/** Grpc::Utility::grpcToHttpStatus: how Envoy charges a gRPC status to outlier detection. */
export function grpcToHttpStatus(grpcStatus: number): number {
  switch (grpcStatus) {
    case 0: return 200;
    case 1: return 499;
    case 2: return 500;
    case 3: return 400;
    case 4: return 504;
    case 5: return 404;
    case 6: return 409;
    case 7: return 403;
    case 8: return 429;
    case 9: return 400;
    case 10: return 409;
    case 11: return 400;
    case 12: return 501;
    case 13: return 500;
    case 14: return 503;
    case 15: return 500;
    case 16: return 401;
    default: return 500;
  }
}

const isGatewayError = (status: number): boolean => status === 502 || status === 503 || status === 504;

export class OutlierDetector {
  private config: OutlierDetectionConfig;
  private readonly clock: () => number;
  private readonly monitors = new Map<EndpointState, HostMonitor>();
  private readonly listeners = new Set<OutlierListener>();
  private ejectedHosts = 0;
  /** When the interval logic next runs (NaN until a time was seen). */
  private nextSweepAt = Number.NaN;
  readonly stats: OutlierStats = {
    ejectionsEnforcedTotal: 0,
    ejectionsEnforcedConsecutive5xx: 0,
    ejectionsEnforcedConsecutiveGatewayFailure: 0,
    ejectionsEnforcedConsecutiveLocalOriginFailure: 0,
    ejectionsDetectedConsecutive5xx: 0,
    ejectionsDetectedConsecutiveGatewayFailure: 0,
    ejectionsDetectedConsecutiveLocalOriginFailure: 0,
    ejectionsOverflow: 0,
  };

  constructor(config: OutlierDetectionConfig, options: OutlierDetectorOptions = {}) {
    this.config = config;
    this.clock = options.now ?? (() => performance.now());
    if (options.onEvent) this.listeners.add(options.onEvent);
    if (options.now) this.anchor(options.now());
  }

  /** Applies a new configuration, keeping counters and ejections. */
  configure(config: OutlierDetectionConfig): void {
    if (!Number.isNaN(this.nextSweepAt) && config.intervalMs !== this.config.intervalMs) {
      this.nextSweepAt += config.intervalMs - this.config.intervalMs;
    }
    this.config = config;
  }

  /**
   * Tracks exactly these endpoints. New ones start healthy with clean counters; removed ones
   * are forgotten (an ejected one no longer counts towards `maxEjectionPercent`).
   */
  setEndpoints(endpoints: readonly EndpointState[], now: number = this.clock()): void {
    this.anchor(now);
    const keep = new Set(endpoints);
    let healthChanged = false;
    for (const [ep, m] of this.monitors) {
      if (keep.has(ep)) continue;
      if (m.ejected) this.ejectedHosts--;
      this.monitors.delete(ep);
    }
    for (const ep of endpoints) {
      if (this.monitors.has(ep)) continue;
      this.monitors.set(ep, { consecutive5xx: 0, consecutiveGateway: 0, consecutiveLocalOrigin: 0, ejected: false, numEjections: 0, backoff: 0, lastEjectionAt: 0, lastUnejectionAt: undefined });
      if (!ep.healthy) {
        ep.healthy = true;
        healthChanged = true;
      }
    }
    if (healthChanged) noteHealthChange();
  }

  /** Subscribes to eject / uneject / overflow events; a throwing listener is ignored. */
  onEvent(listener: OutlierListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** Hosts currently ejected. */
  get ejectedCount(): number {
    return this.ejectedHosts;
  }

  isEjected(ep: EndpointState): boolean {
    return this.monitors.get(ep)?.ejected ?? false;
  }

  /** How many times `ep` has been ejected. */
  ejections(ep: EndpointState): number {
    return this.monitors.get(ep)?.numEjections ?? 0;
  }

  // -------------------------------------------------------------------------------------
  // Results. Each mirrors one of Envoy's `putResult` / `putHttpResponseCode` paths.
  // -------------------------------------------------------------------------------------

  /**
   * A response came back from the endpoint (`putHttpResponseCode`). For gRPC pass
   * `grpcToHttpStatus(grpc-status)` when the status arrived in the response headers
   * (trailers-only response), as Envoy does; a grpc-status in trailers is not charged.
   */
  httpStatus(ep: EndpointState, status: number, now: number = this.clock()): void {
    const m = this.monitors.get(ep);
    if (!m) return;
    if (status >= 500 && status <= 599) {
      if (isGatewayError(status)) {
        if (++m.consecutiveGateway === this.config.consecutiveGatewayErrors) this.fire(ep, m, 'CONSECUTIVE_GATEWAY_FAILURE', now);
      } else {
        m.consecutiveGateway = 0;
      }
      if (++m.consecutive5xx === this.config.consecutive5xxErrors) this.fire(ep, m, 'CONSECUTIVE_5XX', now);
    } else {
      m.consecutive5xx = 0;
      m.consecutiveGateway = 0;
    }
  }

  /**
   * A connection (or stream) to the endpoint was obtained (`LOCAL_ORIGIN_CONNECT_SUCCESS`,
   * reported by Envoy's router for every request when the pool hands it a stream). Only
   * split mode cares: it resets the local-origin counter.
   */
  connectSuccess(ep: EndpointState): void {
    if (!this.config.splitExternalLocalOriginErrors) return;
    const m = this.monitors.get(ep);
    if (m) m.consecutiveLocalOrigin = 0;
  }

  /**
   * A failure of local origin: connect failure or refusal, reset, or timeout
   * (`LOCAL_ORIGIN_CONNECT_FAILED` / `LOCAL_ORIGIN_TIMEOUT`). Without split mode it counts as a
   * 503 (504 for a timeout) from the endpoint. Circuit-breaker overflow is not a host
   * failure and must not be reported.
   */
  localOriginFailure(ep: EndpointState, kind: LocalOriginFailure, now: number = this.clock()): void {
    const m = this.monitors.get(ep);
    if (!m) return;
    if (!this.config.splitExternalLocalOriginErrors) {
      this.httpStatus(ep, kind === 'timeout' ? 504 : 503, now);
      return;
    }
    if (++m.consecutiveLocalOrigin === this.config.consecutiveLocalOriginFailures) this.fire(ep, m, 'CONSECUTIVE_LOCAL_ORIGIN_FAILURE', now);
  }

  /** A non-HTTP transaction (e.g. TCP) completed (`EXT_ORIGIN_REQUEST_SUCCESS`). */
  success(ep: EndpointState, now: number = this.clock()): void {
    this.httpStatus(ep, 200, now);
    this.connectSuccess(ep);
  }

  /** A non-HTTP transaction failed on the server's side (`EXT_ORIGIN_REQUEST_FAILED`). */
  externalFailure(ep: EndpointState, now: number = this.clock()): void {
    // Envoy maps it to 500 without split mode and to 503 with it.
    this.httpStatus(ep, this.config.splitExternalLocalOriginErrors ? 503 : 500, now);
  }

  /**
   * Charges one attempt's outcome the way Envoy's router would: a response or a failure
   * after the request went out implies the connection had succeeded first.
   */
  recordOutcome(ep: EndpointState, outcome: AttemptOutcome, now: number = this.clock()): void {
    if (outcome.kind === 'response') {
      this.connectSuccess(ep);
      this.httpStatus(ep, outcome.grpcStatus !== undefined ? grpcToHttpStatus(outcome.grpcStatus) : outcome.status, now);
      return;
    }
    if (!outcome.beforeRequestSent) this.connectSuccess(ep);
    this.localOriginFailure(ep, outcome.reason, now);
  }

  // -------------------------------------------------------------------------------------
  // Ejection and the interval sweep.
  // -------------------------------------------------------------------------------------

  private fire(ep: EndpointState, m: HostMonitor, type: EjectionType, now: number): void {
    // onConsecutiveErrorWorker: a host already out is left alone, counters included.
    if (m.ejected) return;
    if (type === 'CONSECUTIVE_5XX') this.stats.ejectionsDetectedConsecutive5xx++;
    else if (type === 'CONSECUTIVE_GATEWAY_FAILURE') this.stats.ejectionsDetectedConsecutiveGatewayFailure++;
    else this.stats.ejectionsDetectedConsecutiveLocalOriginFailure++;
    this.eject(ep, m, type, now);
    if (type === 'CONSECUTIVE_5XX') m.consecutive5xx = 0;
    else if (type === 'CONSECUTIVE_GATEWAY_FAILURE') m.consecutiveGateway = 0;
    else m.consecutiveLocalOrigin = 0;
  }

  /** DetectorImpl::ejectHost. */
  private eject(ep: EndpointState, m: HostMonitor, type: EjectionType, now: number): void {
    const maxPercent = Math.min(100, this.config.maxEjectionPercent);
    const percent = (100 * (this.ejectedHosts + 1)) / this.monitors.size;
    if (percent > maxPercent) {
      this.stats.ejectionsOverflow++;
      this.emit({ type: 'overflow', endpoint: ep, reason: type, at: now });
      return;
    }
    this.ejectedHosts++;
    this.stats.ejectionsEnforcedTotal++;
    if (type === 'CONSECUTIVE_5XX') this.stats.ejectionsEnforcedConsecutive5xx++;
    else if (type === 'CONSECUTIVE_GATEWAY_FAILURE') this.stats.ejectionsEnforcedConsecutiveGatewayFailure++;
    else this.stats.ejectionsEnforcedConsecutiveLocalOriginFailure++;
    m.ejected = true;
    m.numEjections++;
    m.lastEjectionAt = now;
    const base = this.config.baseEjectionTimeMs;
    const max = this.maxEjectionTimeMs();
    if (m.backoff * base < max + base) m.backoff++;
    ep.healthy = false;
    noteHealthChange();
    this.emit({ type: 'eject', endpoint: ep, reason: type, ejections: m.numEjections, durationMs: Math.min(base * m.backoff, max), at: now });
  }

  /** Envoy: max_ejection_time unset (Istio never sets it) = max(300 s, baseEjectionTime). */
  private maxEjectionTimeMs(): number {
    return Math.max(this.config.maxEjectionTimeMs, this.config.baseEjectionTimeMs);
  }

  private uneject(ep: EndpointState, m: HostMonitor, now: number): void {
    this.ejectedHosts--;
    m.ejected = false;
    // Fresh counters, so a few errors right after return do not eject again at once.
    m.consecutive5xx = 0;
    m.consecutiveGateway = 0;
    m.consecutiveLocalOrigin = 0;
    m.lastUnejectionAt = now;
    ep.healthy = true;
    noteHealthChange();
    this.emit({ type: 'uneject', endpoint: ep, ejections: m.numEjections, at: now });
  }

  private anchor(now: number): void {
    if (Number.isNaN(this.nextSweepAt)) this.nextSweepAt = now + this.config.intervalMs;
  }

  /** When the interval logic runs next (ms on the detector's clock), NaN before any time was seen. */
  get nextSweepDue(): number {
    return this.nextSweepAt;
  }

  /**
   * DetectorImpl::onIntervalTimer, run when an interval has passed since the last run:
   * un-ejects hosts whose ejection time is over, then lowers the backoff of hosts that have
   * stayed in for at least an interval since their last un-ejection.
   */
  sweep(now: number = this.clock()): void {
    if (Number.isNaN(this.nextSweepAt)) {
      this.anchor(now);
      return;
    }
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.config.intervalMs;
    const base = this.config.baseEjectionTimeMs;
    const max = this.maxEjectionTimeMs();
    for (const [ep, m] of this.monitors) {
      if (m.ejected && Math.min(base * m.backoff, max) <= now - m.lastEjectionAt) this.uneject(ep, m, now);
    }
    for (const m of this.monitors.values()) {
      if (!m.ejected && m.lastUnejectionAt !== undefined && now - m.lastUnejectionAt >= this.config.intervalMs && m.backoff > 0) m.backoff--;
    }
  }

  private emit(event: OutlierEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A metrics hook must never break request handling.
      }
    }
  }
}
