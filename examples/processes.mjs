// The process handling the multi-process examples share (bookinfo-demo, grpc-pair): start a
// Node program and wait for the one JSON line it prints when ready; stop every program started
// and remove the example's temporary folder.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

export function processGroup(dir) {
  const children = [];
  return {
    /** Starts `node <args>` with `env` added; resolves with the first JSON line it prints, rejects if it exits first. */
    start(args, env = {}) {
      const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr.on('data', (c) => (stderr += c));
      return new Promise((resolveLine, reject) => {
        createInterface({ input: child.stdout }).once('line', (l) => resolveLine(JSON.parse(l)));
        child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.trim()}`)));
      });
    },
    /** SIGTERM to every program still running, waits for them, then removes `dir`. */
    async stopAll() {
      await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); })));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
