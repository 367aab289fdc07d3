// Live demo: Bookinfo's traffic rules, applied verbatim, steering real requests in-process.
// Three node:http servers stand in for reviews v1, v2 and v3; Node's own fetch() goes
// through the mesh. Run: node examples/bookinfo-live.mjs (after the README's set-up).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installMesh } from '@meshwork/fetch';

const samples = process.env.MESHWORK_ISTIO_SAMPLES ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/conformance/istio/samples/bookinfo');
const read = (f) => readFileSync(join(samples, f), 'utf8');

const servers = {};
for (const version of ['v1', 'v2', 'v3']) {
  const server = createServer((req, res) => res.end(`reviews-${version}`));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  servers[version] = server;
}
// The endpoints of reviews: what Kubernetes would learn from pods, written as WorkloadEntries.
const endpoints = Object.entries(servers).map(([v, s]) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-${v}, namespace: default}
spec: {address: 127.0.0.1, ports: {http: ${s.address().port}}, labels: {app: reviews, version: ${v}}}
`).join('---\n');

async function scenario(title, rules, headers = {}, n = 200) {
  const mesh = installMesh({
    workload: { namespace: 'default', labels: { app: 'productpage', version: 'v1' } },
    configYaml: [read('platform/kube/bookinfo.yaml'), read('networking/destination-rule-all.yaml'), read(`networking/${rules}`), endpoints].join('\n---\n'),
  });
  const counts = {};
  for (let i = 0; i < n; i++) {
    const body = await (await fetch('http://reviews:9080/reviews/0', { headers })).text();
    counts[body] = (counts[body] ?? 0) + 1;
  }
  await mesh.close();
  const dist = Object.entries(counts).sort().map(([k, v]) => `${k} ${Math.round((100 * v) / n)}%`).join(', ');
  console.log(`${title.padEnd(52)} ${rules.padEnd(40)} ${dist}`);
  return counts;
}

console.log(`\n=== Live: ${'Bookinfo rules steering real fetch() calls in this process'} ===`);
await scenario('every request to v1', 'virtual-service-all-v1.yaml');
await scenario('end-user jason -> v2', 'virtual-service-reviews-test-v2.yaml', { 'end-user': 'jason' });
await scenario('everyone else -> v1', 'virtual-service-reviews-test-v2.yaml');
await scenario('traffic shifting 80/20 (200 requests)', 'virtual-service-reviews-80-20.yaml');
await scenario('traffic shifting 50/50 (200 requests)', 'virtual-service-reviews-50-v3.yaml');
for (const s of Object.values(servers)) s.close();
