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
