// Runs one measured process of a benchmark and reads its result: the last line it prints is
// one JSON object. A process that dies, prints no JSON or outlives `timeoutMs` (then SIGKILL)
// becomes `{ status: 'failed', error }` naming the cause and the end of its stderr.
// `state.child` holds the process while it runs, for the bench's exit and signal handlers.
import { spawn } from 'node:child_process';

export function runJsonChild(command, args, { cwd, state, timeoutMs, label = 'client' }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    state.child = child;
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => { out += c; });
    child.stderr.setEncoding('utf8').on('data', (c) => { err += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      state.child = undefined;
      const line = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs / 1000} s` : `exited ${code ?? signal}`;
        resolve({ status: 'failed', error: `${label} ${why}: ${err.trim().split('\n').slice(-3).join(' | ')}` });
      }
    });
  });
}

/**
 * The V8 flags every Node process a benchmark starts runs with, so that all rows of a table run
 * in the same garbage-collection regime. Why: V8 decides, at its first scavenges with a large
 * young generation, which allocation sites to pretenure (allocate straight in old space). Which
 * way those decisions go for undici's and grpc-js's per-request objects (parser header buffers,
 * body streams, listener arrays) depends on how much the process allocated before its first
 * requests — a bigger module graph or any application data tips it — and on timing. Measured
 * here: bare undici.request alone goes from ~20 to ~28 us of CPU per request (GC from ~1 % to
 * ~15 %) when they are pretenured, since every object they point to then survives scavenges and
 * is promoted. Two rows of one table landed in different regimes from run to run, which made
 * "mesh / bare" measure V8's coin toss instead of the mesh. With pretenuring off every row runs
 * in the regime an empty process gets; `--pretenuring` (V8's default) shows the other one, and
 * the fetch bench's GC column shows which regime each row ran in.
 */
export function v8RegimeFlags(argv) {
  return argv.includes('--pretenuring') ? [] : ['--no-allocation-site-pretenuring'];
}
