// Control service benchmark (issue #6's performance points): absolute figures against the
// issue's targets, on this machine.
//   push latency   a control service (its own process) with 10,000 workloads registered in
//                  several namespaces (WorkloadGroups, Services selecting them, DestinationRules,
//                  VirtualServices), 1,000 SSE watchers (one client process, each watching a
//                  registered workload with its join token, over HTTPS with the control CA);
//                  a VirtualService every namespace sees is applied through the API, and the
//                  time from the apply request's start to each watcher's receipt of the new
//                  snapshot is taken: p50/p99/max over the watchers, medians over rounds.
//   control RSS    of the control process with those watchers and workloads, after the pushes.
//   cold start     a workload in a fresh process: new Mesh({ controlUrl, token, controlCa,
//                  control: { group } }) + await mesh.ready() + one meshed request to a
//                  MeshServer registered in the control service; also fresh Meshes in a warm
//                  process.
// The 10,000 workloads are written to the store before the control service starts, and their
// heartbeats are refreshed in the store between measurements (as a fleet's heartbeats would
// keep them healthy), not through 1,000 HTTPS calls a second.
// Run: pnpm --filter @meshwork/bench run control [-- --quick] [--rounds N] [--starts N]
//      [--workloads N] [--watchers N] [--namespaces N] [--services N] [--export-all] [--v8-defaults] [--memory-detail] [--cpu-prof DIR]
// --memory-detail prints, at each memory reading, the control process's RSS by mapping and V8's spaces.
// The control service's process applies tuneControlServiceProcess() as `meshwork control` does
// (its young generation stays small, Maglev off); --v8-defaults runs it with V8's own settings.
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Mesh } from '@meshwork/core';
import { createMeshServer, meshworkOf } from '@meshwork/server';
import { hashToken, openSqliteStore } from '@meshwork/control';
import { CONTROL_SERVICE_V8_FLAGS } from '@meshwork/control/process';
import { loadObjects, validateResources } from '@meshwork/policy';
import { runJsonChild } from './child.mjs';
import { cpuTicks } from './fetch-nginx.mjs';
import { COLD_CLIENT, COLD_NAMESPACE, COLD_TARGET, PUSH_SERVICE, SHARED_NAMESPACE, topology, virtualService } from './control-topology.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const HEARTBEAT_TTL_MS = 30_000;
/** The fleet's heartbeats are refreshed once they are this old (a third of the TTL, as the SDK's 10 s). */
const HEARTBEAT_EVERY_MS = 10_000;

function options(rawArgv) {
  const argv = rawArgv.filter((a) => a !== '--');
  const flags = new Set(['--quick', '--export-all', '--v8-defaults', '--memory-detail']);
  const valued = new Set(['--rounds', '--starts', '--workloads', '--watchers', '--namespaces', '--services', '--cpu-prof']);
  for (let i = 0; i < argv.length; i++) {
    if (flags.has(argv[i])) continue;
    if (!valued.has(argv[i]) || argv[i + 1] === undefined) throw new Error(`unknown argument ${argv[i]}; usage: control.mjs [--quick] [--rounds N] [--starts N] [--workloads N] [--watchers N] [--namespaces N] [--services N] [--export-all] [--v8-defaults] [--memory-detail] [--cpu-prof DIR]`);
    i++;
  }
  const quick = argv.includes('--quick');
  const num = (name, def, min, max) => {
    const i = argv.indexOf(name);
    if (i < 0) return def;
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} takes an integer from ${min} to ${max}`);
    return v;
  };
  const prof = argv.indexOf('--cpu-prof');
  return {
    quick,
    rounds: num('--rounds', quick ? 2 : 5, 1, 50),
    starts: num('--starts', quick ? 5 : 20, 1, 200),
    workloads: num('--workloads', 10_000, 10, 200_000),
    watchers: num('--watchers', 1_000, 1, 10_000),
    namespaces: num('--namespaces', 50, 2, 1000),
    services: num('--services', 10, 1, 100),
    exportAll: argv.includes('--export-all'),
    v8Defaults: argv.includes('--v8-defaults'),
    memoryDetail: argv.includes('--memory-detail'),
    cpuProfDir: prof >= 0 ? resolve(argv[prof + 1]) : undefined,
  };
}

const state = { dir: undefined, control: undefined, watchers: undefined, child: undefined };

function cleanupSync() {
  for (const p of [state.child, state.watchers, state.control]) {
    if (p && p.exitCode === null && p.signalCode === null) {
      try { p.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
  if (state.dir) {
    try { rmSync(state.dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
    state.dir = undefined;
  }
}
process.on('exit', cleanupSync);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    process.stderr.write(`\ncontrol bench: ${sig}, stopping\n`);
    cleanupSync();
    process.exit(code);
  });
}

const progress = (s) => process.stderr.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
/** Nearest-rank percentile. */
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const newToken = () => `mwj_${randomBytes(32).toString('base64url')}`;

/** Waits for the next IPC message of `type` from `child` (or its death). */
function nextMessage(child, type, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(new Error(`${what}: no '${type}' within ${timeoutMs / 1000} s`)), timeoutMs);
    const onMessage = (m) => {
      if (m?.type === type) done(undefined, m);
      else if (m?.type === 'error') done(new Error(`${what}: ${m.error}`));
    };
    const onExit = (code, signal) => done(new Error(`${what} exited (${code ?? signal})`));
    function done(err, m) {
      clearTimeout(t);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function seed(dataDir, opts) {
  const t = topology({ workloads: opts.workloads, namespaces: opts.namespaces, servicesPerNamespace: opts.services, exportAll: opts.exportAll });
  // The seed goes through the store, not the API: check it as the API would first.
  const loaded = loadObjects(t.resources, 'bench');
  const v = validateResources(loaded.resources);
  const errors = [...loaded.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`the bench topology is invalid: ${errors[0].message}`);
  const store = await openSqliteStore({ dataDir });
  try {
    await store.applyBatch(t.resources);
    const now = Date.now();
    for (const w of t.workloads) await store.upsertWorkload(w, now);
    // One join token per (namespace, service account), as an operator would hand them out.
    const tokens = new Map();
    for (const [namespace, serviceAccount] of t.serviceAccounts) {
      const token = newToken();
      await store.putToken({ hash: hashToken(token), namespace, serviceAccount, expiresAtMs: now + 24 * 3600_000, createdAtMs: now });
      tokens.set(`${namespace}/${serviceAccount}`, token);
    }
    // Cold starts get a token each, so the per-token registration limits never play a part.
    const coldTokens = [];
    for (let i = 0; i < 2 * opts.starts + 2; i++) {
      const token = newToken();
      await store.putToken({ hash: hashToken(token), namespace: COLD_NAMESPACE, serviceAccount: COLD_CLIENT, expiresAtMs: now + 24 * 3600_000, createdAtMs: now });
      coldTokens.push(token);
    }
    return { ...t, tokens, coldTokens, revision: await store.revision() };
  } finally {
    await store.close();
  }
}

/** The fleet's heartbeats, straight into the store (a second connection to the same file, as another process would). */
class Fleet {
  constructor(store, ids) {
    this.store = store;
    this.ids = ids;
    this.lastMs = Date.now();
  }

  async keepHealthy(force = false) {
    if (!force && Date.now() - this.lastMs < HEARTBEAT_EVERY_MS) return;
    const at = Date.now();
    for (const id of this.ids) await this.store.heartbeat(id, at);
    this.lastMs = at;
  }
}

async function startControl(dataDir, opts) {
  const child = fork(join(here, 'control-service.mjs'), [JSON.stringify({ dataDir, heartbeatTtlMs: HEARTBEAT_TTL_MS })], { cwd: here, execArgv: ['--expose-gc', ...profileArgs(opts, 'control')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...(opts.v8Defaults ? { MESHWORK_BENCH_V8_DEFAULTS: '1' } : {}) } });
  state.control = child;
  const info = await nextMessage(child, 'listening', 60_000, 'control service');
  return { child, ...info, adminToken: readFileSync(info.adminTokenPath, 'utf8').trim(), ca: readFileSync(info.rootCertPath, 'utf8') };
}

/** --cpu-prof DIR: the control service, the watchers' process and each cold-start process write a profile there, named after them. */
function profileArgs(opts, name = 'watchers') {
  return opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir, '--cpu-prof-name', `${name}.cpuprofile`] : [];
}

async function controlMemory(control, opts, what) {
  if (opts.memoryDetail) {
    control.child.send({ type: 'memory-detail' });
    const d = await nextMessage(control.child, 'memory-detail', 10_000, 'control service');
    const mb = (b) => (b / 1048576).toFixed(1);
    const maps = Object.entries(d.rssByMapping).filter(([, b]) => b >= 1048576).sort((a, b) => b[1] - a[1]);
    progress(`memory detail, ${what}: RSS by mapping ${maps.map(([n, b]) => `${n.split('/').pop()} ${mb(b)}`).join(', ')}; ` +
      `V8 spaces (committed/used) ${d.heapSpaces.filter((s) => s.size >= 1048576).map((s) => `${s.name} ${mb(s.size)}/${mb(s.used)}`).join(', ')}`);
  }
  control.child.send({ type: 'memory' });
  return nextMessage(control.child, 'memory', 10_000, 'control service');
}

const CLK_TCK = 100; // Linux's USER_HZ
const controlCpuMs = (control) => (cpuTicks(control.pid) * 1000) / CLK_TCK;

/** The cold-start target: a MeshServer in this process, registered in the control service, answering with the caller's principal. */
async function startEcho(control, token) {
  const mesh = new Mesh({ controlUrl: control.url, token, controlCa: control.ca, control: { group: `${COLD_NAMESPACE}/${COLD_TARGET}` }, onControlError: (m) => progress(`echo: ${m}`) });
  const server = createMeshServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ principal: meshworkOf(req)?.principal ?? null }));
  }, { mesh });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  await mesh.ready(30_000);
  return {
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
      await mesh.close();
    },
  };
}

let coldStarts = 0;
function runColdStart(opts, control, cfg) {
  const payload = { url: control.url, ca: control.ca, group: `${COLD_NAMESPACE}/${COLD_CLIENT}`, target: `http://${COLD_TARGET}.${COLD_NAMESPACE}:8080/`, ...cfg };
  return runJsonChild(process.execPath, [...profileArgs(opts, `coldstart-${++coldStarts}`), join(here, 'control-coldstart.mjs'), JSON.stringify(payload)], { cwd: here, state, timeoutMs: 120_000, label: 'cold start' });
}

async function main() {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const loadBefore = os.loadavg();
  state.dir = mkdtempSync(join(os.tmpdir(), 'meshwork-control-bench-'));
  const dataDir = join(state.dir, 'data');

  progress(`seeding the store: ${opts.workloads} workloads in ${opts.namespaces} namespaces...`);
  const t0 = Date.now();
  const topo = await seed(dataDir, opts);
  const seedMs = Date.now() - t0;
  const fleetStore = await openSqliteStore({ dataDir });
  const fleet = new Fleet(fleetStore, topo.workloads.map((w) => w.id));

  progress('starting the control service...');
  const control = await startControl(dataDir, opts);
  await fleet.keepHealthy(true);
  await sleep(2500); // a poll or two: the hub has loaded the store
  const memIdle = await controlMemory(control, opts, 'idle');

  const echo = await startEcho(control, topo.tokens.get(`${COLD_NAMESPACE}/${COLD_TARGET}`));

  // Watchers spread evenly over the namespaces, each a registered workload of its own.
  const byNs = new Map(topo.namespaces.map((ns) => [ns, topo.workloads.filter((w) => w.namespace === ns)]));
  const watchers = [];
  for (let i = 0; watchers.length < Math.min(opts.watchers, topo.workloads.length); i++) {
    for (const ns of topo.namespaces) {
      const w = byNs.get(ns)[i];
      if (w && watchers.length < opts.watchers) watchers.push({ id: w.id, token: topo.tokens.get(`${ns}/${w.serviceAccount}`) });
    }
  }
  progress(`connecting ${watchers.length} watchers...`);
  const client = fork(join(here, 'control-watchers.mjs'), [], { cwd: here, execArgv: profileArgs(opts), stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  state.watchers = client;
  const cpuConnect0 = controlCpuMs(control);
  client.send({ type: 'start', url: control.url, ca: control.ca, adminToken: control.adminToken, watchers, concurrency: 32 });
  const connected = await nextMessage(client, 'connected', 300_000, 'watchers');
  const cpuConnect = controlCpuMs(control) - cpuConnect0;
  if (connected.failed > 0) throw new Error(`${connected.failed} watchers could not connect: ${connected.firstError}`);
  progress(`  connected in ${(connected.ms / 1000).toFixed(1)} s; first snapshots ${(connected.firstEventBytes.min / 1024).toFixed(0)}-${(connected.firstEventBytes.max / 1024).toFixed(0)} KB`);
  await sleep(2000);
  const memConnected = await controlMemory(control, opts, 'watchers connected');

  // Round 0 warms up (the JIT of both processes, V8's heap sizing) and is shown, not counted.
  const rounds = [];
  let warmup;
  for (let r = 0; r <= opts.rounds; r++) {
    await fleet.keepHealthy();
    await sleep(1500); // between pushes: the poll runs, nothing else moves
    const body = JSON.stringify(virtualService(SHARED_NAMESPACE, PUSH_SERVICE, undefined, `round-${r}-${Date.now()}`));
    const cpu0 = controlCpuMs(control);
    client.send({ type: 'round', round: r, body, timeoutMs: 60_000 });
    const res = await nextMessage(client, 'round', 120_000, 'watchers');
    res.controlCpuMs = controlCpuMs(control) - cpu0;
    const l = res.latencies;
    res.p50 = pct(l, 50);
    res.p99 = pct(l, 99);
    res.max = Math.max(...l);
    delete res.latencies;
    if (r === 0) warmup = res;
    else rounds.push(res);
    progress(`[${r === 0 ? 'warm-up round' : `round ${r}/${opts.rounds}`}] push to ${l.length} watchers: p50 ${res.p50.toFixed(0)} ms, p99 ${res.p99.toFixed(0)} ms, max ${res.max.toFixed(0)} ms` +
      `${res.missing ? `, ${res.missing} MISSING` : ''}; apply answered in ${res.applyMs.toFixed(0)} ms; ${(res.bytes / 1048576).toFixed(1)} MB pushed; control CPU ${res.controlCpuMs.toFixed(0)} ms, client CPU ${res.clientCpuMs.toFixed(0)} ms`);
  }
  await sleep(1000);
  const memPushed = await controlMemory(control, opts, 'after the pushes');

  // Cold starts, with the watchers still connected (a workload joining this mesh).
  const fresh = [];
  let coldToken = 0;
  for (let i = 0; i < opts.starts; i++) {
    await fleet.keepHealthy();
    const r = await runColdStart(opts, control, { mode: 'fresh', tokens: [topo.coldTokens[coldToken++]] });
    if (r.status !== 'ok') throw new Error(`cold start failed: ${r.error}`);
    if (r.principal !== `cluster.local/ns/${COLD_NAMESPACE}/sa/${COLD_CLIENT}`) throw new Error(`the target saw principal ${r.principal}, not the cold-started workload's (no mTLS?)`);
    fresh.push(r);
    progress(`[cold start ${i + 1}/${opts.starts}] fresh process: new Mesh → response ${r.totalMs.toFixed(0)} ms (snapshot in force ${r.appliedMs.toFixed(0)}, ready ${r.readyMs.toFixed(0)}, + request ${r.requestMs.toFixed(0)}); process start → response ${(r.bootMs + r.importMs + r.totalMs).toFixed(0)} ms`);
  }
  await fleet.keepHealthy(true);
  const warm = await runColdStart(opts, control, { mode: 'warm', starts: opts.starts, tokens: topo.coldTokens.slice(coldToken, coldToken + opts.starts + 1) });
  if (warm.status !== 'ok') throw new Error(`warm starts failed: ${warm.error}`);
  progress(`[warm process] ${opts.starts} fresh Meshes: p50 ${median(warm.runs.map((x) => x.totalMs)).toFixed(0)} ms`);
  const principal = fresh[0].principal;

  client.send({ type: 'close' });
  await Promise.race([new Promise((r) => client.once('exit', r)), sleep(10_000)]);
  await echo.close();
  control.child.send({ type: 'stop' });
  await new Promise((r) => control.child.once('exit', r));
  await fleetStore.close();
  const loadAfter = os.loadavg();

  // The report.
  const out = [];
  const log = (s = '') => out.push(s);
  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const mb = (b) => b / 1048576;
  const coldTotal = fresh.map((r) => r.totalMs);
  const coldProc = fresh.map((r) => r.bootMs + r.importMs + r.totalMs);
  const warmTotal = warm.runs.map((r) => r.totalMs);
  const fig = {
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    max: median(rounds.map((r) => r.max)),
    rss: mb(memPushed.vmRss),
  };
  const nsCount = topo.namespaces.length;
  log(`Control service benchmark (issue #6) — ${new Date().toISOString()}`);
  log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${fmt(mb(os.totalmem()) / 1024, 1)} GB RAM, load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadAfter[0], 2)} after`);
  // The bench itself keeps both CPUs busy during a push; load from elsewhere inflates every figure.
  if (loadBefore[0] > 0.7) log(`WARNING: the machine was busy before the run (load average ${fmt(loadBefore[0], 2)}): the figures are inflated; run again on a quiet machine`);
  log(`mesh: ${topo.workloads.length} workloads registered in ${nsCount} namespaces (${opts.services} services each, 2 WorkloadGroups per service), ` +
    `${topo.resources.length} resources (Services, WorkloadGroups, DestinationRules, VirtualServices, a mesh-wide PeerAuthentication); ` +
    `${opts.exportAll ? 'every service exported to every namespace' : `services of "${SHARED_NAMESPACE}" exported everywhere, the others to their own namespace`}; seeded through the store in ${fmt(seedMs / 1000, 1)} s`);
  log(`watchers: ${watchers.length} SSE streams over HTTPS (join tokens), ${fmt(watchers.length / nsCount, 0)} per namespace, in one client process; connected in ${fmt(connected.ms / 1000, 1)} s (control CPU ${fmt(cpuConnect / 1000, 1)} s); ` +
    `a namespace's snapshot is ${fmt(connected.firstEventBytes.min / 1024)}-${fmt(connected.firstEventBytes.max / 1024)} KB`);
  log(`push: ${rounds.length} round(s), each an apply of VirtualService ${SHARED_NAMESPACE}/${PUSH_SERVICE} (every namespace sees it) through POST /v1/resources:apply; ` +
    `latency = from the apply request's start (new TLS connection, as the CLI) to the last byte of the new snapshot event on each watcher; medians of rounds, after a warm-up round`);
  log(`cold start: ${opts.starts} fresh processes, one after another, each new Mesh({ controlUrl, token, controlCa, control: { group } }) without a disk cache → await mesh.ready() → ` +
    `one meshed request (auto-mTLS) to a MeshServer registered in the control service (principal seen by it: ${principal}); and ${opts.starts} fresh Meshes in one warm process`);
  log(`heartbeats: TTL ${HEARTBEAT_TTL_MS / 1000} s; the ${topo.workloads.length} workloads' heartbeats are written to the store between measurements, not sent over HTTPS${opts.quick ? '\nQUICK run: indicative only' : ''}`);
  log();
  log('per round');
  log('  round  p50 ms  p99 ms  max ms  missing  apply answered ms  MB pushed  control CPU ms  client CPU ms');
  for (const r of [warmup, ...rounds]) {
    log(`${(r.round === 0 ? 'warm-up' : String(r.round)).padStart(7)}  ${fmt(r.p50).padStart(6)}  ${fmt(r.p99).padStart(6)}  ${fmt(r.max).padStart(6)}  ${String(r.missing).padStart(7)}  ${fmt(r.applyMs).padStart(17)}  ${fmt(mb(r.bytes), 1).padStart(9)}  ${fmt(r.controlCpuMs).padStart(14)}  ${fmt(r.clientCpuMs).padStart(13)}`);
  }
  log();
  log(`control service heap: ${opts.v8Defaults ? "V8's defaults (--v8-defaults)" : `as \`meshwork control\` runs it (tuneControlServiceProcess: ${CONTROL_SERVICE_V8_FLAGS})`}`);
  log('control service memory (MB)        RSS   peak RSS  heap total  heap used  live heap  external   (live heap: after a full GC, read after the RSS)');
  for (const [what, m] of [['idle, workloads loaded', memIdle], [`${watchers.length} watchers connected`, memConnected], ['after the pushes', memPushed]]) {
    log(`${what.padEnd(32)} ${fmt(mb(m.vmRss), 1).padStart(6)}  ${fmt(mb(m.vmHwm), 1).padStart(8)}  ${fmt(mb(m.heapTotal), 1).padStart(10)}  ${fmt(mb(m.heapUsed), 1).padStart(9)}  ${fmt(mb(m.liveHeap), 1).padStart(9)}  ${fmt(mb(m.external), 1).padStart(8)}`);
  }
  log();
  log(`cold start (ms)                                      p50    p95    max`);
  const coldRow = (what, xs) => log(`${what.padEnd(50)} ${fmt(pct(xs, 50)).padStart(5)}  ${fmt(pct(xs, 95)).padStart(5)}  ${fmt(Math.max(...xs)).padStart(5)}`);
  coldRow('fresh process: new Mesh → first response', coldTotal);
  coldRow('  first snapshot in force (register, watch, compile)', fresh.map((r) => r.appliedMs));
  coldRow('  then the certificate (key, CSR, signing)', fresh.map((r) => r.readyMs - r.appliedMs));
  coldRow('  then the first meshed request (mTLS)', fresh.map((r) => r.requestMs));
  coldRow('fresh process: process start → first response', coldProc);
  coldRow('  of which Node start + imports', fresh.map((r) => r.bootMs + r.importMs));
  coldRow('warm process: new Mesh → first response', warmTotal);
  coldRow('  first snapshot in force', warm.runs.map((r) => r.appliedMs));

  const fullScale = watchers.length >= 1000 && topo.workloads.length >= 10_000;
  const verdict = (ok) => `${ok ? 'met' : 'MISSED'}${fullScale ? '' : ' (not at the issue\'s scale)'}`;
  const rows = [
    ['push latency p50 (1,000 watchers)', `${fmt(fig.p50)} ms`, '', ''],
    ['push latency p99 (1,000 watchers)', `${fmt(fig.p99)} ms`, '<= 250 ms', verdict(fig.p99 <= 250)],
    ['push latency max', `${fmt(fig.max)} ms`, '', ''],
    ['control RSS, 1,000 watchers + 10,000 workloads', `${fmt(fig.rss, 1)} MB`, '<= 200 MB', verdict(fig.rss <= 200)],
    ['cold start p50, fresh process, new Mesh → response', `${fmt(pct(coldTotal, 50))} ms`, '<= 200 ms', verdict(pct(coldTotal, 50) <= 200)],
    ['cold start p95, fresh process, new Mesh → response', `${fmt(pct(coldTotal, 95))} ms`, '<= 200 ms', verdict(pct(coldTotal, 95) <= 200)],
    ['cold start p50, fresh process incl. Node start', `${fmt(pct(coldProc, 50))} ms`, '', ''],
    ['cold start p50, fresh Mesh in a warm process', `${fmt(pct(warmTotal, 50))} ms`, '', ''],
  ];
  log();
  log(`issue #6 targets${fullScale ? '' : ` — this run: ${watchers.length} watchers, ${topo.workloads.length} workloads, not the issue's 1,000 and 10,000`}`);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const [what, value, target, ok] of rows) log(`  ${what.padEnd(w[0])}  ${value.padStart(w[1])}  ${target.padEnd(w[2])}  ${ok}`.trimEnd());
  if (opts.cpuProfDir) log(`\nCPU profiles: ${join(opts.cpuProfDir, 'control.cpuprofile')}, ${join(opts.cpuProfDir, 'watchers.cpuprofile')}`);
  log(`run took ${fmt((Date.now() - started) / 1000)} s`);
  console.log(out.join('\n'));
}

main().then(
  () => { cleanupSync(); process.exit(0); },
  (err) => {
    console.error(`control bench failed: ${err.stack ?? err}`);
    cleanupSync();
    process.exit(1);
  },
);
