// One measured client for the HTTP client benchmark: fetch.mjs starts a fresh Node process
// per (API, path) so that RSS, CPU time and loaded modules are that client's alone. Built-in
// fetch rows do not import the npm undici package: its module body installs itself as the
// global dispatcher of Node's fetch too, which would make "bare fetch" an undici 8 client.
// Input: one JSON argument (see fetch.mjs); output: one JSON line on stdout.
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const cfg = JSON.parse(process.argv[2]);

// An application's own long-lived data (--app-heap, default none): a service holds tens of
// megabytes before it sends a request, which is one of the things that tips V8's pretenuring
// decisions (see v8RegimeFlags in child.mjs). The same amount in every row, before anything else.
const appData = [];
for (let i = 0, n = Math.round((cfg.appHeapMb ?? 0) * 1024 * 1024 / 100); i < n; i++) appData.push({ id: i, name: `item-${i}`, tags: [i & 7] });
globalThis.__appData = appData;

// Time spent in garbage collection while a window is measured (all kinds: scavenges and
// mark-compact), from the runtime's own GC events.
let gcMs = 0;
new PerformanceObserver((list) => { for (const e of list.getEntries()) gcMs += e.duration; }).observe({ entryTypes: ['gc'] });

function errorText(err) {
  if (!err) return String(err);
  const first = `${err.code ? `${err.code}: ` : ''}${String(err.message ?? err).split('\n')[0]}`;
  return err.cause ? `${first} (cause: ${errorText(err.cause)})` : first;
}

function ticks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function allTicks() {
  const out = {};
  for (const [name, pid] of Object.entries(cfg.nginxPids)) out[name] = ticks(pid);
  return out;
}

// Latency histogram: 1 us buckets up to 50 ms, larger values kept as a bounded list. Fixed
// size, so the measuring itself adds the same RSS to every row.
const BUCKETS = 50_000;
const hist = new Uint32Array(BUCKETS);
let slow = [];

function percentile(n, q) {
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank) return i + 0.5;
  }
  const sorted = slow.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, rank - seen - 1)] ?? NaN;
}

/**
 * Closed loop: `concurrency` callers each send, wait for the whole body, and send again until
 * `ms` have passed (or `maxRequests` completed). Latency of every request that finished.
 */
async function load(send, concurrency, ms, { record, maxRequests = cfg.maxRequests }) {
  hist.fill(0);
  slow = [];
  let n = 0;
  let errors = 0;
  let firstError;
  const t0 = performance.now();
  const end = t0 + ms;
  const caller = async () => {
    for (;;) {
      const start = performance.now();
      if (start >= end || n >= maxRequests) return;
      let ok = false;
      try {
        const status = await send();
        ok = status === 200;
        if (!ok) firstError ??= `HTTP ${status}`;
      } catch (err) {
        firstError ??= errorText(err);
      }
      const us = (performance.now() - start) * 1000;
      n++;
      if (!ok) errors++;
      if (record) {
        if (us < BUCKETS) hist[Math.floor(us)]++;
        else if (slow.length < 100_000) slow.push(us);
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const gc0 = gcMs;
  const ticks0 = record ? allTicks() : undefined;
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // GC events are delivered asynchronously: let the last ones of this window arrive.
  await new Promise((r) => setImmediate(r));
  const gcUs = (gcMs - gc0) * 1000;
  const ticks1 = record ? allTicks() : undefined;
  const result = { n, errors, firstError, elapsedMs, rps: (n * 1000) / elapsedMs, clientCpuUs: cpu.user + cpu.system, gcUs };
  if (record) {
    result.p50 = percentile(n, 0.5);
    result.p99 = percentile(n, 0.99);
    result.ticks = Object.fromEntries(Object.keys(ticks0).map((k) => [k, ticks1[k] - ticks0[k]]));
  }
  return result;
}

async function makeSender() {
  let dispatcher;
  /** For mesh-notel-headers: the headers telemetry would add, made fresh for each request as the mesh makes them. */
  let telemetryHeaders;
  if (cfg.path === 'mesh' || cfg.path === 'mesh-notel' || cfg.path === 'mesh-notel-headers') {
    let mod;
    try {
      mod = await import('@meshwork/fetch');
    } catch (err) {
      return { unavailable: errorText(err) };
    }
    if (typeof mod.createMeshDispatcher !== 'function') return { unavailable: '@meshwork/fetch does not export createMeshDispatcher' };
    const make = (telemetryOff) => mod.createMeshDispatcher({
      workload: { namespace: 'default', labels: { app: 'bench' } }, configYaml: cfg.meshYaml,
      // Issue #7's setting: Istio metrics on (prom-client's global registry), access logs off (no
      // Telemetry resource asks for them), tracing through a provider at 1 % sampling.
      telemetry: telemetryOff ? false : undefined,
      meshConfig: {
        extensionProviders: [{ name: 'prometheus', prometheus: {} }, { name: 'otel', opentelemetry: { service: 'otel-collector.observability.svc.cluster.local', port: 4317 } }],
        defaultProviders: { metrics: ['prometheus'], tracing: ['otel'] },
        defaultTracingSampling: 1,
      },
    });
    dispatcher = make(cfg.path !== 'mesh');
    if (cfg.path === 'mesh-notel-headers') {
      // The exchange values of the meshed row (same workload, same config), then the two ids a
      // 1 %-sampled request carries, new each request (unsampled: flags 00).
      const withTelemetry = make(false);
      const { peerMetadataId, peerMetadata } = withTelemetry.mesh.telemetry;
      await withTelemetry.close();
      telemetryHeaders = () => ({
        'x-request-id': randomUUID(),
        traceparent: `00-${randomUUID().replaceAll('-', '')}-${randomUUID().replaceAll('-', '').slice(0, 16)}-00`,
        'x-envoy-peer-metadata-id': peerMetadataId,
        'x-envoy-peer-metadata': peerMetadata,
      });
    }
  }
  const url = cfg.url;
  let send;
  if (cfg.api === 'undici.request') {
    const { request } = await import('undici');
    const opts = dispatcher ? { dispatcher } : undefined;
    send = async () => {
      const { statusCode, body } = await request(url, telemetryHeaders ? { dispatcher, headers: telemetryHeaders() } : opts);
      const text = await body.text();
      if (text !== 'ok\n') throw new Error(`HTTP ${statusCode}, unexpected body ${JSON.stringify(text.slice(0, 100))}`);
      return statusCode;
    };
  } else {
    const opts = dispatcher ? { dispatcher } : undefined;
    send = async () => {
      const res = await fetch(url, telemetryHeaders ? { dispatcher, headers: telemetryHeaders() } : opts);
      const text = await res.text();
      if (text !== 'ok\n') throw new Error(`HTTP ${res.status}, unexpected body ${JSON.stringify(text.slice(0, 100))}`);
      return res.status;
    };
  }
  return { send, close: async () => { if (dispatcher) await dispatcher.close(); } };
}

async function main() {
  const sender = await makeSender();
  if (sender.unavailable) return { status: 'unavailable', error: sender.unavailable };
  const { send, close } = sender;
  // One request first: a path that cannot answer at all is reported, not measured.
  let probeError;
  try {
    const status = await send();
    if (status !== 200) probeError = `HTTP ${status}`;
  } catch (err) {
    probeError = errorText(err);
  }
  if (probeError) {
    await close().catch(() => {});
    return { status: 'failed', error: probeError };
  }
  // Memory of the client itself (modules, config, 32 pooled connections) after a few requests
  // per connection, before sustained load lets V8 grow its heap to suit the allocation rate.
  const top = Math.max(...cfg.concurrencies);
  await load(send, top, 60_000, { record: false, maxRequests: 8 * top });
  const gc = globalThis.gc ?? (() => {});
  gc(); gc();
  const rssIdle = process.memoryUsage.rss();
  // Warm-up: JIT, connection pools (32 connections), nginx upstream keep-alive caches.
  await load(send, top, cfg.warmupMs, { record: false });
  const results = {};
  for (const c of cfg.concurrencies) {
    await load(send, c, cfg.warmupMs / 4, { record: false });
    results[c] = await load(send, c, cfg.measureMs, { record: true });
  }
  const rss = process.memoryUsage.rss();
  gc(); gc();
  // Under load V8 sizes its heap to the allocation rate (a bare client: heapTotal ~140 MB for
  // ~12 MB live), so RSS after load is mostly heap headroom; the live heap shows what the
  // client retains (a leak shows here).
  const heapLive = process.memoryUsage().heapUsed;
  await close();
  return { status: 'ok', results, rss, rssIdle, heapLive };
}

main().then(
  (out) => { process.stdout.write(`${JSON.stringify(out)}\n`); process.exit(0); },
  (err) => { process.stdout.write(`${JSON.stringify({ status: 'failed', error: errorText(err) })}\n`); process.exit(0); },
);
