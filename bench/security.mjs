// Mesh security benchmark (issue #5): what mesh mTLS and the inbound pipeline cost, measured side
// by side in one run.
//   1. Meshed calls with connection reuse: undici.request through @meshwork/fetch's dispatcher at
//      concurrency 32 (and 1), to (a) a bare node:http server in plaintext, (b) a MeshServer in
//      plaintext (PERMISSIVE, pipeline on, no policies), (c) the same MeshServer over auto-mTLS;
//      beside them, for context, bare undici.request to node:http and the same through fetch.mjs's
//      nginx sidecar pair with mTLS between the proxies. Client and server CPU per request apart.
//   2. Fastify with STRICT mTLS and ten AuthorizationPolicies (meshServerFactory + meshworkPlugin)
//      vs bare Fastify over the same TLS (client certificates required), one undici Pool client.
//   3. The authorization decision in-process: decideInbound on the same ten policies, and the whole
//      Inbound.evaluate (security-authz.mjs).
//   4. New mTLS connections per second (a fresh handshake per request, ECDSA P-256 from our CA)
//      against a MeshServer, a bare node:https server and nginx with ssl_verify_client on.
// Every server and client runs in a fresh Node process per row and round (client on CPU 0, server
// on CPU 1); rounds alternate the row order and the medians are printed, then the ratios the issue
// sets targets for, with each round's value beside them.
// Run: pnpm --filter @meshwork/bench run security [-- --quick] [--no-pin] [--pretenuring] [--cpu-prof DIR] [--rounds N] [--duration S] [--warmup S] [--parts 1,2,3,4] [--no-telemetry]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, get, makeCerts, startNginx, stopAll, which } from './fetch-nginx.mjs';
import { mtlsTerminatorConfig, pairConfigs } from './security-nginx.mjs';
import { CLIENT_ID, SERVER_ID, TRUST_DOMAIN, loadIdentity } from './security-config.mjs';
import { runJsonChild, v8RegimeFlags } from './child.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const USAGE = 'usage: security.mjs [--quick] [--no-pin] [--pretenuring] [--cpu-prof DIR] [--rounds N] [--duration S] [--warmup S] [--parts 1,2,3,4] [--no-telemetry]';

function options(rawArgv) {
  // pnpm/npm pass a literal `--` through to the script; it separates nothing here.
  const argv = rawArgv.filter((a) => a !== '--');
  const known = new Set(['--quick', '--no-pin', '--pretenuring', '--no-telemetry', '--cpu-prof', '--rounds', '--duration', '--warmup', '--parts']);
  for (let i = 0; i < argv.length; i++) {
    if (!known.has(argv[i])) throw new Error(`unknown argument ${argv[i]}; ${USAGE}`);
    if (!['--quick', '--no-pin', '--pretenuring', '--no-telemetry'].includes(argv[i])) i++;
  }
  const quick = argv.includes('--quick');
  const num = (name, def, min, max) => {
    const i = argv.indexOf(name);
    if (i < 0) return def;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} takes a number from ${min} to ${max}`);
    return v;
  };
  const pi = argv.indexOf('--parts');
  const parts = new Set(pi < 0 ? [1, 2, 3, 4] : String(argv[pi + 1]).split(',').map(Number));
  for (const p of parts) if (![1, 2, 3, 4].includes(p)) throw new Error(`--parts takes a list of 1, 2, 3, 4; ${USAGE}`);
  return {
    quick,
    parts,
    pin: !argv.includes('--no-pin'),
    v8Flags: v8RegimeFlags(argv),
    // Every Mesh of the measured processes (clients and servers) with `telemetry: false`: what
    // mTLS and the inbound pipeline cost without Istio's metrics, spans and peer-metadata
    // exchange, whose cost issue #7 budgets (bench:fetch measures it).
    telemetry: !argv.includes('--no-telemetry'),
    cpuProfDir: argv.includes('--cpu-prof') ? argv[argv.indexOf('--cpu-prof') + 1] : undefined,
    rounds: num('--rounds', quick ? 1 : 3, 1, 9),
    // Warm-up at c=32 lasts at least this long and until throughput is steady (see security-client.mjs), at most 3x.
    warmupMs: num('--warmup', quick ? 1 : 2, 0.1, 30) * 1000,
    measureMs: num('--duration', quick ? 1 : 3, 0.2, 60) * 1000,
    concurrencies: [1, 32],
    maxRequests: 2_000_000,
  };
}

// ---- processes: everything the bench started, for every exit path ----

const state = { dir: undefined, nginx: {}, servers: new Set(), child: undefined, stopping: false };

function cleanupSync() {
  for (const p of [state.child, ...state.servers]) {
    if (p && p.exitCode === null && p.signalCode === null) {
      try { p.kill('SIGKILL'); } catch { /* gone */ }
    }
  }
  stopAll(state.nginx);
  if (state.dir) {
    try { rmSync(state.dir, { recursive: true, force: true, maxRetries: 3 }); } catch { /* best effort */ }
    state.dir = undefined;
  }
}

/** Stops servers, nginx and the client, waits (up to 3 s) for them to exit, then removes the temp dir. */
async function shutdown() {
  const live = [state.child, ...state.servers, ...Object.values(state.nginx)].filter((p) => p && p.exitCode === null && p.signalCode === null);
  const exited = Promise.all(live.map((p) => new Promise((r) => p.once('exit', r))));
  if (state.child && state.child.exitCode === null) state.child.kill('SIGKILL');
  for (const s of state.servers) if (s.exitCode === null) s.kill('SIGTERM');
  stopAll(state.nginx);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  cleanupSync();
}

process.on('exit', cleanupSync);
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.on(sig, () => {
    if (state.stopping) return;
    state.stopping = true;
    process.stderr.write(`\nsecurity bench: ${sig}, stopping servers, nginx and the client\n`);
    shutdown().finally(() => process.exit(code));
  });
}

/** Starts a server process; resolves with { proc, port, pid } once it listens. */
function startServer(cfg) {
  return new Promise((resolve, reject) => {
    const proc = spawn(...pinned(1, [join(here, 'security-server.mjs'), JSON.stringify(cfg)]), { cwd: here, stdio: ['pipe', 'pipe', 'pipe'] });
    state.servers.add(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`server ${cfg.kind} not listening after 20 s: ${err.trim()}`)); }, 20_000);
    proc.stderr.setEncoding('utf8').on('data', (c) => { err += c; });
    proc.stdout.setEncoding('utf8').on('data', (c) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        const r = JSON.parse(out.slice(0, nl));
        resolve({ proc, port: r.port, pid: r.pid, stderr: () => err });
      } catch {
        reject(new Error(`server ${cfg.kind}: unexpected output ${out.slice(0, 200)}`));
      }
    });
    proc.on('exit', (code, signal) => {
      state.servers.delete(proc);
      clearTimeout(timer);
      reject(new Error(`server ${cfg.kind} exited (${code ?? signal}): ${err.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

async function stopServer(s) {
  if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

function runClient(cfg, timeoutMs) {
  return runJsonChild(...pinned(0, [join(here, 'security-client.mjs'), JSON.stringify(cfg)]), { cwd: here, state, timeoutMs });
}

function runAuthz(quick) {
  const r = spawnSync(...pinned(0, [join(here, 'security-authz.mjs'), ...(quick ? ['--quick'] : [])]), { cwd: here, encoding: 'utf8', timeout: 180_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { status: 'failed', error: `security-authz.mjs exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** Polls a port until it answers 200 "ok" (nginx pair with a freshly started upstream). */
async function waitOk(port, procs) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const dead = Object.values(procs).find((p) => p.exitCode !== null || p.signalCode !== null);
    if (dead) throw new Error(dead.exitInfo());
    const r = await get(port).catch((e) => ({ status: e.message }));
    if (r.status === 200 && r.body === 'ok\n') return;
    if (Date.now() > deadline) throw new Error(`port ${port} not ready: ${r.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** A tool's version banner (nginx prints it on stderr). */
function version(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

// Client on CPU 0, server on CPU 1 (taskset), as two machines would be: left to itself, this
// 2-vCPU VM's scheduler now and then runs both on one CPU for a second or two, which showed as
// rows at 60 % of their throughput with 75 % more CPU per request.
const pinning = { taskset: undefined, v8Flags: [], cpuProfDir: undefined };
/** [command, args] that run `node args` on `cpu` (or unpinned). */
function pinned(cpu, args) {
  // Every Node process in one GC regime (child.mjs v8RegimeFlags); --cpu-prof DIR profiles each.
  const node = [...pinning.v8Flags, ...(pinning.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${pinning.cpuProfDir}`] : []), ...args];
  return pinning.taskset ? [pinning.taskset, ['-c', String(cpu), process.execPath, ...node]] : [process.execPath, node];
}

// ---- the rows ----

const PRINCIPAL = CLIENT_ID.slice('spiffe://'.length);

/**
 * Every measured row: the server process (or nginx), the client, what the probe must see (so a
 * row that silently fell back to plaintext, or let a denied request through, fails instead of
 * being measured), and which CPU counts as "server".
 */
function rows(ctx) {
  const isJson = (p) => p.seen && typeof p.seen === 'object';
  const plain = (p) => (isJson(p) && p.seen.mtls === false ? null : `expected a plaintext request, the server saw ${JSON.stringify(p.seen)}`);
  const mtls = (p) => (isJson(p) && p.seen.mtls === true && p.seen.principal === PRINCIPAL ? null : `expected mTLS from ${PRINCIPAL}, the server saw ${JSON.stringify(p.seen)}`);
  const ok = (p) => (p.seen === 'ok\n' ? null : `expected "ok", got ${JSON.stringify(p.seen)}`);
  const fresh = (p) => (p.resumed === 0 ? null : `${p.resumed} TLS sessions were resumed; every connection must make a full handshake`);
  const all = (...checks) => (p) => checks.map((c) => c(p)).find((x) => x) ?? null;
  return [
    { id: 'bare', part: 1, label: 'bare: undici.request -> node:http', server: { kind: 'http' }, client: { mode: 'bare' }, check: ok },
    { id: 'a', part: 1, label: '(a) plaintext: mesh client -> node:http', server: { kind: 'http' }, client: { mode: 'mesh' }, check: plain },
    { id: 'b', part: 1, label: '(b) plaintext meshed: -> MeshServer', server: { kind: 'mesh' }, client: { mode: 'mesh' }, check: plain },
    { id: 'c', part: 1, label: '(c) mTLS meshed: -> MeshServer', server: { kind: 'mesh' }, client: { mode: 'mesh', identity: true }, check: mtls },
    {
      id: 'tls', part: 1, label: 'bare mTLS: undici.request -> node:https', server: { kind: 'https' }, client: { mode: 'pool', identity: true, simple: true },
      check: (p) => (isJson(p) && p.seen.mtls === true ? null : `expected TLS, the server saw ${JSON.stringify(p.seen)}`),
    },
    {
      id: 'pair', part: 1, label: 'nginx pair mTLS: undici -> 2 nginx -> node:http', needsNginx: true,
      server: { kind: 'http', port: ctx.ports.pairUpstream }, client: { mode: 'bare', url: `http://127.0.0.1:${ctx.ports.clientTls}/` }, check: ok,
      extraPids: () => ({ clientSidecar: state.nginx['client-sidecar'].pid, serverSidecar: state.nginx['server-sidecar'].pid }),
      ready: () => waitOk(ctx.ports.clientTls, state.nginx),
    },
    {
      id: 'fastify-bare', part: 2, label: 'bare Fastify, https + client certificates', server: { kind: 'fastify-bare' }, client: { mode: 'pool', identity: true },
      check: (p) => (isJson(p) && p.seen.mtls === true && p.deleteStatus === 200 ? null : `expected TLS and DELETE answered 200, got ${JSON.stringify(p)}`),
    },
    {
      id: 'fastify-mesh', part: 2, label: 'meshed Fastify, STRICT + 10 AuthorizationPolicies', server: { kind: 'fastify-mesh' }, client: { mode: 'pool', identity: true },
      check: (p) => (isJson(p) && p.seen.mtls === true && p.seen.principal === PRINCIPAL && p.seen.decision === 'ALLOW' && p.seen.policy === 'shop/allow-web' && p.deleteStatus === 403
        ? null : `expected mTLS, ALLOW by shop/allow-web and DELETE denied with 403, got ${JSON.stringify(p)}`),
    },
    { id: 'hs-mesh', part: 4, label: 'MeshServer (PERMISSIVE, pipeline on)', server: { kind: 'mesh' }, client: { mode: 'handshake', identity: true, groups: ctx.groups }, check: all(mtls, fresh) },
    { id: 'hs-https', part: 4, label: 'bare node:https (same certificate)', server: { kind: 'https' }, client: { mode: 'handshake', identity: true, groups: ctx.groups }, check: all((p) => (isJson(p) && p.seen.mtls === true ? null : `expected TLS, got ${JSON.stringify(p.seen)}`), fresh) },
    {
      id: 'hs-nginx', part: 4, label: 'nginx, ssl_verify_client on', needsNginx: true, client: { mode: 'handshake', identity: true, groups: ctx.groups, port: ctx.ports.nginxTls },
      check: all(ok, fresh), serverPid: () => state.nginx['mtls-terminator'].pid,
    },
    {
      id: 'hs-mesh-default', part: 4, label: 'MeshServer, Node default key exchange', server: { kind: 'mesh' }, client: { mode: 'handshake', identity: true }, check: all(mtls, fresh),
    },
  ];
}

/** Per-round figures of one row at one concurrency (CPU in us per request). */
function figures(r, pidNames) {
  const us = (ns) => ns / 1000 / r.n;
  const server = us(r.cpuNs.server ?? NaN);
  const proxies = pidNames.filter((k) => k !== 'server').reduce((a, k) => a + us(r.cpuNs[k]), 0);
  const clientCpu = r.clientCpuUs / r.n;
  // CPUs kept busy by processes outside this row (other work on the machine): noise indicator.
  const ours = r.clientCpuUs * 1000 + Object.values(r.cpuNs).reduce((a, b) => a + b, 0);
  const otherCpus = (r.machineBusyNs - ours) / (r.elapsedMs * 1e6);
  return {
    rps: r.rps, p50: r.p50, p99: r.p99, clientCpu, serverCpu: server, proxyCpu: pidNames.length > 1 ? proxies : NaN,
    totalCpu: clientCpu + server + (pidNames.length > 1 ? proxies : 0), otherCpus, calibMs: r.calibMs, conns: r.conns ?? NaN, errors: r.errors, firstError: r.firstError,
  };
}

async function main() {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const nginx = which('nginx');
  const openssl = which('openssl');
  const noNginx = !nginx || !openssl ? `${nginx ? 'openssl' : 'nginx'} not found: run bench/setup.sh (as root)` : undefined;
  const nginxV = nginx ? version(nginx, ['-V']) : '';
  if (opts.pin && os.cpus().length >= 2) pinning.taskset = which('taskset');
  pinning.v8Flags = opts.v8Flags;
  pinning.cpuProfDir = opts.cpuProfDir; // one .cpuprofile per process, named by pid

  // Identities: an in-memory CA of our own (ECDSA P-256), the server and client workload
  // certificates, written as mounted files (Istio's /etc/certs layout) for the processes and nginx.
  state.dir = mkdtempSync(join(os.tmpdir(), 'meshwork-security-bench-'));
  const { CertificateAuthority, issueIdentity, writeIdentityFiles } = await loadIdentity();
  const ca = await CertificateAuthority.selfSigned({ trustDomain: TRUST_DOMAIN });
  const serverDir = join(state.dir, 'server-identity');
  const clientDir = join(state.dir, 'client-identity');
  const serverMaterial = await issueIdentity(ca, { spiffeId: SERVER_ID });
  await writeIdentityFiles(serverDir, serverMaterial);
  await writeIdentityFiles(clientDir, await issueIdentity(ca, { spiffeId: CLIENT_ID }));
  const keyAlg = new X509Certificate(serverMaterial.certChainPem).publicKey.asymmetricKeyDetails;

  const [pairUpstream, serverPlain, serverTls, clientPlain, clientTls, nginxProbe, nginxTls] = await freePorts(7);
  // Part 4's key exchange: pinned to X25519 for every server row (nginx's OpenSSL 3.0 has no
  // post-quantum groups; Node 24 <-> Node 24 would pick X25519MLKEM768), plus one row with Node's default.
  const ctx = { ports: { pairUpstream, clientTls, nginxTls }, groups: 'X25519' };
  const selected = rows(ctx).filter((r) => opts.parts.has(r.part));
  const raw = Object.fromEntries(selected.map((r) => [r.id, []]));

  if (!noNginx && selected.some((r) => r.needsNginx)) {
    const configs = {};
    if (selected.some((r) => r.id === 'pair')) {
      const pairDir = join(state.dir, 'pair');
      mkdirSync(pairDir);
      Object.assign(configs, pairConfigs(state.dir, { upstream: pairUpstream, serverPlain, serverTls, clientPlain, clientTls }, makeCerts(openssl, pairDir), nginxV));
    }
    if (selected.some((r) => r.id === 'hs-nginx')) Object.assign(configs, mtlsTerminatorConfig(state.dir, { probe: nginxProbe, tls: nginxTls }, serverDir, nginxV));
    // The pair answers only once its upstream runs (per round); the terminator has a probe port.
    state.nginx = await startNginx(nginx, state.dir, configs, configs['mtls-terminator'] ? [nginxProbe] : []);
    // The nginx that terminates mTLS is part 4's server: it runs where the server processes run.
    if (pinning.taskset && state.nginx['mtls-terminator']) execFileSync(pinning.taskset, ['-p', '-c', '1', String(state.nginx['mtls-terminator'].pid)], { stdio: 'ignore' });
  }

  const timeoutMs = opts.warmupMs * 5 + opts.measureMs * opts.concurrencies.length * 2 + 30_000;
  const loadBefore = os.loadavg();
  let authz;
  for (let round = 0; round < opts.rounds; round++) {
    // Alternate the order so that drift (thermal, other load) does not favour one row.
    const order = round % 2 ? [...selected].reverse() : selected;
    for (const row of order) {
      if (state.stopping) return;
      const prior = raw[row.id];
      if (prior.length > 0 && prior[0].status !== 'ok') continue;
      if (row.needsNginx && noNginx) {
        prior.push({ status: 'unavailable', error: noNginx });
        continue;
      }
      let server;
      let res;
      try {
        if (row.server) server = await startServer({ ...row.server, port: row.server.port ?? 0, identityDir: serverDir, telemetry: opts.telemetry });
        await row.ready?.();
        const pids = { server: row.serverPid ? row.serverPid() : server.pid, ...(row.extraPids?.() ?? {}) };
        res = await runClient({
          mode: row.client.mode, port: row.client.port ?? server?.port, url: row.client.url ?? `http://127.0.0.1:${server?.port}/`,
          identityDir: row.client.identity ? clientDir : undefined, groups: row.client.groups, simple: row.client.simple, pids, clkTck,
          warmupMs: opts.warmupMs, maxWarmupMs: opts.warmupMs * 3, measureMs: opts.measureMs, concurrencies: opts.concurrencies, maxRequests: opts.maxRequests,
          telemetry: opts.telemetry,
        }, timeoutMs);
        res.pidNames = Object.keys(pids);
        // Connections the server accepted during the whole client run (warm-up and both windows).
        const seenConns = res.probe?.after?.seen?.connections;
        if (typeof seenConns === 'number') for (const c of opts.concurrencies) res.results[c].conns = seenConns;
        if (res.status === 'ok') {
          const bad = row.check(res.probe.before) ?? (res.probe.after.error ? `probe after the load: ${res.probe.after.error}` : row.check(res.probe.after));
          if (bad) res = { status: 'failed', error: bad };
        }
      } catch (err) {
        res = { status: 'failed', error: String(err.message ?? err) };
      } finally {
        await stopServer(server);
      }
      for (const p of Object.values(state.nginx)) if (p.exitCode !== null || p.signalCode !== null) throw new Error(p.exitInfo());
      prior.push(res);
      const summary = res.status === 'ok'
        ? opts.concurrencies.map((c) => `c=${c} ${Math.round(res.results[c].rps)} req/s${res.results[c].errors ? ` (${res.results[c].errors} errors)` : ''}`).join(', ')
        : `${res.status}: ${res.error}`;
      process.stderr.write(`[round ${round + 1}/${opts.rounds}] ${row.id.padEnd(16)} ${summary}\n`);
    }
    // Part 3 once, in the middle of the run, on its own (nothing else of the bench runs meanwhile).
    if (opts.parts.has(3) && round === Math.floor((opts.rounds - 1) / 2)) {
      authz = runAuthz(opts.quick);
      process.stderr.write(`[round ${round + 1}/${opts.rounds}] authorization    ${authz.status === 'ok' ? `${authz.authz.decide.ns.toFixed(0)} ns/decision` : `${authz.status}: ${authz.error}`}\n`);
    }
  }
  const loadAfter = os.loadavg();

  // Medians over rounds, per (row, concurrency).
  const table = {};
  for (const row of selected) {
    const runs = raw[row.id];
    const bad = runs.find((r) => r.status !== 'ok');
    if (bad) {
      table[row.id] = { status: bad.status, error: bad.error };
      continue;
    }
    const t = { status: 'ok', tls: runs[0].probe.before.tls };
    for (const c of opts.concurrencies) {
      const per = runs.map((r) => figures(r.results[c], r.pidNames));
      const m = {};
      for (const k of Object.keys(per[0])) if (k !== 'firstError') m[k] = k === 'errors' ? per.reduce((a, p) => a + p.errors, 0) : median(per.map((p) => p[k]));
      m.firstError = per.find((p) => p.firstError)?.firstError;
      t[c] = m;
      t[`rounds${c}`] = per;
    }
    table[row.id] = t;
  }

  const fastestCalib = Math.min(...Object.values(table).flatMap((t) => opts.concurrencies.flatMap((c) => (t[`rounds${c}`] ?? []).map((p) => p.calibMs))).filter(Number.isFinite));

  // ---- report ----
  const out = [];
  const log = (s = '') => out.push(s);
  const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const pkgVersion = (p) => { try { return JSON.parse(readFileSync(join(here, p, 'package.json'), 'utf8')).version; } catch { return '?'; } };
  const hi = Math.max(...opts.concurrencies);
  const lo = Math.min(...opts.concurrencies);
  log(`Mesh security benchmark (issue #5) — ${new Date().toISOString()}`);
  log(`node ${process.version} (OpenSSL ${process.versions.openssl}), undici ${pkgVersion('node_modules/undici')}, fastify ${pkgVersion('../packages/fastify/node_modules/fastify')}${nginx ? `, ${version(nginx, ['-v']).replace('nginx version: ', '')} (${(/running with (OpenSSL [\d.a-z]+)/.exec(nginxV) ?? /built with (OpenSSL [\d.a-z]+)/.exec(nginxV) ?? ['', '?'])[1]})` : ''}`);
  log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after`);
  log(`Node processes: ${opts.v8Flags.join(' ') || 'V8 defaults'} (one GC regime for every row: bench/child.mjs v8RegimeFlags; --pretenuring for V8's default)`);
  log(opts.telemetry
    ? 'Mesh telemetry: on, as Istio ships (metrics, spans, peer-metadata exchange); --no-telemetry measures mTLS and the pipeline without it'
    : 'Mesh telemetry: OFF (--no-telemetry): every Mesh runs with telemetry: false, so the mesh rows carry no metrics, spans or peer-metadata exchange');
  const warmups = Object.values(raw).flat().filter((r) => r.status === 'ok').map((r) => r.warmupMs / 1000);
  log(`${opts.rounds} round(s) × per concurrency (${opts.warmupMs / 4000} s warm-up + ${opts.measureMs / 1000} s measured), after a warm-up at c=${hi} until steady`);
  log(`(at least ${opts.warmupMs / 1000} s, at most ${opts.warmupMs * 3 / 1000} s; took ${fmt(Math.min(...warmups), 1)}-${fmt(Math.max(...warmups), 1)} s); medians of rounds${opts.quick ? ' — QUICK run: indicative only' : ''}`);
  log(`workload certificates: our CA, ${keyAlg?.namedCurve ?? '?'} (ECDSA) keys; server ${SERVER_ID}, client ${CLIENT_ID}`);
  log('CPU per request: client = process.cpuUsage() of the client process (includes its load loop); server (and nginx) =');
  log('/proc/<pid>/task/*/schedstat of that process over the same window. Fresh client and server processes per row and round;');
  log(pinning.taskset ? 'client processes on CPU 0, servers (and part 4\'s nginx) on CPU 1 (taskset); the nginx pair\'s two proxies are not pinned.' : 'processes not pinned to CPUs.');
  log('other = CPUs kept busy meanwhile by processes outside the row (/proc/stat minus the row\'s own CPU; the two accountings differ a');
  log('little, so a quiet machine reads -0.15 to 0.05); higher = the row shared the machine with other work;');
  log('speed = a fixed CPU task timed just before and after the window, relative to the fastest of the run: below ~0.9 the');
  log('machine itself was slow then (host contention), which inflates CPU per request and lowers throughput.');
  log('CPU per request at c=1 includes every process\'s wake-up from idle for each request (costly in this VM) and swings by');
  log('tens of us between identical servers: compare CPU at c=32, latency at c=1.');
  log('conns = TCP connections the server accepted during the whole client run: undici opens up to 2x the concurrency in a burst,');
  log('and closes idle ones 2 s before the server\'s keep-alive timeout (node:http: 5 s), so during a long c=1 window the idle');
  log('ones close and are reopened in the warm-up before the c=32 window (~126 in a full run); more = reconnections under load.');

  const cols = [['row', 50], ['req/s', 8], ['p50 us', 8], ['p99 us', 8], ['client CPU', 11], ['server CPU', 11], ['proxies', 8], ['total CPU', 10], ['other', 6], ['speed', 6], ['conns', 6], ['errors', 7]];
  const line = (vals, c = cols) => vals.map((v, i) => (i < 1 ? String(v).padEnd(c[i][1]) : String(v).padStart(c[i][1]))).join(' ');
  const printTable = (title, ids, c, colsHere = cols, unitNote = '(latency in us; CPU in us per request)') => {
    log();
    log(`${title}, concurrency ${c}   ${unitNote}`);
    log(line(colsHere.map(([h]) => h), colsHere));
    log(line(colsHere.map(([, w]) => '-'.repeat(w)), colsHere));
    for (const id of ids) {
      const row = selected.find((r) => r.id === id);
      const t = table[id];
      if (!row) continue;
      if (t.status !== 'ok') {
        log(`${row.label.padEnd(50)} ${t.status} (see below)`);
        continue;
      }
      const m = t[c];
      log(line([row.label, fmt(m.rps), fmt(m.p50), fmt(m.p99), fmt(m.clientCpu, 1), fmt(m.serverCpu, 1), fmt(m.proxyCpu, 1), fmt(m.totalCpu, 1), fmt(m.otherCpus, 2), fmt(fastestCalib / m.calibMs, 2), colsHere.some(([h]) => h === 'conns') ? fmt(m.conns) : undefined, String(m.errors)].filter((v) => v !== undefined), colsHere));
      if (m.errors > 0) log(`${''.padEnd(51)}first error: ${m.firstError}`);
    }
  };

  // Ratio rows: value from the medians, the per-round values (each round ran every row), the target.
  const verdict = (v, ok) => (ok === undefined ? '' : ok(v) ? 'meets target' : 'MISSES target');
  const ratioBlock = (title, items) => {
    const rowsOut = [];
    for (const it of items) {
      const ts = it.ids.map((id) => table[id]);
      const missing = it.ids.find((id) => !table[id] || table[id].status !== 'ok');
      if (missing) {
        rowsOut.push([it.what, '-', `(${missing}: ${table[missing]?.status ?? 'not run'})`, it.target ? `target ${it.target}` : '']);
        continue;
      }
      const v = it.f(...ts.map((t) => t[it.c]));
      const per = ts[0][`rounds${it.c}`].map((_, i) => it.f(...ts.map((t) => t[`rounds${it.c}`][i])));
      const rounds = per.length > 1 ? `(rounds ${per.map((x) => fmt(x, it.digits)).join(', ')})` : '';
      rowsOut.push([it.what, `${fmt(v, it.digits)}${it.unit}`, rounds, it.target ? `target ${it.target.padEnd(9)} ${verdict(v, it.ok)}` : '']);
    }
    log();
    log(title);
    const w = [0, 1, 2].map((i) => Math.max(0, ...rowsOut.map((r) => r[i].length)));
    for (const [what, value, rounds, target] of rowsOut) log(`  ${what.padEnd(w[0])} ${value.padStart(w[1])}  ${rounds.padEnd(w[2])}  ${target}`.trimEnd());
  };
  const thr = (a, b) => a.rps / b.rps;
  const cpuDiff = (k) => (a, b) => a[k] - b[k];

  if (opts.parts.has(1)) {
    log();
    log('== 1. Meshed calls with connection reuse: undici.request through the mesh dispatcher (auto-mTLS) ==');
    log('server: a trivial handler ("ok\\n"); MeshServer = createMeshServer, PERMISSIVE, pipeline on, no policies; "bare mTLS" = node:https');
    log('with serverTlsOptions and undici.request through an Agent with clientTlsOptions (the same certificates and client API as');
    log('the bare row, no mesh on either side);');
    log('the nginx pair row is fetch.mjs\'s sidecar pair (TLS 1.3, RSA 2048 between the proxies) before the same node:http server');
    const ids = ['bare', 'a', 'b', 'c', 'tls', 'pair'];
    for (const c of opts.concurrencies) printTable('part 1', ids, c);
    ratioBlock('part 1 ratios (from the medians above)', [
      { what: `throughput c=${hi}, (c) mTLS meshed / (b) plaintext meshed`, ids: ['c', 'b'], c: hi, f: thr, unit: 'x', digits: 2, target: '>= 0.85x', ok: (v) => v >= 0.85 },
      { what: `throughput c=${hi}, (b) / (a)`, ids: ['b', 'a'], c: hi, f: thr, unit: 'x', digits: 2 },
      { what: `throughput c=${hi}, (c) / (a)`, ids: ['c', 'a'], c: hi, f: thr, unit: 'x', digits: 2 },
      { what: `CPU/request client+server c=${hi}, (c) - (a): mTLS + inbound pipeline`, ids: ['c', 'a'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1, target: '<= 20 us', ok: (v) => v <= 20 },
      { what: '  of which client, (c) - (a)', ids: ['c', 'a'], c: hi, f: cpuDiff('clientCpu'), unit: ' us', digits: 1 },
      { what: '  of which server, (c) - (a)', ids: ['c', 'a'], c: hi, f: cpuDiff('serverCpu'), unit: ' us', digits: 1 },
      { what: `CPU/request client+server c=${hi}, (b) - (a): inbound pipeline (plaintext)`, ids: ['b', 'a'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `CPU/request client+server c=${hi}, (c) - (b): mTLS`, ids: ['c', 'b'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `added p50 c=${lo}, (c) - (a)`, ids: ['c', 'a'], c: lo, f: (a, b) => a.p50 - b.p50, unit: ' us', digits: 0 },
      { what: `added p50 c=${lo}, (c) - (b)`, ids: ['c', 'b'], c: lo, f: (a, b) => a.p50 - b.p50, unit: ' us', digits: 0 },
      { what: `context: CPU/request client+server c=${hi}, bare mTLS - bare (Node's TLS, no mesh)`, ids: ['tls', 'bare'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `context: CPU/request client+server c=${hi}, (c) - bare mTLS (the mesh over Node's TLS)`, ids: ['c', 'tls'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `context: nginx pair proxies CPU/request c=${hi} (mTLS between them)`, ids: ['pair'], c: hi, f: (a) => a.proxyCpu, unit: ' us', digits: 1 },
      { what: `context: all-in CPU/request c=${hi}, nginx pair - bare`, ids: ['pair', 'bare'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `context: all-in CPU/request c=${hi}, (c) mTLS meshed - bare`, ids: ['c', 'bare'], c: hi, f: cpuDiff('totalCpu'), unit: ' us', digits: 1 },
      { what: `context: throughput c=${hi}, (c) / nginx pair`, ids: ['c', 'pair'], c: hi, f: thr, unit: 'x', digits: 2 },
      { what: `context: throughput c=${hi}, bare mTLS / bare (Node's TLS alone, same client API)`, ids: ['tls', 'bare'], c: hi, f: thr, unit: 'x', digits: 2 },
    ]);
    log('  reference (issue #4, this machine type): two nginx proxies with mTLS cost 88 us of proxy CPU per request (68 us plaintext)');
  }

  if (opts.parts.has(2)) {
    log();
    log('== 2. Fastify, STRICT mTLS + 10 AuthorizationPolicies (meshServerFactory + meshworkPlugin) vs bare Fastify over https ==');
    log('client: one undici Pool with the client workload certificate, keep-alive; GET /api/v1/products/<id> with x-tenant;');
    log('policies: 3 DENY + 7 ALLOW, the request is allowed by the last ALLOW policy evaluated (every matcher runs);');
    log('bare Fastify keeps idle connections 72 s (its keepAliveTimeout); behind meshServerFactory Fastify leaves the server\'s');
    log('timeouts to the factory and node:http\'s 5 s applies, hence more conns (reopened outside the measured windows)');
    for (const c of opts.concurrencies) printTable('part 2', ['fastify-bare', 'fastify-mesh'], c);
    ratioBlock('part 2 ratios', [
      { what: `throughput c=${hi}, meshed / bare Fastify`, ids: ['fastify-mesh', 'fastify-bare'], c: hi, f: thr, unit: 'x', digits: 2, target: '>= 0.90x', ok: (v) => v >= 0.9 },
      { what: `throughput c=${lo}, meshed / bare Fastify`, ids: ['fastify-mesh', 'fastify-bare'], c: lo, f: thr, unit: 'x', digits: 2 },
      { what: `server CPU/request c=${hi}, meshed - bare`, ids: ['fastify-mesh', 'fastify-bare'], c: hi, f: cpuDiff('serverCpu'), unit: ' us', digits: 1 },
      { what: `added p50 c=${lo}, meshed - bare`, ids: ['fastify-mesh', 'fastify-bare'], c: lo, f: (a, b) => a.p50 - b.p50, unit: ' us', digits: 0 },
    ]);
  }

  if (opts.parts.has(3)) {
    log();
    log('== 3. The authorization decision, in-process (security-authz.mjs: warm-up, then the median of batches) ==');
    if (!authz || authz.status !== 'ok') {
      log(`  failed: ${authz?.error ?? 'not run'}`);
    } else {
      const a = authz.authz;
      const n = authz.none;
      const r = (what, x, target, ok) => log(`  ${what.padEnd(72)} ${`${fmt(x.ns)} ns`.padStart(9)}  (batches ${fmt(x.min)}-${fmt(x.max)})${target ? `  target ${target}  ${ok(x.ns) ? 'meets target' : 'MISSES target'}` : ''}`);
      log(`  ${authz.rounds} batches of ${authz.batch} calls; allowed request decided ${a.check.decision} by ${a.check.policy}, DELETE ${a.deniedCheck.decision} by ${a.deniedCheck.policy}`);
      r(`decideInbound, ${a.policies} policies, allowed request (all policies run)`, a.decide, '<= 2000 ns', (v) => v <= 2000);
      r(`decideInbound, ${a.policies} policies, denied request (DELETE, 3rd DENY policy)`, a.decideDenied);
      r('decideInbound, no policies (part 1\'s server)', n.decide);
      r(`Inbound.evaluate (whole pipeline step, peer ID cached per connection), ${a.policies} policies`, a.evaluate);
      r('Inbound.evaluate, no policies', n.evaluate);
      log(`  Inbound.evaluate beyond decideInbound: ${fmt(a.evaluate.ns - a.decide.ns)} ns with policies, ${fmt(n.evaluate.ns - n.decide.ns)} ns without`);
    }
  }

  if (opts.parts.has(4)) {
    log();
    log('== 4. New mTLS connections per second (context, no target): a fresh TLS connection per request, no resumption ==');
    log('client: tls.connect with one secure context, the client workload certificate, secure naming; GET / with Connection: close;');
    log('key exchange pinned to X25519 on the client (nginx\'s OpenSSL 3.0 has no post-quantum group), except the last row, where');
    log('two Node 24 ends pick X25519MLKEM768 by default, as two meshed workloads do');
    const hsCols = [['server', 50], ['conn/s', 8], ['p50 us', 8], ['p99 us', 8], ['client CPU', 11], ['server CPU', 11], ['proxies', 8], ['total CPU', 10], ['other', 6], ['speed', 6], ['errors', 7]];
    const hsIds = ['hs-mesh', 'hs-https', 'hs-nginx', 'hs-mesh-default'];
    for (const c of opts.concurrencies) printTable('part 4', hsIds, c, hsCols, '(latency in us; CPU in us per connection)');
    log();
    log('negotiated (probe connection):');
    for (const id of hsIds) {
      const t = table[id];
      const row = selected.find((r) => r.id === id);
      if (!row) continue;
      log(`  ${row.label.padEnd(50)} ${t.status === 'ok' && t.tls ? `${t.tls.protocol} ${t.tls.cipher} ${t.tls.group ?? '(group not reported)'}${t.tls.alpn ? ` ALPN ${t.tls.alpn}` : ''}` : t.status}`);
    }
    ratioBlock('part 4 ratios (context)', [
      { what: `connections/s c=${hi}, MeshServer / nginx`, ids: ['hs-mesh', 'hs-nginx'], c: hi, f: thr, unit: 'x', digits: 2 },
      { what: `server CPU/connection c=${hi}, MeshServer / nginx`, ids: ['hs-mesh', 'hs-nginx'], c: hi, f: (a, b) => a.serverCpu / b.serverCpu, unit: 'x', digits: 2 },
      { what: `server CPU/connection c=${hi}, MeshServer - bare node:https`, ids: ['hs-mesh', 'hs-https'], c: hi, f: cpuDiff('serverCpu'), unit: ' us', digits: 1 },
      { what: `server CPU/connection c=${hi}, Node default key exchange - X25519`, ids: ['hs-mesh-default', 'hs-mesh'], c: hi, f: cpuDiff('serverCpu'), unit: ' us', digits: 1 },
    ]);
  }

  const failed = selected.filter((r) => table[r.id].status !== 'ok');
  if (failed.length > 0) {
    log();
    log('rows not measured:');
    for (const r of failed) log(`  ${r.label}: ${table[r.id].status} (${table[r.id].error})`);
  }
  log();
  log(`run took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(out.join('\n'));
}

main().then(
  () => shutdown().then(() => process.exit(0)),
  (err) => {
    if (state.stopping) return; // a signal is shutting down; what failed after it does not matter
    console.error(`security bench failed: ${err.stack ?? err}`);
    shutdown().then(() => process.exit(1));
  },
);
