// One measured client of the gRPC benchmark (grpc.mjs starts a fresh process per row): a bare
// grpc-js channel to the upstream, or the same through @meshwork/grpc (a Mesh with the
// upstream as a service, a VirtualService route with Istio's default retries, LEAST_REQUEST,
// outlier detection; telemetry as configured), or the bare channel sending on every call the
// metadata the meshed row sends (`bare-headers`: what Istio's headers cost in grpc-js and Node's
// HTTP/2 alone, with no mesh code). Closed loop at each concurrency; prints JSON.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { service } from './grpc-common.mjs';

const cfg = JSON.parse(process.argv[2]);
const Client = grpc.makeGenericClientConstructor(service, 'Echo');

/** For `bare-headers`: a fresh copy of the mesh's metadata for each call (the request id new each time, as the mesh makes it). */
let callMetadata;

async function makeClient() {
  if (cfg.path === 'bare') return new Client(`127.0.0.1:${cfg.port}`, grpc.credentials.createInsecure());
  if (cfg.path === 'bare-headers') {
    // The values the meshed row sends: its Mesh's own exchange headers (same workload, same config).
    const mesh = makeMesh('mesh');
    const t = mesh.telemetry;
    const template = new grpc.Metadata();
    template.set('x-envoy-peer-metadata-id', t.peerMetadataId);
    template.set('x-envoy-peer-metadata', t.peerMetadata);
    template.set('x-envoy-attempt-count', '1');
    await mesh.close();
    callMetadata = () => {
      const md = template.clone();
      md.set('x-request-id', randomUUID());
      return md;
    };
    return new Client(`127.0.0.1:${cfg.port}`, grpc.credentials.createInsecure());
  }
  const mesh = makeMesh(cfg.path);
  const { createMeshClient } = await import('@meshwork/grpc');
  return createMeshClient(Client, 'echo.default:9090', { mesh });
}

/** The meshed rows' Mesh: the upstream as a service, a route with Istio's default retries, LEAST_REQUEST, outlier detection. */
function makeMesh(path) {
  return new Mesh({
    workload: { namespace: 'default', labels: { app: 'bench' } },
    telemetry: path === 'mesh' ? undefined : false,
    meshConfig: { extensionProviders: [{ name: 'prometheus', prometheus: {} }], defaultProviders: { metrics: ['prometheus'] } },
    configYaml: `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec: {selector: {app: echo}, ports: [{name: grpc, port: 9090}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1, namespace: default}
spec: {address: 127.0.0.1, ports: {grpc: ${cfg.port}}, labels: {app: echo, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{uri: {prefix: /bench.Echo/}}]
    route: [{destination: {host: echo, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}, outlierDetection: {}}
  subsets: [{name: v1, labels: {version: v1}}]
`,
  });
}

/** The upstream's CPU time in ns: the sum of its threads' schedstat run times (0 where /proc has none). */
function serverCpuNs() {
  if (!cfg.serverPid) return 0;
  try {
    let sum = 0;
    for (const t of readdirSync(`/proc/${cfg.serverPid}/task`)) sum += Number(readFileSync(`/proc/${cfg.serverPid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return sum;
  } catch {
    return 0;
  }
}

const BUCKETS = 50_000;
const hist = new Uint32Array(BUCKETS);
function p50(n) {
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += hist[i];
    if (seen >= Math.ceil(n / 2)) return i + 0.5;
  }
  return NaN;
}

async function load(client, concurrency, ms, record) {
  hist.fill(0);
  const payload = Buffer.from('0123456789abcdef0123456789abcdef');
  let n = 0;
  let errors = 0;
  let firstError;
  const end = performance.now() + ms;
  const cpu0 = process.cpuUsage();
  const server0 = serverCpuNs();
  const t0 = performance.now();
  const call = callMetadata
    ? () => new Promise((resolve) => client.echo(payload, callMetadata(), (err) => resolve(err)))
    : () => new Promise((resolve) => client.echo(payload, (err) => resolve(err)));
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      const err = await call();
      if (err) { errors++; firstError ??= `${err.code} ${err.details}`; }
      n++;
      if (record) {
        const us = (performance.now() - s) * 1000;
        if (us < BUCKETS) hist[Math.floor(us)]++;
      }
    }
  }));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const serverNs = serverCpuNs() - server0;
  return { n, errors, firstError, rps: (n * 1000) / elapsed, cpuUs: (cpu.user + cpu.system) / n, serverCpuUs: serverNs > 0 ? serverNs / 1000 / n : NaN, p50: record ? p50(n) : undefined };
}

const { Mesh } = cfg.path === 'bare' ? {} : await import('@meshwork/core');
const client = await makeClient();
await load(client, 32, cfg.warmupMs, false);
const out = { status: 'ok', results: {} };
for (const c of [1, 32]) {
  await load(client, c, cfg.warmupMs / 4, false);
  out.results[c] = await load(client, c, cfg.measureMs, true);
  if (out.results[c].errors) { out.status = 'failed'; out.error = out.results[c].firstError; }
}
client.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
