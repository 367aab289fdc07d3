/**
 * A control service in a child process (killable with SIGKILL), workloads that take their
 * configuration and certificates from it, and small API helpers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ControlProcess {
  child: ChildProcess;
  url: string;
  port: number;
  rootCertPath: string;
  adminToken: string;
  ca: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./control-process.mjs', import.meta.url));

export async function startControlProcess(dataDir: string, port = 0): Promise<ControlProcess> {
  const child = spawn(process.execPath, [SCRIPT, dataDir, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`control process exited ${code}: ${stderr}`)));
  });
  const info = JSON.parse(line) as { url: string; port: number; rootCertPath: string; adminTokenPath: string };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    ...info,
    adminToken: readFileSync(info.adminTokenPath, 'utf8').trim(),
    ca: readFileSync(info.rootCertPath, 'utf8'),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
      await exited;
    },
  };
}

/** One call to the control API over HTTPS, trusting its CA. */
export function api(c: { url: string; ca: string }, token: string, method: string, path: string, body?: string, type = 'application/json'): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, c.url);
    const req = https.request(u, { method, ca: c.ca, agent: false, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': type } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function applyYaml(c: ControlProcess, yaml: string): Promise<any> {
  const r = await api(c, c.adminToken, 'POST', '/v1/resources:apply', yaml, 'application/yaml');
  if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function joinToken(c: ControlProcess, namespace: string, serviceAccount: string): Promise<string> {
  const r = await api(c, c.adminToken, 'POST', '/v1/tokens', JSON.stringify({ namespace, serviceAccount }));
  if (r.status !== 201) throw new Error(`token create failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token as string;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
