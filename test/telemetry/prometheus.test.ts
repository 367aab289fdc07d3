/**
 * Issue #7 end to end: three meshed services report Istio's standard metrics from both ends of
 * each request, a real Prometheus scrapes them, and Istio's own Grafana dashboards (mesh, service,
 * workload; shared/conformance/istio group K) are run against it unchanged. Every HTTP query of
 * the dashboards must return data, and the headline panels must show the traffic the test sent.
 *
 * Prometheus: `scripts/ensure-prometheus.sh` (run by `npm test`) installs Debian's package.
 *
 * The traffic, on a fixed schedule (R requests a second for D seconds, unmeshed client →
 * productpage → reviews → ratings):
 *   productpage → reviews: R/s, mTLS, 1 in 4 answered 503, ≈ reviewsDelay + ratingsDelay ms;
 *   reviews → ratings:     R/s, plaintext, 1 in 4 answered 503, ≈ ratingsDelay ms;
 *   client → productpage:  R/s, plaintext, all 200 (destination side only: the client is not meshed).
 * Queries run at a time T inside the steady part of the run, after Prometheus scraped past it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBookinfoChain, WARM_UP_MS, type BookinfoChain, type ServiceName, type TrafficRun } from './bookinfo-chain.js';
import {
  classify, dashboardViews, interpolate, loadDashboards, rateInterval, type Dashboard, type DashboardExpr, type ExprKind, type View,
} from './grafana-dashboards.js';
import { startPrometheus, type Prometheus, type Sample } from './prometheus-server.js';

const RATE = 20; // requests a second into productpage
const DURATION_MS = 10_000;
const FAIL_EVERY = 4; // ratings answers 503 to one request in four
const SUCCESS = 1 - 1 / FAIL_EVERY;
// Each hop's duration sits inside one Envoy bucket (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000
// ms...), over 100 ms below its upper bound (timers never fire early, so the lower bound holds):
// a busy machine does not move a quantile into the next bucket.
const RATINGS_DELAY_MS = 130; // ratings: ≈ 130 ms, bucket (100, 250]
const REVIEWS_DELAY_MS = 200; // reviews, productpage: 200 + 130 ≈ 330 ms, bucket (250, 500]
const SCRAPE_S = 1;

let chain: BookinfoChain;
let run: TrafficRun;
let prom: Prometheus;
/** Evaluation time: one second before the last request was sent (seconds since the epoch). */
let T: number;
const dashboards: Dashboard[] = loadDashboards();
const views = new Map<Dashboard, View[]>();

interface Outcome {
  e: DashboardExpr;
  kind: ExprKind;
  /** Views (selections) in which it returned at least one non-NaN sample. */
  withData: string[];
  views: number;
}
const outcomes = new Map<DashboardExpr, Outcome>();

const hasData = (r: Sample[]) => r.some((s) => !Number.isNaN(Number(s.value[1])));
const label = (v: View) => Object.entries(v.chosen).map(([k, x]) => `${k}=${x}`).join(' ') || '(no variables)';

function outcome(e: DashboardExpr): Outcome {
  let o = outcomes.get(e);
  if (!o) outcomes.set(e, (o = { e, kind: classify(e.expr), withData: [], views: 0 }));
  return o;
}

/** An HTTP query whose every selector asks reporter="source" for connection_security_policy="mutual_tls". */
function clientSideMtlsOnly(expr: string): boolean {
  const selectors = [...expr.matchAll(/istio_\w+\{([^}]*)\}/g)].map((m) => m[1]!);
  return selectors.length > 0 && selectors.every((s) => /reporter\s*=\s*"source"/.test(s) && /connection_security_policy\s*=\s*"mutual_tls"/.test(s));
}

function reasonWithoutData(o: Outcome): string | undefined {
  switch (o.kind) {
    case 'tcp':
      return 'TCP (istio_tcp_*): the traffic is HTTP only';
    case 'control-plane':
      return 'control plane (istio_build): no istiod here';
    case 'grpc-messages':
      return 'gRPC message counters: no gRPC streams in the traffic';
    case 'http':
      return clientSideMtlsOnly(o.e.expr)
        ? 'reporter="source" with connection_security_policy="mutual_tls": the client side always reports "unknown" (Istio\'s stats filter; istio/istio#42853), so it is empty behind Envoy too'
        : undefined;
    default:
      return 'not an Istio request metric';
  }
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function evaluate(e: DashboardExpr, v: View): Promise<Sample[]> {
  return prom.query(interpolate(e.expr, { ...v.values, __rate_interval: rateInterval(e, SCRAPE_S) }), T);
}

beforeAll(async () => {
  chain = await startBookinfoChain({ ratingsDelayMs: RATINGS_DELAY_MS, reviewsDelayMs: REVIEWS_DELAY_MS, failEvery: FAIL_EVERY });
  const s = chain.services;
  prom = await startPrometheus({
    intervalSeconds: SCRAPE_S,
    targets: Object.values(s).map((x) => ({ port: x.metricsPort, labels: { namespace: 'default', pod: `${x.workload}-0`, app: x.name, version: 'v1' } })),
  });
  // Every target scraped once before the traffic starts: the first request's series are then
  // new on a known-good target, and a broken endpoint fails here rather than as missing data.
  await prom.waitForScrapes(Date.now() / 1000);
  run = await chain.drive(RATE, DURATION_MS);
  expect(run.statuses).toEqual({ 200: run.sent });
  T = run.lastSentAt - 1;
  // The widest query window (the mesh dashboard's 6 s) starts after the warm-up.
  expect(T - 6 - run.firstSentAt).toBeGreaterThan(WARM_UP_MS / 1000);
  await prom.waitForScrapes(run.lastSentAt + SCRAPE_S);

  // Every selection a user can make on each dashboard, and every expression in each of them.
  for (const d of dashboards) {
    views.set(d, await dashboardViews(d, (q) => prom.query(q, T), (e, v, r) => {
      const o = outcome(e);
      o.views++;
      if (hasData(r)) o.withData.push(label(v));
    }));
    const jobs = d.exprs.filter((e) => !e.variable).flatMap((e) => views.get(d)!.map((v) => ({ e, v })));
    await pool(jobs, 8, async ({ e, v }) => {
      const o = outcome(e);
      o.views++;
      if (hasData(await evaluate(e, v))) o.withData.push(label(v));
    });
  }
}, 90_000);

afterAll(async () => {
  await prom?.stop();
  await chain?.close();
});

/** The samples of a dashboard query in the view where the variables have the given values. */
async function panel(file: string, title: string, refId: string | number, chosen: Record<string, string> = {}): Promise<Sample[]> {
  const d = dashboards.find((x) => x.file === file)!;
  const targets = d.exprs.filter((e) => e.panelTitle === title);
  const e = typeof refId === 'number' ? targets[refId] : targets.find((x) => x.refId === refId);
  if (!e) throw new Error(`${file}: no panel "${title}" target ${refId}`);
  const v = views.get(d)!.find((x) => Object.entries(chosen).every(([k, val]) => x.chosen[k] === val));
  if (!v) throw new Error(`${file}: no view with ${JSON.stringify(chosen)}`);
  return evaluate(e, v);
}
const one = (r: Sample[]) => {
  expect(r).toHaveLength(1);
  return Number(r[0]!.value[1]);
};
const by = (r: Sample[], key: (m: Record<string, string>) => string) => Object.fromEntries(r.map((s) => [key(s.metric), Number(s.value[1])]));

/**
 * Tolerances.
 * - Request rates. The service and workload dashboards use irate: the last two scrapes, 1 s
 *   apart, hold ≈ R requests; a completion slipping across a scrape boundary, or a late timer
 *   caught up in a pair, moves that by up to 2-3 of R = 20 → ±15 % of a whole stream. A part of
 *   the stream picked by request index (the 503s, one in four; the 200s) is bounded in whole
 *   requests, not by the same percentage: k consecutive requests hold ⌊k/4⌋ to ⌈k/4⌉ failures,
 *   so with 17 ≤ k ≤ 23 in the window the 503s are 5 ± 1 a second — ±20 %, which a flat 15 %
 *   wrongly refused (CI saw 6 for 5). Prometheus aligns scrape timestamps to the interval
 *   (within 2 ms), so the divisor is 1 s; 2 % covers what is left. The mesh dashboard's rate
 *   over 6 s is steadier, but one bound keeps it simple.
 * - Success ratios. Failures follow the request index (1 in 4): any k consecutive requests hold
 *   ⌊k/4⌋ or ⌈k/4⌉ failures, so in a ≥ 17-request interval the ratio is within 1/17 ≈ 0.06 of 3/4.
 * - Quantiles. Every duration of a hop falls in one Envoy bucket ((100, 250] ms for ratings,
 *   (250, 500] ms for reviews and productpage), and histogram_quantile interpolates linearly
 *   inside it: the value must lie in that bucket, whatever the quantile (exactly lo + q·(hi − lo),
 *   which the printout shows). Timers never fire early, so the lower bound is firm. A P99 over a
 *   20-100-request window is its slowest request or two, so one request held up by a busy
 *   machine moves it: the upper bound is that of the bucket holding the slowest request into the
 *   service as its caller timed it after the warm-up, which is the expected bucket whenever none
 *   strayed.
 */
const RATE_TOLERANCE = 0.15;
const RATIO_TOLERANCE = 0.065;
/** What the value checks saw, printed after each test. */
const seen: string[] = [];
const fmt = (x: number | undefined) => (x === undefined ? 'none' : String(Math.round(x * 10_000) / 10_000));
/**
 * The bound on a rate of `share` of a stream of `total` requests a second (see Tolerances): the
 * whole stream is within ±RATE_TOLERANCE, and the part picked by request index holds between
 * ⌊share·k⌋ and ⌈share·k⌉ of any k of them.
 */
function rateTolerance(total: number, share = 1): number {
  const expected = total * share;
  const slip = total * RATE_TOLERANCE;
  const requests = Math.max(Math.ceil(share * (total + slip) - 1e-9) - expected, expected - Math.floor(share * (total - slip) + 1e-9));
  return requests * 1.02;
}
const expectRate = (what: string, actual: number | undefined, total: number, share = 1) => {
  const expected = total * share;
  const tolerance = rateTolerance(total, share);
  seen.push(`${what}: ${fmt(actual)} req/s (sent ${expected} ± ${fmt(tolerance)})`);
  expect(actual, what).toBeDefined();
  expect(Math.abs(actual! - expected), what).toBeLessThanOrEqual(tolerance);
};
const expectRatio = (what: string, actual: number | undefined, expected: number) => {
  seen.push(`${what}: ${fmt(actual)} (sent ${expected} ± ${RATIO_TOLERANCE})`);
  expect(actual, what).toBeDefined();
  expect(Math.abs(actual! - expected), what).toBeLessThanOrEqual(RATIO_TOLERANCE);
};
/** Envoy's bucket bounds in ms (ISTIO_BUCKETS of @meshwork/telemetry, the first ones). */
const BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
const expectInBucket = (what: string, actual: number | undefined, [loMs, hiMs]: readonly [number, number], into: ServiceName, unit: 'ms' | 's') => {
  const scale = unit === 'ms' ? 1 : 0.001;
  const slowest = run.slowestMs[into];
  const upperMs = Math.max(hiMs, BUCKETS_MS.find((b) => b >= slowest) ?? Infinity);
  const [lo, hi, upper] = [loMs * scale, hiMs * scale, upperMs * scale];
  seen.push(`${what}: ${fmt(actual)} ${unit} (bucket (${lo}, ${hi}]${upper > hi ? `; a request into ${into} took ${Math.round(slowest)} ms, so up to ${upper}` : ''})`);
  expect(actual, what).toBeGreaterThan(lo);
  expect(actual, what).toBeLessThanOrEqual(upper);
};
afterEach(() => {
  if (seen.length > 0) console.log(seen.splice(0).join('\n'));
});
/** The Envoy buckets (ms) that hold each hop's duration. */
const RATINGS_BUCKET = [100, 250] as const;
const REVIEWS_BUCKET = [250, 500] as const;
const fqdn = (s: string) => `${s}.default.svc.cluster.local`;
/** The duration panels' targets: A, B, C are P50, P90, P99. */
const QUANTILES = [['A', 'P50'], ['B', 'P90'], ['C', 'P99']] as const;

describe("Istio's Grafana dashboards on a real Prometheus scraping three meshed services (issue #7)", () => {
  it('every HTTP query of the mesh, service and workload dashboards returns data', () => {
    const all = [...outcomes.values()];
    const withData = all.filter((o) => o.withData.length > 0);
    const http = all.filter((o) => o.kind === 'http' && !clientSideMtlsOnly(o.e.expr));
    const clientMtls = all.filter((o) => o.kind === 'http' && clientSideMtlsOnly(o.e.expr));
    const httpWithData = http.filter((o) => o.withData.length > 0).length;
    const kinds = new Map<ExprKind, number>();
    for (const o of all) if (o.kind !== 'http') kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
    const others = [...kinds].map(([k, n]) => `${n} ${k}`);
    console.log([
      `Prometheus ${prom.version}; selections evaluated: ${dashboards.map((d) => `${d.title} ${views.get(d)!.length}`).join(', ')}`,
      `${withData.length} of ${all.length} dashboard expressions return data (${http.length} HTTP ones: ${httpWithData === http.length ? 'all' : httpWithData}; `
        + `${clientMtls.length} more HTTP ones ask reporter="source" for connection_security_policy="mutual_tls"; ${others.join(', ')})`,
      'Without data:',
      ...all.filter((o) => o.withData.length === 0).map((o) => `  ${o.e.dashboard} ${o.e.where}: ${reasonWithoutData(o) ?? 'MISSING (an HTTP query that should have data)'}`),
    ].join('\n'));

    expect(all.length).toBe(dashboards.reduce((n, d) => n + d.exprs.length, 0));
    expect(all.every((o) => o.views > 0)).toBe(true);
    expect(http.filter((o) => o.withData.length === 0).map((o) => `${o.e.dashboard} ${o.e.where}`)).toEqual([]);
    // Istio's semantics, not a gap: these stay empty because the client side says "unknown".
    expect(clientMtls.filter((o) => o.withData.length > 0).map((o) => `${o.e.dashboard} ${o.e.where}`)).toEqual([]);
    for (const o of all) if (o.withData.length === 0) expect(reasonWithoutData(o), `${o.e.dashboard} ${o.e.where}`).toBeDefined();
  });

  it('mesh dashboard: traffic volume, success rate, 4xx/5xx and the per-workload table show the traffic sent', async () => {
    const f = 'istio-mesh-dashboard.gen.json';
    // reporter="source": the two meshed hops, R each.
    expectRate('mesh Traffic Volume', one(await panel(f, 'Traffic Volume', 0)), 2 * RATE);
    expectRatio('mesh Success Rate', one(await panel(f, 'Success Rate', 0)), SUCCESS);
    expect(one(await panel(f, '4xxs', 0))).toBe(0);
    expectRate('mesh 5xxs', one(await panel(f, '5xxs', 0)), 2 * RATE, 1 - SUCCESS);

    const wl = (m: Record<string, string>) => m.destination_workload!;
    const requests = by(await panel(f, 'HTTP/gRPC Workloads', 'requests'), wl);
    expect(Object.keys(requests).sort()).toEqual(['ratings-v1', 'reviews-v1']);
    const success = by(await panel(f, 'HTTP/gRPC Workloads', 'success'), wl);
    for (const [w, into, bucket] of [['reviews-v1', 'reviews', REVIEWS_BUCKET], ['ratings-v1', 'ratings', RATINGS_BUCKET]] as const) {
      expectRate(`mesh HTTP/gRPC Workloads ${w} requests`, requests[w], RATE);
      expectRatio(`mesh HTTP/gRPC Workloads ${w} success`, success[w], SUCCESS);
      for (const q of ['p50', 'p90', 'p99']) expectInBucket(`mesh HTTP/gRPC Workloads ${w} ${q}`, by(await panel(f, 'HTTP/gRPC Workloads', q), wl)[w], bucket, into, 'ms');
    }
  });

  it('service dashboard: client and server volume, success rate and duration per service', async () => {
    const f = 'istio-service-dashboard.json';
    for (const [svc, bucket] of [['reviews', REVIEWS_BUCKET], ['ratings', RATINGS_BUCKET]] as const) {
      const client = { service: fqdn(svc), qrep: 'source' };
      expectRate(`service ${svc} Client Request Volume`, one(await panel(f, 'Client Request Volume', 'A', client)), RATE);
      expectRatio(`service ${svc} Client Success Rate`, one(await panel(f, 'Client Success Rate (non-5xx responses)', 'A', client)), SUCCESS);
      for (const [q, p] of QUANTILES) {
        expectInBucket(`service ${svc} Client Request Duration ${p}`, one(await panel(f, 'Client Request Duration', q, client)), bucket, svc, 's');
      }

      const server = { service: fqdn(svc), qrep: 'destination' };
      expectRate(`service ${svc} Server Request Volume`, one(await panel(f, 'Server Request Volume', 'A', server)), RATE);
      expectRatio(`service ${svc} Server Success Rate`, one(await panel(f, 'Server Success Rate (non-5xx responses)', 'A', server)), SUCCESS);
      for (const [q, p] of QUANTILES) {
        expectInBucket(`service ${svc} Server Request Duration ${p}`, one(await panel(f, 'Server Request Duration', q, server)), bucket, svc, 's');
      }

      // Incoming requests by source and response code: A over mTLS (reviews), B in plaintext (ratings).
      const [tls, plain] = svc === 'reviews' ? ['A', 'B'] : ['B', 'A'];
      const bySource = by(await panel(f, 'Incoming Requests By Source And Response Code', tls, server), (m) => `${m.source_workload} ${m.response_code}`);
      const caller = svc === 'reviews' ? 'productpage-v1' : 'reviews-v1';
      expect(Object.keys(bySource).sort()).toEqual([`${caller} 200`, `${caller} 503`]);
      expectRate(`service ${svc} Incoming Requests from ${caller} 200`, bySource[`${caller} 200`], RATE, SUCCESS);
      expectRate(`service ${svc} Incoming Requests from ${caller} 503`, bySource[`${caller} 503`], RATE, 1 - SUCCESS);
      expect(await panel(f, 'Incoming Requests By Source And Response Code', plain, server)).toEqual([]);
    }
    // productpage: called in plaintext by an unmeshed client; it always answers 200.
    const pp = { service: fqdn('productpage'), qrep: 'destination' };
    expectRate('service productpage Server Request Volume', one(await panel(f, 'Server Request Volume', 'A', pp)), RATE);
    expect(one(await panel(f, 'Server Success Rate (non-5xx responses)', 'A', pp))).toBe(1);
    for (const [q, p] of QUANTILES) {
      expectInBucket(`service productpage Server Request Duration ${p}`, one(await panel(f, 'Server Request Duration', q, pp)), REVIEWS_BUCKET, 'productpage', 's');
    }
    const unmeshed = by(await panel(f, 'Incoming Requests By Source And Response Code', 'B', pp), (m) => `${m.source_workload}.${m.source_workload_namespace} ${m.response_code}`);
    expect(Object.keys(unmeshed)).toEqual(['unknown.unknown 200']);
    expectRate('service productpage Incoming Requests from unknown.unknown 200', unmeshed['unknown.unknown 200'], RATE);
  });

  it('workload dashboard: inbound and outbound views of reviews-v1 and productpage-v1', async () => {
    const f = 'istio-workload-dashboard.json';
    const reviews = { namespace: 'default', workload: 'reviews-v1', qrep: 'destination' };
    expectRate('workload reviews-v1 Incoming Request Volume', one(await panel(f, 'Incoming Request Volume', 'A', reviews)), RATE);
    expectRatio('workload reviews-v1 Incoming Success Rate', one(await panel(f, 'Incoming Success Rate (non-5xx responses)', 'A', reviews)), SUCCESS);
    for (const [q, p] of QUANTILES) {
      expectInBucket(`workload reviews-v1 Request Duration ${p}`, one(await panel(f, 'Request Duration', q, reviews)), REVIEWS_BUCKET, 'reviews', 's');
    }

    // Outbound, split on destination_principal: A is mTLS (spiffe://...), B plaintext.
    const outgoing = async (workload: string, refId: string) =>
      by(await panel(f, 'Outgoing Requests By Destination And Response Code', refId, { ...reviews, workload }), (m) => `${m.destination_service} ${m.response_code}`);
    for (const [workload, refId, dst] of [['reviews-v1', 'B', 'ratings'], ['productpage-v1', 'A', 'reviews']] as const) {
      const out = await outgoing(workload, refId);
      expect(Object.keys(out).sort()).toEqual([`${fqdn(dst)} 200`, `${fqdn(dst)} 503`]);
      expectRate(`workload ${workload} Outgoing Requests to ${dst} 200`, out[`${fqdn(dst)} 200`], RATE, SUCCESS);
      expectRate(`workload ${workload} Outgoing Requests to ${dst} 503`, out[`${fqdn(dst)} 503`], RATE, 1 - SUCCESS);
      expect(await outgoing(workload, refId === 'A' ? 'B' : 'A')).toEqual({});
    }
    // The duration panels split on connection_security_policy, "unknown" on the client side: E-H.
    for (const [q, p] of [['E', 'P50'], ['F', 'P90'], ['H', 'P99']] as const) {
      const d = by(await panel(f, 'Outgoing Request Duration By Destination', q, reviews), (m) => m.destination_service!);
      expectInBucket(`workload reviews-v1 Outgoing Request Duration to ratings ${p}`, d[fqdn('ratings')], RATINGS_BUCKET, 'ratings', 's');
    }
  });
});
