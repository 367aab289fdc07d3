// The live demo (the README's first command): a control service and Istio's Bookinfo in
// seven Node processes, configured by Istio's own Bookinfo YAML, applied one file at a time.
//
//   productpage (Express) ─┬─> details (Fastify)
//                          └─> reviews v1 | v2 | v3 (node:http) ──> ratings (node:http)
//
// Every process joins the mesh from its environment (control URL, join token, CA), gets a
// certificate for its service account, and talks mTLS to the others (PeerAuthentication
// STRICT). This process is a meshed client too: it calls productpage 100 times per step,
// half the calls as the user "jason", and shows which reviews version answered and whether
// ratings worked.
//
//   node examples/bookinfo-demo/index.mjs [--keep] [--requests N]
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processGroup } from '../processes.mjs';
import { parseAllDocuments } from 'yaml';
import { request } from 'undici';
import { createMeshDispatcher } from '@meshwork/fetch';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const perStep = Number(args[args.indexOf('--requests') + 1]) || 100;
const samples = process.env.MESHWORK_ISTIO_SAMPLES ?? resolve(here, '../../../shared/conformance/istio/samples/bookinfo');
const cli = resolve(here, '../../packages/cli/dist/bin.js');
const tty = process.stdout.isTTY === true;
const out = (s) => process.stdout.write(s);
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);

const dir = mkdtempSync(join(tmpdir(), 'meshwork-demo-'));

const { start, stopAll } = processGroup(dir);

// ---- 1. the control service -------------------------------------------------------------
const t0 = Date.now();
const control = await start([cli, 'control', '--data-dir', join(dir, 'control'), '--port', '0', '--json']);
const ca = readFileSync(control.rootCertPath, 'utf8');
const adminToken = readFileSync(control.adminTokenPath, 'utf8').trim();

function api(method, path, body, type = 'application/json', token = adminToken) {
  return new Promise((ok, fail) => {
    const req = https.request(new URL(path, control.url), { method, ca, agent: false, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': type } : {}) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode < 300 ? ok(JSON.parse(text)) : fail(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', fail);
    req.end(body);
  });
}

// ---- 2. the platform: Bookinfo's Services as they are, its Deployments as WorkloadGroups ---
// Kubernetes would run pods; here each Deployment becomes the WorkloadGroup its processes
// register against (same labels, same service account), as VMs join Istio.
const platform = [];
for (const d of parseAllDocuments(readFileSync(join(samples, 'platform/kube/bookinfo.yaml'), 'utf8')).map((x) => x.toJS())) {
  if (d?.kind === 'Service') platform.push(d);
  if (d?.kind === 'Deployment') {
    platform.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'WorkloadGroup',
      metadata: { name: d.metadata.name, namespace: 'default' },
      spec: { metadata: { labels: d.spec.template.metadata.labels }, template: { serviceAccount: d.spec.template.spec.serviceAccountName } },
    });
  }
}
platform.push(
  { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'demo-client', namespace: 'default' }, spec: { metadata: { labels: { app: 'demo-client' } }, template: { serviceAccount: 'demo-client' } } },
  { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'default' }, spec: { mtls: { mode: 'STRICT' } } },
);
await api('POST', '/v1/resources:apply?file=platform', JSON.stringify(platform));

// ---- 3. the workloads, each with a join token for its own service account -----------------
const roles = [
  ['productpage', 'productpage-v1', 'bookinfo-productpage', 'Express'],
  ['details', 'details-v1', 'bookinfo-details', 'Fastify'],
  ['reviews-v1', 'reviews-v1', 'bookinfo-reviews', 'node:http'],
  ['reviews-v2', 'reviews-v2', 'bookinfo-reviews', 'node:http'],
  ['reviews-v3', 'reviews-v3', 'bookinfo-reviews', 'node:http'],
  ['ratings', 'ratings-v1', 'bookinfo-ratings', 'node:http'],
];
const tokens = {};
for (const sa of [...new Set(roles.map((r) => r[2])), 'demo-client']) tokens[sa] = (await api('POST', '/v1/tokens', JSON.stringify({ namespace: 'default', serviceAccount: sa, ttlSeconds: 3600 }))).token;
await Promise.all(roles.map(([role, group, sa]) => start([join(here, 'service.mjs'), role], {
  MESHWORK_CONTROL_URL: control.url,
  MESHWORK_TOKEN: tokens[sa],
  MESHWORK_CONTROL_CA: control.rootCertPath,
  MESHWORK_NAMESPACE: 'default',
  MESHWORK_SERVICE: group,
  MESHWORK_CACHE_DIR: join(dir, 'cache', role),
})));
const client = createMeshDispatcher({
  controlUrl: control.url,
  token: tokens['demo-client'],
  controlCa: ca,
  workload: { namespace: 'default', name: 'demo-client' },
  onControlError: (m) => process.stderr.write(`demo-client: ${m}\n`),
});
await client.mesh.ready();

out(`\n${bold('Meshwork live demo')}: Bookinfo in 7 Node processes, configured by a control service over HTTPS\n`);
out(`  control service  ${control.url}  (meshwork control, started in ${Date.now() - t0} ms with the workloads)\n`);
out(`  workloads        ${roles.map(([r, , , fw]) => `${r} (${fw})`).join(', ')}, and this demo client\n`);
out(`  identity         each gets a certificate for its service account (spiffe://cluster.local/ns/default/sa/...); PeerAuthentication STRICT\n`);
out(`  traffic          ${perStep} calls to http://productpage:9080/productpage per step, every other one as end-user "jason"\n\n`);

// ---- 4. the steps: Istio's own Bookinfo files, applied one after another ------------------
const steps = [
  ['no routing rules yet (round robin, auto mTLS)', null],
  ['subsets, ISTIO_MUTUAL', 'destination-rule-all-mtls.yaml'],
  ['every service to v1', 'virtual-service-all-v1.yaml'],
  ['reviews: 80 % v1, 20 % v2', 'virtual-service-reviews-80-20.yaml'],
  ['reviews: jason to v2, others v1', 'virtual-service-reviews-test-v2.yaml'],
  ['ratings: HTTP 500 for jason (fault)', 'virtual-service-ratings-test-abort.yaml'],
];

// Columns: the label part of a row is 59 characters wide, then two groups of three shares.
out(`${bold(`${'  step'.padEnd(8)}${'applied'.padEnd(41)}${'pushed'.padStart(7)}   ${'anonymous'.padEnd(18)}${'jason'.padEnd(18)}${'ratings'.padEnd(17)}failed`)}\n`);
out(`${bold(`${' '.repeat(59)}${'  v1   v2   v3'.padEnd(18)}${'  v1   v2   v3'.padEnd(18)}`)}\n`);

const results = [];
const pct = (n, of) => (of === 0 ? '   -' : `${String(Math.round((100 * n) / of)).padStart(3)}%`);

async function status() {
  return (await api('GET', '/v1/status')).items;
}

for (const [i, [what, file]] of steps.entries()) {
  let pushMs = 0;
  if (file) {
    const t = Date.now();
    await api('POST', `/v1/resources:apply?file=${file}`, readFileSync(join(samples, 'networking', file), 'utf8'), 'application/yaml');
    // Wait until every workload acknowledged the new version (what `meshwork status` shows).
    for (;;) {
      const items = await status();
      if (items.length >= roles.length + 1 && items.every((s) => s.state === 'SYNCED')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    pushMs = Date.now() - t;
  }
  const tally = { anonymous: { v1: 0, v2: 0, v3: 0, n: 0 }, jason: { v1: 0, v2: 0, v3: 0, n: 0 }, ratingsOk: 0, ratingsErr: 0, failed: 0, done: 0 };
  const label = `  ${String(i).padStart(2)}    ${(file ?? '(none)').padEnd(40)} ${file ? `${String(pushMs).padStart(4)} ms` : '      -'}   `; // 59 wide
  const render = () => {
    const a = tally.anonymous;
    const j = tally.jason;
    return `${label}${`${pct(a.v1, a.n)} ${pct(a.v2, a.n)} ${pct(a.v3, a.n)}`.padEnd(18)}${`${pct(j.v1, j.n)} ${pct(j.v2, j.n)} ${pct(j.v3, j.n)}`.padEnd(18)}${`${tally.ratingsOk} ok ${tally.ratingsErr} err`.padEnd(17)}${String(tally.failed).padStart(6)}`;
  };
  let next = 0;
  const worker = async () => {
    while (next < perStep) {
      const n = next++;
      const user = n % 2 === 1 ? 'jason' : 'anonymous';
      try {
        const r = await request(`http://productpage:9080/productpage${user === 'jason' ? '?u=jason' : ''}`, { dispatcher: client });
        const body = await r.body.json();
        const v = body?.reviews?.version;
        if (r.statusCode !== 200 || !v || body.details?.error) tally.failed++;
        else {
          tally[user][v]++;
          tally[user].n++;
          if (body.reviews.ratings) body.reviews.ratings.error ? tally.ratingsErr++ : tally.ratingsOk++;
        }
      } catch {
        tally.failed++;
      }
      tally.done++;
      if (tty) out(`\r${render()}  ${dim(`${'#'.repeat(Math.round((20 * tally.done) / perStep)).padEnd(20, '.')}`)}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  out(`${tty ? '\r' : ''}${render()}${tty ? ' '.repeat(24) : ''}\n`);
  out(dim(`        ${what}\n`));
  results.push({ step: i, file, what, pushMs, ...tally });
}

const failed = results.reduce((s, r) => s + r.failed, 0);
out(`\n${bold(`${results.length} steps, ${results.length * perStep} requests, ${failed} failed.`)} Every config change reached all ${roles.length + 1} workloads before its step ran (\`pushed\`: apply → every workload ACKed).\n`);
if (process.env.MESHWORK_DEMO_JSON) out(`${JSON.stringify({ results })}\n`);

if (keep) {
  out(`\nStill running (--keep). Try:\n`);
  out(`  export MESHWORK_CONTROL_URL=${control.url} MESHWORK_CONTROL_CA=${control.rootCertPath} MESHWORK_ADMIN_TOKEN=$(cat ${control.adminTokenPath})\n`);
  out(`  pnpm exec meshwork status\n  pnpm exec meshwork get virtualservices\n  pnpm exec meshwork apply -f ${join(samples, 'networking/virtual-service-reviews-50-v3.yaml')}\n`);
  out(`Ctrl-C stops every process.\n`);
  await new Promise((r) => { process.once('SIGINT', r); process.once('SIGTERM', r); });
}
await client.close();
await client.mesh.close();
await stopAll();
process.exit(failed === 0 ? 0 : 1);
