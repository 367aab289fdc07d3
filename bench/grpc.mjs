// gRPC benchmark (issue #8): meshed unary calls through @meshwork/grpc against a bare grpc-js
// channel to the same upstream, side by side in one run. The upstream is a grpc-js server in
// its own process; each (path, round) is a fresh client process; rounds alternate the paths so
// drift of a shared machine hits all of them alike. Rows:
//   bare        grpc-js channel -> upstream
//   mesh        @meshwork/grpc (route, LEAST_REQUEST, outlier detection, default retries), metrics on
//   mesh-notel  the same with telemetry: false
//   bare-headers  the bare channel sending, on every call, the metadata the mesh row sends
//               (x-request-id, x-envoy-peer-metadata-id, x-envoy-peer-metadata,
//               x-envoy-attempt-count): what Istio's headers cost in grpc-js and Node's HTTP/2
//               with no mesh code at all, so the mesh's own cost shows apart from theirs
// Prints throughput at concurrency 32, p50 at concurrency 1, client CPU per call, and the
// issue's ratios (mesh / bare >= 0.90x at c=32; added p50 at c=1 <= 30 us).
// Run: pnpm --filter @meshwork/bench run grpc [-- --rounds N] [--duration S] [--pretenuring] [--no-pin]
// The client runs on CPU 0 and the upstream on CPU 1 (taskset, as the security bench does): each
// row says which of the two processes limits throughput (CPU per call of both are printed).
// Every process runs with v8RegimeFlags (child.mjs): one GC regime for all rows.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runJsonChild, v8RegimeFlags } from './child.mjs';
import { which } from './fetch-nginx.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2).filter((a) => a !== '--');
const num = (name, def) => {
  const i = argv.indexOf(name);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} takes a positive number`);
  return v;
};
const rounds = num('--rounds', 3);
const v8Flags = v8RegimeFlags(argv);
const measureMs = num('--duration', 3) * 1000;
const warmupMs = 1000;
const PATHS = ['bare', 'mesh', 'mesh-notel', 'bare-headers'];
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

const state = { child: undefined };
// taskset execs node: the pid spawned is the upstream's own (its CPU is read from /proc/<pid>).
const taskset = !argv.includes('--no-pin') && os.cpus().length >= 2 ? which('taskset') : undefined;
const pinned = (cpu, args) => (taskset ? [taskset, ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args]);
const upstream = spawn(...pinned(1, [...v8Flags, 'grpc-server.mjs']), { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
const stop = () => { try { upstream.kill('SIGKILL'); } catch { /* gone */ } state.child?.kill('SIGKILL'); };
process.on('SIGINT', () => { stop(); process.exit(130); });
process.on('SIGTERM', () => { stop(); process.exit(143); });
try {
  const { port } = await new Promise((resolve, reject) => {
    upstream.stdout.once('data', (d) => resolve(JSON.parse(String(d))));
    upstream.once('exit', (c) => reject(new Error(`upstream exited ${c}`)));
  });
  const t0 = Date.now();
  const runs = Object.fromEntries(PATHS.map((p) => [p, []]));
  for (let r = 0; r < rounds; r++) {
    for (const path of r % 2 ? [...PATHS].reverse() : PATHS) {
      const [cmd, args] = pinned(0, [...v8Flags, 'grpc-client.mjs', JSON.stringify({ path, port, serverPid: upstream.pid, warmupMs, measureMs })]);
      const out = await runJsonChild(cmd, args, { cwd: here, state, timeoutMs: 120_000, label: path });
      if (out.status !== 'ok') console.log(`  ${path} round ${r + 1}: ${out.status} (${out.error})`);
      runs[path].push(out);
      process.stdout.write('.');
    }
  }
  console.log(`\n\ngRPC unary calls, 32-byte messages, loopback, median of rounds (each a fresh client process; node ${v8Flags.join(' ') || 'with V8 defaults'}; ${taskset ? 'client on CPU 0, upstream on CPU 1' : 'processes not pinned'}):`);
  const med = (path, c, k) => median(runs[path].filter((o) => o.status === 'ok').map((o) => o.results[c][k]));
  const roundsOf = (path, c, k, f = (x) => x.toFixed(0)) => runs[path].map((o) => (o.status === 'ok' ? f(o.results[c][k]) : 'x')).join(', ');
  for (const p of PATHS) {
    console.log(`  ${p.padEnd(12)} c=32 ${med(p, 32, 'rps').toFixed(0).padStart(7)} calls/s  CPU client ${med(p, 32, 'cpuUs').toFixed(1).padStart(5)} server ${med(p, 32, 'serverCpuUs').toFixed(1).padStart(5)} us/call   c=1 p50 ${med(p, 1, 'p50').toFixed(0).padStart(4)} us   (c=32 rounds ${roundsOf(p, 32, 'rps')})`);
  }
  /** f of row a's results against row b's of the same round, then the median over rounds. */
  const roundByRound = (a, b, f) => median(runs[a].map((o, i) => (o.status === 'ok' && runs[b][i]?.status === 'ok' ? f(o.results, runs[b][i].results) : NaN)));
  const ratio = (a, b = 'bare') => roundByRound(a, b, (x, y) => x[32].rps / y[32].rps);
  const added = (a) => roundByRound(a, 'bare', (x, y) => x[1].p50 - y[1].p50);
  const verdict = (ok) => (ok ? 'meets target' : 'MISSES target');
  console.log('\nratios (round by round against the bare row of the same round, then the median):');
  console.log(`  throughput c=32, mesh (metrics on) / bare       ${ratio('mesh').toFixed(2)}x   target >= 0.90x  ${verdict(ratio('mesh') >= 0.9)}`);
  console.log(`  throughput c=32, mesh (telemetry off) / bare    ${ratio('mesh-notel').toFixed(2)}x`);
  console.log(`  throughput c=32, bare-headers / bare            ${ratio('bare-headers').toFixed(2)}x   (Istio's four headers in grpc-js and Node's HTTP/2, no mesh code)`);
  console.log(`  throughput c=32, mesh (metrics on) / bare-headers ${ratio('mesh', 'bare-headers').toFixed(2)}x   (the mesh's own cost, both sending the same headers)`);
  console.log(`  added p50 c=1, mesh (metrics on) - bare         ${added('mesh').toFixed(0)} us    target <= 30 us  ${verdict(added('mesh') <= 30)}`);
  console.log(`  added p50 c=1, mesh (telemetry off) - bare      ${added('mesh-notel').toFixed(0)} us`);
  console.log(`  added p50 c=1, bare-headers - bare              ${added('bare-headers').toFixed(0)} us`);
  console.log(`  added client CPU/call c=32, mesh - bare         ${(med('mesh', 32, 'cpuUs') - med('bare', 32, 'cpuUs')).toFixed(1)} us`);
  console.log(`    of which the headers, bare-headers - bare     ${(med('bare-headers', 32, 'cpuUs') - med('bare', 32, 'cpuUs')).toFixed(1)} us`);
  console.log(`  added upstream CPU/call c=32, mesh - bare       ${(med('mesh', 32, 'serverCpuUs') - med('bare', 32, 'serverCpuUs')).toFixed(1)} us (the headers the mesh sends: the upstream is the same bare grpc-js server)`);
  console.log(`run took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
} finally {
  stop();
}
