// The gRPC example pair (issue #8): a control service, two Greeter servers (v1, v2) and a client,
// each in its own process, joined to the mesh from their environment. The Istio YAML applied
// below routes `x-tier: beta` calls to v2 and the rest to v1, requires mTLS (STRICT) and
// allows only the client's service account to call SayHello; Shout is denied.
// Run: node examples/grpc-pair/index.mjs (after the README's set-up). Exit 0 when all of it held.
import { mkdtempSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processGroup } from '../processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cli = resolve(here, '../../packages/cli/dist/bin.js');
const dir = mkdtempSync(join(tmpdir(), 'meshwork-grpc-pair-'));

const { start, stopAll } = processGroup(dir);

let ok = false;
try {
  const control = await start([cli, 'control', '--data-dir', join(dir, 'control'), '--port', '0', '--json']);
  const ca = readFileSync(control.rootCertPath, 'utf8');
  const adminToken = readFileSync(control.adminTokenPath, 'utf8').trim();
  const api = (method, path, body, type = 'application/yaml') => new Promise((okay, fail) => {
    const req = https.request(new URL(path, control.url), { method, ca, agent: false, headers: { authorization: `Bearer ${adminToken}`, 'content-type': type } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode < 300 ? okay(JSON.parse(text)) : fail(new Error(`${method} ${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', fail);
    req.end(body);
  });

  await api('POST', '/v1/resources:apply?file=greeter.yaml', `apiVersion: v1
kind: Service
metadata: {name: greeter, namespace: default}
spec:
  selector: {app: greeter}
  ports: [{name: grpc, port: 50051}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: greeter-v1, namespace: default}
spec: {metadata: {labels: {app: greeter, version: v1}}, template: {serviceAccount: greeter}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: greeter-v2, namespace: default}
spec: {metadata: {labels: {app: greeter, version: v2}}, template: {serviceAccount: greeter}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: greeter-client, namespace: default}
spec: {metadata: {labels: {app: greeter-client}}, template: {serviceAccount: greeter-client}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: default}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: greeter, namespace: default}
spec:
  selector: {matchLabels: {app: greeter}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/default/sa/greeter-client]}}]
    to: [{operation: {paths: [/demo.Greeter/SayHello]}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: greeter, namespace: default}
spec:
  host: greeter
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: greeter, namespace: default}
spec:
  hosts: [greeter]
  http:
  - match: [{headers: {x-tier: {exact: beta}}}]
    route: [{destination: {host: greeter, subset: v2}}]
  - route: [{destination: {host: greeter, subset: v1}}]
    retries: {attempts: 2, retryOn: unavailable}
`);
  const token = async (sa) => (await api('POST', '/v1/tokens', JSON.stringify({ namespace: 'default', serviceAccount: sa, ttlSeconds: 3600 }), 'application/json')).token;
  const env = async (group, sa) => ({
    MESHWORK_CONTROL_URL: control.url, MESHWORK_CONTROL_CA: control.rootCertPath, MESHWORK_TOKEN: await token(sa),
    MESHWORK_NAMESPACE: 'default', MESHWORK_SERVICE: group, MESHWORK_CACHE_DIR: join(dir, 'cache', group),
  });
  const servers = await Promise.all(['v1', 'v2'].map(async (v) => start([join(here, 'server.mjs'), v], await env(`greeter-${v}`, 'greeter'))));
  const seen = await start([join(here, 'client.mjs'), '20'], await env('greeter-client', 'greeter-client'));

  const line = (title, t) => `  ${title.padEnd(26)} ${t.calls} calls, ${t.failed} failed, answered by ${JSON.stringify(t.versions)}, caller seen as ${Object.keys(t.callers).join(', ')}`;
  console.log(`\nMeshwork gRPC pair: greeter v1 (port ${servers[0].port}), v2 (port ${servers[1].port}), one client; control service ${control.url}`);
  console.log(line('SayHello', seen.plain));
  console.log(line('SayHello, x-tier: beta', seen.beta));
  console.log(`  ${'Shout'.padEnd(26)} ${seen.shout.code === 7 ? 'PERMISSION_DENIED' : `code ${seen.shout.code}`} (${seen.shout.details})`);
  const caller = 'cluster.local/ns/default/sa/greeter-client';
  ok = seen.plain.failed === 0 && seen.beta.failed === 0 && seen.plain.versions.v1 === seen.plain.calls && seen.beta.versions.v2 === seen.beta.calls
    && seen.plain.callers[caller] === seen.plain.calls && seen.shout.code === 7 && seen.shout.details === 'RBAC: access denied';
  console.log(ok ? '\nAll of it held: routing by metadata, mTLS identity, authorization.' : '\nSomething did not hold (see above).');
  if (process.env.MESHWORK_EXAMPLE_JSON) console.log(JSON.stringify(seen));
} finally {
  await stopAll();
}
process.exit(ok ? 0 : 1);
