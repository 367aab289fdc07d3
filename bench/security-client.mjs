// One measured client of the mesh security benchmark (security.mjs), in a fresh Node process per
// row: closed-loop load at each concurrency, latency histogram, the client's CPU from
// process.cpuUsage(), and the CPU time of the server-side processes (the server, nginx) from
// /proc/<pid>/task/*/schedstat (nanoseconds, all threads; CLK_TCK ticks where schedstat is missing).
// Input: one JSON argument (see security.mjs); output: one JSON line on stdout.
//
// modes:
//   mesh       undici.request through @meshwork/fetch's dispatcher to the mesh name (auto-mTLS when
//              the client's Mesh has an identity, plaintext when it has none)
//   bare       undici.request to a URL, no mesh (the nginx pair row)
//   pool       an undici Pool over mTLS with the client workload certificate (the Fastify rows)
//   handshake  a fresh mTLS connection per request (tls.connect, ECDSA P-256 certificates), no resumption
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import {
  AUTHZ_REQUEST, CLIENT, MESH_HOST, MESH_PORT, SERVER_ID, clientMeshYaml, loadCore, loadFetch, loadIdentity, loadUndici,
} from './security-config.mjs';

const cfg = JSON.parse(process.argv[2]);
const OK = 'ok\n';

function errorText(err) {
  if (!err) return String(err);
  const first = `${err.code ? `${err.code}: ` : ''}${String(err.message ?? err).split('\n')[0]}`;
  return err.cause ? `${first} (cause: ${errorText(err.cause)})` : first;
}

// ---- CPU of the other processes ----

const CLK_TCK = cfg.clkTck ?? 100;

/** CPU time of a process in ns: the sum of its threads' schedstat run times, or utime+stime ticks. */
function cpuNs(pid) {
  try {
    let sum = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      sum += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    }
    if (sum > 0) return sum;
  } catch { /* no schedstat here: ticks below */ }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e9) / CLK_TCK;
}

/** Busy CPU time of the whole machine in ns (/proc/stat: everything but idle and iowait). */
function machineBusyNs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest time is inside user
  return ((total - f[3] - f[4]) * 1e9) / CLK_TCK;
}

function allCpu() {
  const out = {};
  for (const [name, pid] of Object.entries(cfg.pids)) out[name] = cpuNs(pid);
  return out;
}

/**
 * A fixed piece of CPU work (integer loop + SHA-256 of 1 MiB), timed in ms: run just before and
 * after each measured window, it shows when the machine itself was slower (another tenant on the
 * host, throttling), which the per-process CPU figures cannot show.
 */
const calibBuf = Buffer.alloc(1 << 20, 7);
function calibrate() {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 1e6; i++) x = (x * 31 + i) | 0;
  createHash('sha256').update(calibBuf).digest();
  const ms = performance.now() - t0;
  return x === 0.5 ? NaN : ms;
}

// ---- load ----

// Latency histogram: 1 us buckets up to 50 ms, slower requests kept in a bounded list.
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
 * `ms` have passed (or maxRequests completed). `send(i)` resolves with the HTTP status.
 */
async function load(send, concurrency, ms, record) {
  hist.fill(0);
  slow = [];
  let n = 0;
  let errors = 0;
  let firstError;
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const caller = async () => {
    for (;;) {
      const start = performance.now();
      if (start >= end || n >= cfg.maxRequests) return;
      let ok = false;
      try {
        const status = await send(seq++);
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
  const other0 = record ? allCpu() : undefined;
  const busy0 = record ? machineBusyNs() : 0;
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const other1 = record ? allCpu() : undefined;
  const busy1 = record ? machineBusyNs() : 0;
  const result = { n, errors, firstError, elapsedMs, rps: (n * 1000) / elapsedMs, clientCpuUs: cpu.user + cpu.system };
  if (record) {
    result.p50 = percentile(n, 0.5);
    result.p99 = percentile(n, 0.99);
    result.cpuNs = Object.fromEntries(Object.keys(other0).map((k) => [k, other1[k] - other0[k]]));
    result.machineBusyNs = busy1 - busy0;
  }
  return result;
}

// ---- senders ----

async function clientIdentity() {
  const { createFileIdentitySource } = await loadIdentity();
  return createFileIdentitySource({ dir: cfg.identityDir, watch: false, pollIntervalMs: 0 });
}

async function readText(body) {
  const text = await body.text();
  if (text !== OK) throw new Error(`unexpected body ${JSON.stringify(text.slice(0, 100))}`);
}

/** { send, probe, close }: `probe` runs once before the load and once after, and checks what the server saw. */
async function makeSender() {
  const { request, Pool } = await loadUndici();
  if (cfg.mode === 'mesh') {
    const [{ Mesh }, { createMeshDispatcher }] = await Promise.all([loadCore(), loadFetch()]);
    const identity = cfg.identityDir ? await clientIdentity() : undefined;
    const mesh = new Mesh({ workload: CLIENT, configYaml: clientMeshYaml(cfg.port), identity, ...(cfg.telemetry === false ? { telemetry: false } : {}) });
    const dispatcher = createMeshDispatcher({ mesh });
    const url = `http://${MESH_HOST}:${MESH_PORT}/`;
    const opts = { dispatcher };
    return {
      async send() {
        const { statusCode, body } = await request(url, opts);
        await readText(body);
        return statusCode;
      },
      async probe() {
        const { statusCode, body } = await request(`${url}whoami`, opts);
        return { status: statusCode, seen: await body.json() };
      },
      async close() {
        await dispatcher.close();
        mesh.close();
        await identity?.close();
      },
    };
  }
  if (cfg.mode === 'bare') {
    return {
      async send() {
        const { statusCode, body } = await request(cfg.url);
        await readText(body);
        return statusCode;
      },
      async probe() {
        const { statusCode, body } = await request(cfg.url);
        return { status: statusCode, seen: await body.text() };
      },
      async close() {},
    };
  }
  const { clientTlsOptions, secureContextOptions } = await loadIdentity();
  const identity = await clientIdentity();
  const material = identity.current();
  const tlsOpts = clientTlsOptions(material, { allowedIds: [SERVER_ID] });
  if (cfg.mode === 'pool' && cfg.simple) {
    // Part 1's bare mTLS row: the same client API as the bare plaintext row (undici.request
    // through an Agent), so "bare mTLS / bare" is Node's TLS cost and nothing else.
    const { Agent } = await loadUndici();
    const agent = new Agent({ connect: tlsOpts });
    const url = `https://127.0.0.1:${cfg.port}/`;
    return {
      async send() {
        const { statusCode, body } = await request(url, { dispatcher: agent });
        await readText(body);
        return statusCode;
      },
      async probe() {
        const { statusCode, body } = await request(`${url}whoami`, { dispatcher: agent });
        return { status: statusCode, seen: await body.json() };
      },
      async close() {
        await agent.close();
        await identity.close();
      },
    };
  }
  if (cfg.mode === 'pool') {
    // Keep-alive, one connection per concurrent request (no limit, as the mesh's pools).
    const pool = new Pool(`https://127.0.0.1:${cfg.port}`, { connections: null, connect: tlsOpts });
    // `simple`: GET / without headers, as the mesh rows send (part 1's bare mTLS row).
    const headers = cfg.simple ? {} : AUTHZ_REQUEST.headers;
    const path = cfg.simple ? () => '/' : AUTHZ_REQUEST.path;
    return {
      async send(i) {
        const { statusCode, body } = await pool.request({ method: 'GET', path: path(i), headers });
        await readText(body);
        return statusCode;
      },
      async probe() {
        const who = await pool.request({ method: 'GET', path: '/api/v1/products/whoami', headers });
        const seen = who.statusCode === 200 ? await who.body.json() : await who.body.text();
        // A request the policies deny (DELETE): the meshed app must answer 403, the bare one 200.
        const del = await pool.request({ method: 'DELETE', path: '/api/v1/products/1', headers });
        await del.body.text();
        return { status: who.statusCode, seen, deleteStatus: del.statusCode };
      },
      async close() {
        await pool.close();
        await identity.close();
      },
    };
  }
  if (cfg.mode === 'handshake') {
    // One secure context for all connections (a client that made a new one per connection would
    // measure PEM parsing); `groups` pins the key exchange groups when the runner asks.
    const secureContext = tls.createSecureContext({ ...secureContextOptions(material), ...(cfg.groups ? { ecdhCurve: cfg.groups } : {}) });
    const opts = {
      host: '127.0.0.1', port: cfg.port, secureContext, rejectUnauthorized: true,
      ALPNProtocols: tlsOpts.ALPNProtocols, checkServerIdentity: tlsOpts.checkServerIdentity,
    };
    let resumed = 0;
    const once = (path) => new Promise((resolve, reject) => {
      const s = tls.connect(opts);
      let buf = '';
      let info;
      s.setEncoding('latin1');
      s.once('secureConnect', () => {
        if (s.isSessionReused()) resumed++;
        info ??= { protocol: s.getProtocol(), cipher: s.getCipher()?.name, group: s.getEphemeralKeyInfo()?.name, alpn: s.alpnProtocol || null };
        s.write(`GET ${path} HTTP/1.1\r\nHost: ${MESH_HOST}\r\nConnection: close\r\n\r\n`);
      });
      s.on('data', (d) => { buf += d; });
      s.once('error', reject);
      // Resolved when the server has closed and the socket is gone: one connection per request.
      s.once('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
        if (!m) return reject(new Error(`connection closed without a response (${buf.length} bytes)`));
        const body = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        resolve({ status: Number(m[1]), body, info });
      });
    });
    return {
      async send() {
        const r = await once('/');
        if (r.status === 200 && r.body !== OK) throw new Error(`unexpected body ${JSON.stringify(r.body.slice(0, 100))}`);
        return r.status;
      },
      async probe() {
        const r = await once('/whoami');
        let seen = r.body;
        try { seen = JSON.parse(r.body); } catch { /* nginx answers ok */ }
        return { status: r.status, seen, tls: r.info, resumed };
      },
      async close() { await identity.close(); },
    };
  }
  throw new Error(`unknown client mode ${cfg.mode}`);
}

/**
 * Warm-up at the top concurrency until throughput is steady: JIT tiers, connection pools, heap
 * sizing. The mesh's mTLS path takes ~1.5 s on a 2-core machine to reach its steady state (a
 * 1 s window right after a short warm-up measured half of it). Slices of 250 ms; steady = the
 * last three within 6 % of each other, after at least cfg.warmupMs, at most cfg.maxWarmupMs.
 * Returns the time it took.
 */
async function warmUp(send, concurrency) {
  const t0 = performance.now();
  const rates = [];
  for (;;) {
    rates.push((await load(send, concurrency, 250, false)).rps);
    const elapsed = performance.now() - t0;
    const last = rates.slice(-3);
    const steady = last.length === 3 && Math.max(...last) <= Math.min(...last) * 1.06;
    if ((elapsed >= cfg.warmupMs && steady) || elapsed >= cfg.maxWarmupMs) return elapsed;
  }
}

async function main() {
  const sender = await makeSender();
  const { send, probe, close } = sender;
  let before;
  try {
    before = await probe();
  } catch (err) {
    await close().catch(() => {});
    return { status: 'failed', error: `probe: ${errorText(err)}` };
  }
  if (before.status !== 200) {
    await close().catch(() => {});
    return { status: 'failed', error: `probe: HTTP ${before.status} ${JSON.stringify(before.seen).slice(0, 200)}` };
  }
  const top = Math.max(...cfg.concurrencies);
  const warmupMs = await warmUp(send, top);
  const results = {};
  for (let i = 0; i < 5; i++) calibrate(); // JIT
  for (const c of cfg.concurrencies) {
    await load(send, c, cfg.warmupMs / 4, false);
    const before = Math.min(calibrate(), calibrate());
    results[c] = await load(send, c, cfg.measureMs, true);
    results[c].calibMs = (before + Math.min(calibrate(), calibrate())) / 2;
  }
  const after = await probe().catch((err) => ({ error: errorText(err) }));
  await close();
  return { status: 'ok', results, warmupMs, probe: { before, after } };
}

main().then(
  (out) => { process.stdout.write(`${JSON.stringify(out)}\n`); process.exit(0); },
  (err) => { process.stdout.write(`${JSON.stringify({ status: 'failed', error: errorText(err) })}\n`); process.exit(0); },
);

