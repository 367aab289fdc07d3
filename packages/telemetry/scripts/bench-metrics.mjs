// Micro-benchmark of the metrics hot path (not part of the tests): recordRequest for a label
// combination already seen, against prom-client's own labels() children with the same 25 labels.
// Run after `tsc -b`: node scripts/bench-metrics.mjs
import { Counter, Histogram, Registry } from 'prom-client';
import { createMeshMetrics, ISTIO_BUCKETS, ISTIO_LABELS, localWorkload, decodePeerMetadata, encodePeerMetadata } from '../dist/index.js';

const N = Number(process.env.N ?? 2_000_000);
const local = localWorkload({ namespace: 'default', labels: { app: 'productpage', version: 'v1' }, name: 'productpage-v1', clusterId: 'Kubernetes' });
const peer = decodePeerMetadata(encodePeerMetadata(localWorkload({ namespace: 'default', labels: { app: 'reviews', version: 'v2' }, name: 'reviews-v2', clusterId: 'Kubernetes' })));
const service = { host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' };
const codes = [200, 200, 200, 503];
const flags = [[], [], [], ['UO']];

function bench(name, fn) {
  for (let i = 0; i < 200_000; i++) fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/op`);
}

const m = createMeshMetrics({ local });
const event = { reporter: 'source', peer, peerPrincipal: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', service, protocol: 'http', responseCode: 200, responseFlags: [], durationMs: 12.3, requestBytes: 320, responseBytes: 2048 };
bench('meshwork recordRequest (count + 3 histograms)', (i) => {
  event.responseCode = codes[i & 3];
  event.responseFlags = flags[i & 3];
  event.durationMs = i % 700;
  m.recordRequest(event);
});

const reg = new Registry();
const c = new Counter({ name: 'c_total', help: 'h', labelNames: [...ISTIO_LABELS], registers: [reg] });
const hs = ['d', 'q', 's'].map((n) => new Histogram({ name: n, help: 'h', labelNames: [...ISTIO_LABELS], buckets: [...ISTIO_BUCKETS], registers: [reg] }));
const labels = Object.fromEntries(ISTIO_LABELS.map((l) => [l, `${l}-value`]));
const cc = c.labels(labels);
const hc = hs.map((h) => h.labels(labels));
bench('prom-client labels() children, same 25 labels (baseline)', (i) => {
  cc.inc();
  hc[0].observe(i % 700);
  hc[1].observe(320);
  hc[2].observe(2048);
});
