// HTTP client benchmark (issue #4): what the mesh costs a client, beside what the sidecar model
// costs, measured side by side in one run. For each client API (undici.request from the npm
// undici package, Node's built-in fetch) and each path to the same nginx upstream:
//   bare              client -> upstream
//   nginx pair        client -> nginx "client sidecar" -> nginx "server sidecar" -> upstream,
//                     plaintext or mutual TLS between the two proxies
//   mesh              client with @meshwork/fetch's dispatcher -> upstream (v1/v2 split), with
//                     telemetry as issue #7 measures it: Istio metrics on, access logs off, 1%
//                     trace sampling (a tracing provider in the mesh config, no SDK registered)
//   mesh, telemetry off  the same with the Mesh option `telemetry: false`
//   mesh, telemetry off + its headers  the same, the application passing on every request the
//                     headers telemetry adds (a fresh x-request-id and traceparent, the Mesh's
//                     x-envoy-peer-metadata and -id): what those headers cost undici and the
//                     upstream, apart from the telemetry code that makes them
// at concurrency 1 and 32: throughput, p50/p99 latency, client CPU per request, CPU per request
// of each nginx, client RSS. Each (API, path) runs in a fresh Node process; rounds are repeated
// and medians printed, then the ratios the issue sets targets for.
// Run: pnpm --filter @meshwork/bench run fetch [-- --quick] [--pretenuring] [--rounds N] [--duration S] [--warmup S] [--app-heap MB]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { meshYaml } from './fetch-mesh.mjs';
import { cpuTicks, freePorts, get, makeCerts, nginxConfigs, startNginx, stopAll, upstreamCounts, which } from './fetch-nginx.mjs';
import { runJsonChild, v8RegimeFlags } from './child.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function options(rawArgv) {
  // pnpm/npm pass a literal `--` through to the script; it separates nothing here.
  const argv = rawArgv.filter((a) => a !== '--');
  const known = new Set(['--quick', '--pretenuring', '--rounds', '--duration', '--warmup', '--app-heap']);
  for (let i = 0; i < argv.length; i++) {
    if (!known.has(argv[i])) throw new Error(`unknown argument ${argv[i]}; usage: fetch.mjs [--quick] [--pretenuring] [--rounds N] [--duration S] [--warmup S] [--app-heap MB]`);
    if (argv[i] !== '--quick' && argv[i] !== '--pretenuring') i++;
  }
  const quick = argv.includes('--quick');
  const num = (name, def, min, max) => {
    const i = argv.indexOf(name);
    if (i < 0) return def;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} takes a number from ${min} to ${max}`);
    return v;
  };
  return {
    quick,
    rounds: num('--rounds', quick ? 1 : 3, 1, 9),
    warmupMs: num('--warmup', quick ? 0.3 : 1, 0.1, 30) * 1000,
    measureMs: num('--duration', quick ? 1 : 3, 0.2, 60) * 1000,
    appHeapMb: num('--app-heap', 0, 0, 1024),
    v8Flags: v8RegimeFlags(argv),
    concurrencies: [1, 32],
    // Bounds one window even on a much faster machine (the issue's figure is ~26,000 req/s).
    maxRequests: 2_000_000,
  };
}


const APIS = ['undici.request', 'fetch'];
const PATHS = ['bare', 'pair-plain', 'pair-mtls', 'mesh', 'mesh-notel', 'mesh-notel-headers'];
const PATH_LABEL = { bare: 'bare', 'pair-plain': 'nginx pair, plaintext', 'pair-mtls': 'nginx pair, mTLS', mesh: 'mesh', 'mesh-notel': 'mesh, telemetry off', 'mesh-notel-headers': 'mesh, telemetry off + its headers' };

// Everything the bench started, for the exit paths (normal end, error, Ctrl-C, SIGTERM).
const state = { dir: undefined, procs: {}, child: undefined };

function cleanupSync() {
  if (state.child && state.child.exitCode === null) {
    try { state.child.kill('SIGKILL'); } catch { /* gone */ }
  }
  stopAll(state.procs);
  if (state.dir) {
    try { rmSync(state.dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
    state.dir = undefined;
  }
}

/** Stops nginx and the client, waits (up to 3 s) for them to exit, then removes the temp dir. */
async function shutdown() {
  if (state.child && state.child.exitCode === null) state.child.kill('SIGKILL');
  const live = Object.values(state.procs).filter((p) => p.exitCode === null && p.signalCode === null);
  const exited = Promise.all(live.map((p) => new Promise((r) => p.once('exit', r))));
  stopAll(state.procs);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  cleanupSync();
}

process.on('exit', cleanupSync);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    process.stderr.write(`\nfetch bench: ${sig}, stopping nginx and the client\n`);
    shutdown().finally(() => process.exit(code));
  });
}

function runClient(cfg, timeoutMs) {
  // --expose-gc: the client collects garbage only around its memory readings, never while timed.
  return runJsonChild(process.execPath, ['--expose-gc', ...cfg.v8Flags, join(here, 'fetch-client.mjs'), JSON.stringify(cfg)], { cwd: here, state, timeoutMs });
}

/** A tool's version banner (nginx prints it on stderr). */
function version(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** Per-round figures of one (API, path, concurrency) from a client's raw result. */
function figures(r, clkTck, run) {
  const perReqUs = (t) => (t * 1e6) / clkTck / r.n;
  return {
    rps: r.rps,
    p50: r.p50,
    p99: r.p99,
    clientCpu: r.clientCpuUs / r.n,
    gc: r.gcUs / r.n,
    proxyCpu: perReqUs(r.ticks.clientSidecar + r.ticks.serverSidecar),
    clientSidecarCpu: perReqUs(r.ticks.clientSidecar),
    serverSidecarCpu: perReqUs(r.ticks.serverSidecar),
    upstreamCpu: perReqUs(r.ticks.upstreamV1 + r.ticks.upstreamV2),
    v2Share: run.upstream.v2 / (run.upstream.v1 + run.upstream.v2),
    upstreamConns: run.upstream.connections,
    rssIdleMb: run.rssIdle / 1024 / 1024,
    rssMb: run.rss / 1024 / 1024,
    heapMb: run.heapLive / 1024 / 1024,
    errors: r.errors,
    firstError: r.firstError,
  };
}

async function main() {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const nginx = which('nginx');
  const openssl = which('openssl');
  if (!nginx || !openssl) throw new Error(`${nginx ? 'openssl' : 'nginx'} not found: run bench/setup.sh (as root) first`);
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const nginxV = version(nginx, ['-V']);

  state.dir = mkdtempSync(join(os.tmpdir(), 'meshwork-fetch-bench-'));
  const certs = makeCerts(openssl, state.dir);
  const [v1, v2, serverPlain, serverTls, clientPlain, clientTls] = await freePorts(6);
  const ports = { v1, v2, serverPlain, serverTls, clientPlain, clientTls };
  state.procs = await startNginx(nginx, state.dir, nginxConfigs(state.dir, ports, certs, nginxV), [v1, v2, serverPlain, clientPlain, clientTls]);
  // The mTLS hop is also checked without the client sidecar: a client without a certificate is refused.
  const refused = await get(serverTls).then((r) => r.status, () => 'refused');
  if (refused === 200) throw new Error('server sidecar accepted a plaintext client on its mTLS port');
  const nginxPids = {
    clientSidecar: state.procs['client-sidecar'].pid,
    serverSidecar: state.procs['server-sidecar'].pid,
    upstreamV1: state.procs['upstream-v1'].pid,
    upstreamV2: state.procs['upstream-v2'].pid,
  };
  for (const pid of Object.values(nginxPids)) cpuTicks(pid); // readable, or fail now

  const urls = {
    bare: `http://127.0.0.1:${v1}/`,
    'pair-plain': `http://127.0.0.1:${clientPlain}/`,
    'pair-mtls': `http://127.0.0.1:${clientTls}/`,
    mesh: 'http://upstream:8080/',
    'mesh-notel': 'http://upstream:8080/',
    'mesh-notel-headers': 'http://upstream:8080/',
  };
  const yaml = meshYaml(ports);
  const combos = APIS.flatMap((api) => PATHS.map((path) => ({ api, path })));
  const raw = Object.fromEntries(combos.map(({ api, path }) => [`${api} ${path}`, []]));
  const timeoutMs = opts.warmupMs * 3 + opts.measureMs * opts.concurrencies.length * 2 + 30_000;
  const loadBefore = os.loadavg();

  for (let round = 0; round < opts.rounds; round++) {
    // Alternate the order so that drift (thermal, other load) does not favour one row.
    const order = round % 2 ? [...combos].reverse() : combos;
    for (const { api, path } of order) {
      const key = `${api} ${path}`;
      const prior = raw[key];
      if (prior.length > 0 && prior[0].status === 'unavailable') continue;
      const before = await Promise.all([upstreamCounts(v1), upstreamCounts(v2)]);
      const res = await runClient({
        api, path, url: urls[path], meshYaml: path.startsWith('mesh') ? yaml : undefined, nginxPids,
        warmupMs: opts.warmupMs, measureMs: opts.measureMs, concurrencies: opts.concurrencies, maxRequests: opts.maxRequests, appHeapMb: opts.appHeapMb, v8Flags: opts.v8Flags,
      }, timeoutMs);
      for (const p of Object.values(state.procs)) if (p.exitCode !== null || p.signalCode !== null) throw new Error(p.exitInfo());
      const after = await Promise.all([upstreamCounts(v1), upstreamCounts(v2)]);
      // What the upstream instances saw of this client (the stub_status reads count themselves).
      res.upstream = {
        v1: after[0].requests - before[0].requests - 1,
        v2: after[1].requests - before[1].requests - 1,
        connections: after[0].connections + after[1].connections - before[0].connections - before[1].connections - 2,
      };
      prior.push(res);
      const summary = res.status === 'ok'
        ? opts.concurrencies.map((c) => `c=${c} ${Math.round(res.results[c].rps)} req/s${res.results[c].errors ? ` (${res.results[c].errors} errors)` : ''}`).join(', ')
        : `${res.status}: ${res.error}`;
      process.stderr.write(`[round ${round + 1}/${opts.rounds}] ${key.padEnd(26)} ${summary}\n`);
    }
  }
  const loadAfter = os.loadavg();

  // Medians over rounds, per (API, path, concurrency).
  const table = {};
  for (const { api, path } of combos) {
    const key = `${api} ${path}`;
    const runs = raw[key];
    const bad = runs.find((r) => r.status !== 'ok');
    if (bad) {
      table[key] = { status: bad.status, error: bad.error };
      continue;
    }
    const row = { status: 'ok' };
    for (const c of opts.concurrencies) {
      const per = runs.map((r) => figures(r.results[c], clkTck, r));
      const m = {};
      for (const k of Object.keys(per[0])) if (k !== 'firstError') m[k] = k === 'errors' ? per.reduce((a, p) => a + p.errors, 0) : median(per.map((p) => p[k]));
      m.firstError = per.find((p) => p.firstError)?.firstError;
      row[c] = m;
      row[`rounds${c}`] = per;
    }
    table[key] = row;
  }

  const undiciVersion = JSON.parse(readFileSync(join(here, 'node_modules/undici/package.json'), 'utf8')).version;
  const out = [];
  const log = (s = '') => out.push(s);
  log(`HTTP client benchmark (issue #4) — ${new Date().toISOString()}`);
  log(`node ${process.version} (built-in fetch: undici ${process.versions.undici}), npm undici ${undiciVersion}, ${version(nginx, ['-v']).replace('nginx version: ', '')}, ${version(openssl, ['version']).split(' ').slice(0, 2).join(' ')}`);
  log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after`);
  log(`${opts.rounds} round(s) × per concurrency (${opts.warmupMs / 4000} s warm-up + ${opts.measureMs / 1000} s measured), after ${opts.warmupMs / 1000} s warm-up at c=32; medians of rounds${opts.quick ? ' — QUICK run: indicative only' : ''}`);
  log('CPU per request: client = process.cpuUsage() of the client process (includes the load loop); nginx pair = client sidecar + server sidecar (/proc/<pid>/stat, CLK_TCK ' + clkTck + ')');
  log(`client processes: node ${['--expose-gc', ...opts.v8Flags].join(' ')} (same GC regime in every row, see bench/child.mjs v8RegimeFlags; --pretenuring for V8's default), ${opts.appHeapMb} MB of application data held before the first request (--app-heap); GC = us of garbage collection per request`);
  log('nginx pair proxy config: HTTP/1.1 keep-alive upstreams, TLS 1.3 with RSA 2048 certificates between the proxies in the mTLS row');

  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const cols = [
    ['API', 15], ['path', 22], ['req/s', 8], ['p50 us', 8], ['p99 us', 8], ['client CPU', 11], ['GC', 6], ['pair CPU', 9], ['(cli+srv)', 11], ['upstr CPU', 10], ['errors', 7],
  ];
  const line = (vals) => vals.map((v, i) => (i < 2 ? String(v).padEnd(cols[i][1]) : String(v).padStart(cols[i][1]))).join(' ');
  for (const c of opts.concurrencies) {
    log();
    log(`concurrency ${c}   (latency in us; CPU in us per request)`);
    log(line(cols.map(([h]) => h)));
    log(line(cols.map(([, w]) => '-'.repeat(w))));
    for (const { api, path } of combos) {
      const row = table[`${api} ${path}`];
      if (row.status !== 'ok') {
        // The reason is printed once, under ratios.
        log(`${api.padEnd(15)} ${PATH_LABEL[path].padEnd(22)} ${row.status} (see below)`);
        continue;
      }
      const m = row[c];
      const isPair = path.startsWith('pair');
      log(line([api, PATH_LABEL[path], fmt(m.rps), fmt(m.p50), fmt(m.p99), fmt(m.clientCpu, 1), fmt(m.gc, 1),
        isPair ? fmt(m.proxyCpu, 1) : '-', isPair ? `${fmt(m.clientSidecarCpu)}+${fmt(m.serverSidecarCpu)}` : '-',
        fmt(m.upstreamCpu, 1), String(m.errors)]));
      if (m.errors > 0) log(`${''.padEnd(39)}first error: ${m.firstError}`);
    }
  }

  log();
  log('per client process: memory in MB — RSS idle = after 8 requests per connection and a full GC, before');
  log('sustained load; RSS load = after the run (mostly V8 heap grown to suit the allocation rate); live heap =');
  log('after the run and a full GC. Upstream view (nginx stub_status, whole client run): connections the');
  log('upstream accepted, share of requests served by v2 (the mesh config routes 10% to v2)');
  const mcols = [['API', 15], ['path', 22], ['RSS idle', 9], ['RSS load', 9], ['live heap', 10], ['upstr conns', 12], ['v2 share', 9]];
  const mline = (vals) => vals.map((v, i) => (i < 2 ? String(v).padEnd(mcols[i][1]) : String(v).padStart(mcols[i][1]))).join(' ');
  log(mline(mcols.map(([h]) => h)));
  log(mline(mcols.map(([, w]) => '-'.repeat(w))));
  for (const { api, path } of combos) {
    const row = table[`${api} ${path}`];
    if (row.status !== 'ok') continue;
    const m = row[Math.max(...opts.concurrencies)];
    log(mline([api, PATH_LABEL[path], fmt(m.rssIdleMb, 1), fmt(m.rssMb, 1), fmt(m.heapMb, 1), fmt(m.upstreamConns), `${fmt(m.v2Share * 100, 1)}%`]));
  }

  // Ratios and the issue's targets.
  const verdict = (ok) => (ok === undefined ? '' : ok ? 'meets target' : 'MISSES target');
  const hi = Math.max(...opts.concurrencies);
  const lo = Math.min(...opts.concurrencies);
  log();
  log('ratios (from the medians above; mesh and nginx pair vs bare for the same API)');
  for (const api of APIS) {
    const g = (path) => table[`${api} ${path}`];
    const bare = g('bare');
    const mesh = g('mesh');
    log();
    log(`${api}:`);
    for (const p of ['pair-plain', 'pair-mtls']) if (g(p).status !== 'ok') log(`  ${PATH_LABEL[p]}: ${g(p).status} (${g(p).error})`);
    const meshOk = mesh.status === 'ok';
    if (!meshOk) log(`  mesh: ${mesh.status} (${mesh.error})`);
    if (bare.status !== 'ok') {
      log(`  bare: ${bare.status} (${bare.error}) — no ratios`);
      continue;
    }
    const rows = [];
    // A comparison of `path` with bare at concurrency c: from the medians, and round by round
    // (both ran in every round), which shows how much of the difference is noise.
    const addVs = (base) => (what, path, c, f, unit, digits, target, ok) => {
      const v = f(g(path)[c], base[c]);
      const perRound = g(path)[`rounds${c}`].map((p, i) => f(p, base[`rounds${c}`][i]));
      const rounds = perRound.length > 1 ? `(rounds ${perRound.map((x) => fmt(x, digits)).join(', ')})` : '';
      rows.push([what, `${fmt(v, digits)}${unit}`, rounds, target ? `target ${target.padEnd(9)} ${verdict(ok(v))}` : '']);
    };
    const add = addVs(bare);
    const thr = (a, b) => a.rps / b.rps;
    const p50 = (a, b) => a.p50 - b.p50;
    const cpu = (a, b) => a.clientCpu - b.clientCpu;
    const pairs = ['pair-plain', 'pair-mtls'].filter((p) => g(p).status === 'ok');
    if (meshOk) add(`throughput c=${hi}, mesh / bare`, 'mesh', hi, thr, 'x', 2, '>= 0.90x', (v) => v >= 0.9);
    for (const p of pairs) add(`throughput c=${hi}, ${PATH_LABEL[p]} / bare`, p, hi, thr, 'x', 2);
    if (meshOk) add(`added p50 c=${lo}, mesh - bare`, 'mesh', lo, p50, ' us', 0, '<= 20 us', (v) => v <= 20);
    for (const p of pairs) add(`added p50 c=${lo}, ${PATH_LABEL[p]} - bare`, p, lo, p50, ' us', 0);
    if (meshOk) {
      add(`added client CPU/request c=${hi}, mesh - bare`, 'mesh', hi, cpu, ' us', 1, '<= 8 us', (v) => v <= 8);
      add(`added client CPU/request c=${lo}, mesh - bare`, 'mesh', lo, cpu, ' us', 1);
    }
    for (const p of pairs) {
      add(`nginx pair proxy CPU/request c=${hi}, ${p === 'pair-plain' ? 'plaintext' : 'mTLS'}`, p, hi, (a) => a.proxyCpu, ' us', 1);
      add(`  + added client CPU/request c=${hi}, ${PATH_LABEL[p]} - bare`, p, hi, cpu, ' us', 1);
    }
    if (meshOk) {
      add('client RSS added (idle), mesh - bare', 'mesh', hi, (a, b) => a.rssIdleMb - b.rssIdleMb, ' MB', 1, '<= 15 MB', (v) => v <= 15);
      add('client RSS added (after load), mesh - bare', 'mesh', hi, (a, b) => a.rssMb - b.rssMb, ' MB', 1, '<= 15 MB', (v) => v <= 15);
      add('client live heap added (after load), mesh - bare', 'mesh', hi, (a, b) => a.heapMb - b.heapMb, ' MB', 1);
    }
    // Issue #7: what telemetry (metrics, 1% tracing, no access logs) costs the mesh row.
    const notel = g('mesh-notel');
    if (meshOk && notel.status === 'ok') {
      const vs = addVs(notel);
      vs(`throughput c=${hi}, mesh / mesh with telemetry off`, 'mesh', hi, thr, 'x', 2, '>= 0.95x', (v) => v >= 0.95);
      vs(`added client CPU/request c=${hi}, telemetry on - off`, 'mesh', hi, cpu, ' us', 1);
      vs(`added p50 c=${lo}, telemetry on - off`, 'mesh', lo, p50, ' us', 0);
      if (g('mesh-notel-headers').status === 'ok') {
        vs(`  of which the headers: throughput c=${hi}, telemetry off + its headers / telemetry off`, 'mesh-notel-headers', hi, thr, 'x', 2);
        vs(`  of which the headers: added client CPU/request c=${hi}`, 'mesh-notel-headers', hi, cpu, ' us', 1);
        addVs(g('mesh-notel-headers'))(`  the rest (telemetry's code): throughput c=${hi}, mesh / telemetry off + its headers`, 'mesh', hi, thr, 'x', 2);
      }
    }
    const w = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i].length)));
    for (const [what, value, rounds, target] of rows) log(`  ${what.padEnd(w[0])} ${value.padStart(w[1])}  ${rounds.padEnd(w[2])}  ${target}`.trimEnd());
  }
  const ub = table['undici.request bare'];
  const fb = table['fetch bare'];
  if (ub.status === 'ok' && fb.status === 'ok') {
    log();
    log(`built-in fetch / undici.request, bare, c=${hi}: ${fmt(fb[hi].rps / ub[hi].rps, 2)}x   (issue: 0.17-0.20x)`);
  }
  log();
  log('issue #4 reference for this machine: bare undici.request ~26,000 req/s at c=32, p50 113 us at c=1, 38 us client CPU/request;');
  log('  fetch 0.17-0.20x of that; nginx pair 68 us (plaintext) / 88 us (mTLS) proxy CPU per request.');
  log(`run took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(out.join('\n'));
}

main().then(
  () => shutdown().then(() => process.exit(0)),
  (err) => {
    console.error(`fetch bench failed: ${err.stack ?? err}`);
    shutdown().then(() => process.exit(1));
  },
);
