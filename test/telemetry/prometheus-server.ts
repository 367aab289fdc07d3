/**
 * A real Prometheus for a test: the binary `scripts/ensure-prometheus.sh` installs (Debian's
 * package), started on a free 127.0.0.1 port with a config and a TSDB directory of its own in a
 * temp dir, and gone afterwards — process and directory. Queried through its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface ScrapeTarget {
  /** Port of the metrics endpoint on 127.0.0.1. */
  port: number;
  /** Target labels, as Kubernetes service discovery would attach them (namespace, pod, app...). */
  labels: Record<string, string>;
}

export interface PrometheusOptions {
  targets: readonly ScrapeTarget[];
  /** Scrape and rule-evaluation interval in seconds (default 1). */
  intervalSeconds?: number;
  /** Path scraped on every target (default Istio's merged-metrics path). */
  metricsPath?: string;
}

export interface Sample {
  metric: Record<string, string>;
  /** Seconds since the epoch, and the value as Prometheus writes it (`NaN`, `+Inf` included). */
  value: [number, string];
}

export interface Prometheus {
  readonly url: string;
  readonly version: string;
  readonly intervalSeconds: number;
  /** `/api/v1/query` at `time` (seconds since the epoch; default now). A scalar comes back as one sample. */
  query(expr: string, time?: number): Promise<Sample[]>;
  /** Polls until every target has been scraped successfully at or after `afterSeconds`. */
  waitForScrapes(afterSeconds: number, timeoutMs?: number): Promise<void>;
  /** Polls `expr` until `done(result)`; returns the last result. */
  poll(expr: string, done: (r: Sample[]) => boolean, timeoutMs?: number): Promise<Sample[]>;
  /** Stops the process and removes its directory; throws if either is left behind. */
  stop(): Promise<void>;
}

export const SCRAPE_JOB = 'kubernetes-pods';

/** The binary: $MESHWORK_PROMETHEUS, Debian's /usr/bin/prometheus, or `prometheus` on PATH. */
export function findPrometheus(): string | undefined {
  const candidates = [process.env.MESHWORK_PROMETHEUS, '/usr/bin/prometheus', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'prometheus'))];
  for (const c of candidates) {
    if (!c || !existsSync(c)) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* not executable: next */
    }
  }
  return undefined;
}

/**
 * The scrape config. Mirrors the `kubernetes-pods` job of Istio's sample Prometheus
 * (samples/addons/prometheus.yaml), which scrapes the sidecars' merged `/stats/prometheus`
 * endpoint with `honor_labels: true` so that labels in the merged output win over target labels.
 */
function configYaml(o: Required<Pick<PrometheusOptions, 'intervalSeconds' | 'metricsPath'>> & { targets: readonly ScrapeTarget[] }): string {
  const s = `${o.intervalSeconds}s`;
  const targets = o.targets
    .map((t) => `      - targets: ['127.0.0.1:${t.port}']\n        labels: {${Object.entries(t.labels).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`)
    .join('\n');
  return `global:
  scrape_interval: ${s}
  scrape_timeout: ${s}
  evaluation_interval: ${s}
scrape_configs:
  - job_name: ${SCRAPE_JOB}
    honor_labels: true
    metrics_path: ${o.metricsPath}
    static_configs:
${targets}
`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const bin = findPrometheus();
  if (!bin) throw new Error('no prometheus binary: run `bash scripts/ensure-prometheus.sh` (Debian/Ubuntu), or set MESHWORK_PROMETHEUS to a Prometheus 2.x binary');
  const intervalSeconds = options.intervalSeconds ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'meshwork-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, configYaml({ targets: options.targets, intervalSeconds, metricsPath: options.metricsPath ?? '/stats/prometheus' }));

  let child: ChildProcess | undefined;
  let log = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);
  const cleanup = async () => {
    if (child && !exited(child)) {
      const gone = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child?.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };

  let url = '';
  // A port found free can be taken before Prometheus binds it: try again with another.
  try {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      log = '';
      child = spawn(bin, [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (c: string) => {
        log = (log + c).slice(-8000);
      });
      const deadline = Date.now() + 30_000;
      let ready = false;
      while (!ready && !exited(child) && Date.now() < deadline) {
        try {
          ready = (await fetch(`${url}/-/ready`)).status === 200;
        } catch {
          /* not listening yet */
        }
        if (!ready) await sleep(100);
      }
      if (ready) break;
      if (exited(child) && /address already in use/.test(log) && attempt < 3) continue;
      throw new Error(`prometheus did not become ready (${exited(child) ? `exited ${child.exitCode ?? child.signalCode}` : 'timeout'}):\n${log}`);
    }
  } catch (e) {
    await cleanup();
    throw e;
  }

  const versionInfo = (await (await fetch(`${url}/api/v1/status/buildinfo`)).json()) as { data?: { version?: string } };

  async function query(expr: string, time?: number): Promise<Sample[]> {
    const body = new URLSearchParams({ query: expr });
    if (time !== undefined) body.set('time', time.toFixed(3));
    const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body });
    const json = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
    if (json.status !== 'success' || !json.data) throw new Error(`query failed (${json.error ?? res.status}): ${expr}`);
    const { resultType, result } = json.data;
    if (resultType === 'vector') return result as Sample[];
    if (resultType === 'scalar') return [{ metric: {}, value: result as [number, string] }];
    throw new Error(`unexpected ${resultType} result for ${expr}`);
  }

  async function poll(expr: string, done: (r: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await query(expr);
      if (done(r)) return r;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting on ${expr}; last result ${JSON.stringify(r)}`);
      await sleep(250);
    }
  }

  return {
    url,
    version: versionInfo.data?.version ?? 'unknown',
    intervalSeconds,
    query,
    poll,
    async waitForScrapes(afterSeconds, timeoutMs = 30_000) {
      // `up` is written on every scrape: its newest sample per target says when that was.
      await poll(`timestamp(up{job="${SCRAPE_JOB}"} == 1)`, (r) => r.length === options.targets.length && r.every((s) => Number(s.value[1]) >= afterSeconds), timeoutMs);
    },
    async stop() {
      const c = child;
      await cleanup();
      if (c && !exited(c)) throw new Error(`prometheus (pid ${c.pid}) still running`);
      if (existsSync(dir)) throw new Error(`${dir} left behind`);
    },
  };
}
