/**
 * The control commands against a real control service (in-memory store, plain http on
 * 127.0.0.1, port 0), run through `main` with a capturing io; the Istio corpus read in place.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlTlsOptions, createControlServer, openControlCa, openSqliteStore, startControlService, type ControlStore } from '@meshwork/control';
import { loadText } from '@meshwork/policy';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';
import { ControlClient, resolveConnection } from '../src/client.js';
import { renderResourceTable } from '../src/get.js';
import { resolveKind } from '../src/kinds.js';
import { buildBatch, readManifests } from '../src/manifests.js';
import { renderStatus, type StatusReply } from '../src/status.js';
import { toYaml } from '../src/yaml-out.js';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(here, '../../../../shared/conformance/istio');
const net = (f: string) => join(corpus, 'samples/bookinfo/networking', f);
const KUBE = join(corpus, 'samples/bookinfo/platform/kube/bookinfo.yaml');
const DR_ALL = net('destination-rule-all.yaml');
const VS_ALL_V1 = net('virtual-service-all-v1.yaml');

const ADMIN = 'cli-test-admin-token-0123456789';
const tmp = mkdtempSync(join(tmpdir(), 'meshwork-cli-control-'));
const dataDir = join(tmp, 'data');
mkdirSync(dataDir);
writeFileSync(join(dataDir, 'admin-token'), `${ADMIN}\n`);

function fixture(name: string, text: string): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

// The Services of bookinfo.yaml (its Deployments and ServiceAccounts are not the control service's business).
const SERVICES = fixture('services.yaml', readFileSync(KUBE, 'utf8').split(/^---\n/m).filter((d) => /^kind: Service$/m.test(d)).join('---\n'));

let store: ControlStore;
let server: Server;
let url: string;
let conn: string[];

async function listen(s: Server | NetServer): Promise<number> {
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  store = await openSqliteStore({ dataDir: ':memory:' });
  server = createControlServer({ store, adminToken: ADMIN });
  url = `http://127.0.0.1:${await listen(server)}`;
  conn = ['--control-url', url, '--data-dir', dataDir];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((ok) => server.close(() => ok()));
  await store.close();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => {
  // The connection comes from the flags, never from the machine running the tests.
  vi.stubEnv('MESHWORK_CONTROL_URL', '');
  vi.stubEnv('MESHWORK_ADMIN_TOKEN', '');
  vi.stubEnv('MESHWORK_CONTROL_CA', '');
  return () => vi.unstubAllEnvs();
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const lines = (s: string) => s.trim().split('\n');

describe('meshwork apply', () => {
  it('Bookinfo\'s platform file: the Deployments are refused at their own lines, nothing applied', async () => {
    const r = await run('apply', '-f', KUBE, ...conn);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${KUBE}:46:1: error: ServiceAccount/default/bookinfo-details: v1 ServiceAccount is not a kind the control service keeps`);
    expect(r.err).toContain(`${KUBE}:299:1: error: Deployment/default/productpage-v1: apps/v1 Deployment is not a kind the control service keeps`);
    expect((await run('get', 'svc', ...conn)).err).toBe('No resources found in default namespace.\n');
  });

  it('applies the Bookinfo files in one batch: created, then unchanged, then configured', async () => {
    const first = await run('apply', '-f', SERVICES, '-f', DR_ALL, '-f', VS_ALL_V1, ...conn);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(lines(first.out)).toEqual([
      'service/details created',
      'service/ratings created',
      'service/reviews created',
      'service/productpage created',
      'destinationrule.networking.istio.io/productpage created',
      'destinationrule.networking.istio.io/reviews created',
      'destinationrule.networking.istio.io/ratings created',
      'destinationrule.networking.istio.io/details created',
      'virtualservice.networking.istio.io/productpage created',
      'virtualservice.networking.istio.io/reviews created',
      'virtualservice.networking.istio.io/ratings created',
      'virtualservice.networking.istio.io/details created',
    ]);

    const again = await run('apply', '-f', SERVICES, '-f', DR_ALL, '-f', VS_ALL_V1, ...conn);
    expect(again.code).toBe(0);
    expect(lines(again.out).every((l) => l.endsWith(' unchanged'))).toBe(true);
    expect(lines(again.out)).toHaveLength(12);

    const shift = await run('apply', '-f', net('virtual-service-reviews-50-v3.yaml'), ...conn, '--json');
    expect(shift.code).toBe(0);
    const j = JSON.parse(shift.out);
    expect(j).toEqual({
      revision: expect.any(Number),
      results: [{ kind: 'VirtualService', namespace: 'default', name: 'reviews', status: 'configured', resourceVersion: String(j.revision), generation: 2, file: net('virtual-service-reviews-50-v3.yaml'), line: 1 }],
      warnings: [],
    });
    // Back to all-v1 for the tests below.
    expect((await run('apply', '-f', VS_ALL_V1, ...conn)).out).toMatch(/virtualservice\.networking\.istio\.io\/reviews configured/);
  });

  it('an invalid document: exit 2, the diagnostic at its own file and line, nothing applied', async () => {
    const good = fixture('good.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: good}\nspec: {hosts: [good], http: [{route: [{destination: {host: good}}]}]}\n');
    const bad = fixture('bad.yaml', '# a comment\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad}\nspec:\n  hosts: [bad]\n  http:\n  - route: [{destination: {host: bad}, weight: -1}]\n');
    const r = await run('apply', '-f', good, '-f', bad, ...conn);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:9:\\d+: error: VirtualService/default/bad: spec\\.http\\[0\\]\\.route\\[0\\]\\.weight`, 'm'));
    expect(r.err).toMatch(/meshwork: 1 error in the batch; nothing was applied \(HTTP 400 invalid\)/);
    expect((await run('get', 'vs', 'good', ...conn)).code).toBe(3);

    const j = JSON.parse((await run('apply', '-f', good, '-f', bad, ...conn, '--json')).out);
    expect(j.error).toMatchObject({ status: 400, code: 'invalid' });
    expect(j.diagnostics).toEqual([expect.objectContaining({ severity: 'error', file: bad, line: 9, resource: 'VirtualService/default/bad' })]);
  });

  it('the same object in two files: both places named, in each file\'s own lines', async () => {
    const shift = net('virtual-service-reviews-50-v3.yaml');
    const r = await run('apply', '-f', VS_ALL_V1, '-f', shift, ...conn);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${shift}:1:1: error: VirtualService/default/reviews: VirtualService/default/reviews is defined again (first at ${VS_ALL_V1}:14)`);
  });

  it('refusals show the API\'s message, exit 3: a stale resourceVersion (409), a batch over the body limit (413)', async () => {
    const stale = fixture('stale.yaml', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, resourceVersion: "0"}\nspec: {host: reviews}\n');
    const conflict = await run('apply', '-f', stale, ...conn);
    expect(conflict.code).toBe(3);
    expect(conflict.err).toMatch(/^meshwork: DestinationRule\/default\/reviews has resourceVersion \d+, not 0; nothing was changed \(HTTP 409 conflict\)\n$/);

    const small = createControlServer({ store, adminToken: ADMIN, maxBodyBytes: 1000 });
    const port = await listen(small);
    try {
      const big = await run('apply', '-f', DR_ALL, '-f', VS_ALL_V1, '--control-url', `http://127.0.0.1:${port}`, '--data-dir', dataDir, '--json');
      expect(big.code).toBe(3);
      expect(big.err).toBe('meshwork: request body exceeds the limit of 1000 bytes (HTTP 413 too_large)\n');
      expect(JSON.parse(big.out).error).toMatchObject({ status: 413, code: 'too_large' });
    } finally {
      small.closeAllConnections();
      await new Promise<void>((ok) => small.close(() => ok()));
    }
  });

  it('a file that does not parse is reported from here and never sent', async () => {
    const broken = fixture('broken.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: x\n');
    const r = await run('apply', '-f', broken, '--control-url', 'http://127.0.0.1:1', '--data-dir', dataDir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/broken\.yaml:\d+:\d+: error: invalid YAML/);
    expect(r.err).toMatch(/nothing was sent/);
  });
});

describe('meshwork get', () => {
  it('a table like kubectl; -A adds NAMESPACE; -o name', async () => {
    const r = await run('get', 'vs', ...conn);
    expect(r.code).toBe(0);
    const [head, ...rows] = lines(r.out);
    // AGE when the control service records creationTimestamp.
    expect(head).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+RESOURCEVERSION(\s+AGE)?$/);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['details', 'productpage', 'ratings', 'reviews']);
    expect(rows[3]).toMatch(/^reviews\s+\["reviews"\]\s+\d+(\s+\d+s)?$/);

    const all = await run('get', 'destinationrules', '-A', ...conn);
    expect(lines(all.out)[0]).toMatch(/^NAMESPACE\s+NAME\s+HOST\s+RESOURCEVERSION(\s+AGE)?$/);
    expect(lines(all.out)[1]).toMatch(/^default\s+details\s+details\s+\d+(\s+\d+s)?$/);

    expect((await run('get', 'virtualservice.networking.istio.io', '-o', 'name', ...conn)).out).toBe(
      ['details', 'productpage', 'ratings', 'reviews'].map((n) => `virtualservice.networking.istio.io/${n}\n`).join(''),
    );
    const none = await run('get', 'se', '-n', 'nowhere', ...conn);
    expect(none).toMatchObject({ code: 0, out: '', err: 'No resources found in nowhere namespace.\n' });
  });

  it('-o json and --json: the object, or a List; -o yaml reads back as the same objects', async () => {
    const one = await run('get', 'vs', 'reviews', '-o', 'json', ...conn);
    expect(one.code).toBe(0);
    expect(JSON.parse(one.out)).toMatchObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default', resourceVersion: expect.any(String), generation: 3 } });
    const list = JSON.parse((await run('get', 'dr', '--json', ...conn)).out);
    expect(list).toMatchObject({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: expect.any(String) } });
    expect(list.items.map((o: any) => o.metadata.name)).toEqual(['details', 'productpage', 'ratings', 'reviews']);

    const yaml = await run('get', 'dr', '-o', 'yaml', ...conn);
    const back = loadText(yaml.out, 'get.yaml');
    expect(back.diagnostics).toEqual([]);
    expect(back.resources.map((r) => r.raw)).toEqual(list.items);
  });

  it('AGE from creationTimestamp, <unknown> without one', () => {
    const o = (name: string, creationTimestamp?: string) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default', resourceVersion: '7', ...(creationTimestamp ? { creationTimestamp } : {}) }, spec: { host: name } });
    expect(renderResourceTable([o('a', '2025-01-01T00:00:00Z'), o('b')], false, Date.parse('2025-01-01T03:00:00Z'))).toBe(
      'NAME   HOST   RESOURCEVERSION   AGE\na      a      7                 3h\nb      b      7                 <unknown>\n',
    );
  });

  it('usage errors: unknown kind, -n with -A, a missing object (exit 3, the service\'s message)', async () => {
    const unknown = await run('get', 'deployments', ...conn);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown kind "deployments"; known: workloads, .*virtualservices\|vs/);
    expect((await run('get', 'vs', '-A', '-n', 'x', ...conn)).code).toBe(2);
    expect((await run('get', 'vs', '-o', 'wide', ...conn)).code).toBe(2);
    const missing = await run('get', 'vs', 'nope', ...conn, '--json');
    expect(missing.code).toBe(3);
    expect(missing.err).toBe('meshwork: VirtualService/default/nope does not exist (HTTP 404 not_found)\n');
    expect(JSON.parse(missing.out)).toEqual({ error: { status: 404, code: 'not_found', message: 'VirtualService/default/nope does not exist (HTTP 404 not_found)', url } });
  });

  it('workloads: registered against a WorkloadGroup, listed with health', async () => {
    const wg = fixture('wg.yaml', 'apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: ratings-vm, namespace: vms}\nspec:\n  template:\n    serviceAccount: ratings\n    ports: {http: 9080}\n');
    expect((await run('apply', '-f', wg, ...conn)).out).toBe('workloadgroup.networking.istio.io/ratings-vm created\n');
    const reg = await fetch(`${url}/v1/workloads:register`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ group: 'vms/ratings-vm', address: '10.0.0.7' }) });
    expect(reg.status).toBe(200);
    const r = await run('get', 'workloads', '-n', 'vms', ...conn);
    expect(r.code).toBe(0);
    expect(lines(r.out)[0]).toMatch(/^NAME\s+ADDRESS\s+SERVICEACCOUNT\s+GROUP\s+HEALTHY\s+LAST HEARTBEAT$/);
    expect(lines(r.out)[1]).toMatch(/^ratings-vm-10\.0\.0\.7\s+10\.0\.0\.7\s+ratings\s+vms\/ratings-vm\s+yes\s+\d+s ago$/);
    expect(JSON.parse((await run('get', 'workload', 'ratings-vm-10.0.0.7', '-n', 'vms', '--json', ...conn)).out)).toMatchObject({ id: 'vms/ratings-vm-10.0.0.7', healthy: true });
    expect((await run('get', 'workloads', 'other', '-n', 'vms', ...conn)).code).toBe(3);
  });
});

describe('meshwork delete', () => {
  it('deletes what the files name; what is gone already is reported, not fatal', async () => {
    const extra = fixture('delete-me.yaml', 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api, namespace: shop}\nspec: {hosts: [api.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{number: 443, name: https, protocol: TLS}]}\n');
    expect((await run('apply', '-f', extra, ...conn)).code).toBe(0);
    expect(lines((await run('get', 'se', '-n', 'shop', ...conn)).out)[1]).toMatch(/^api\s+\["api\.example\.com"\]\s+MESH_EXTERNAL\s+DNS\s+\d+(\s+\d+s)?$/);
    const r = await run('delete', '-f', extra, ...conn);
    expect(r).toMatchObject({ code: 0, out: 'serviceentry.networking.istio.io "api" deleted\n', err: '' });
    const again = await run('delete', '-f', extra, ...conn, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out)).toEqual({ revision: null, results: [{ kind: 'ServiceEntry', namespace: 'shop', name: 'api', status: 'not-found', file: extra, line: 1 }] });
    expect((await run('delete', '-f', extra, ...conn)).out).toBe('serviceentry.networking.istio.io "api" not found\n');
  });
});

describe('meshwork token', () => {
  it('create prints only the token; it reads its namespace, is refused elsewhere (403), and revoke ends it', async () => {
    const created = await run('token', 'create', '--namespace', 'default', '--service-account', 'bookinfo-productpage', '--ttl', '1h', ...conn);
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^mwj_[A-Za-z0-9_-]{43}\n$/);
    const token = created.out.trim();
    expect(created.err).toMatch(/join token for namespace "default", service account "bookinfo-productpage"; expires \S+Z/);
    const hash = /meshwork token revoke ([0-9a-f]{64})/.exec(created.err)![1]!;
    expect(created.err).not.toContain(token);

    const tokenFile = fixture('join-token', `${token}\n`);
    const asJoin = ['--control-url', url, '--token-file', tokenFile];
    const own = await run('get', 'vs', '-n', 'default', ...asJoin);
    expect(own.code).toBe(0);
    expect(lines(own.out)).toHaveLength(5);

    const other = await run('get', 'vs', '-n', 'shop', ...asJoin);
    expect(other.code).toBe(3);
    expect(other.err).toBe('meshwork: a join token scoped to namespace "default", service account "bookinfo-productpage" may not read in namespace "shop" (HTTP 403 forbidden)\n');
    const write = await run('apply', '-f', VS_ALL_V1, ...asJoin);
    expect(write.code).toBe(3);
    expect(write.err).toMatch(/may not .* \(HTTP 403 forbidden\)/);
    for (const r of [own, other, write]) expect(r.out + r.err).not.toContain(token);

    const revoked = await run('token', 'revoke', hash, ...conn);
    expect(revoked).toMatchObject({ code: 0, out: `join token ${hash} revoked\n` });
    const after = await run('get', 'vs', '-n', 'default', ...asJoin);
    expect(after.code).toBe(3);
    expect(after.err).toBe('meshwork: the bearer token is not valid (HTTP 401 unauthenticated)\n');
    const twice = await run('token', 'revoke', hash, ...conn, '--json');
    expect(twice.code).toBe(3);
    expect(JSON.parse(twice.out).error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('--json shapes; revoke by the token itself hashes it here', async () => {
    const created = JSON.parse((await run('token', 'create', '-n', 'shop', '--service-account', 'reviews', '--json', ...conn)).out);
    expect(created).toEqual({ token: expect.stringMatching(/^mwj_/), hash: expect.stringMatching(/^[0-9a-f]{64}$/), namespace: 'shop', serviceAccount: 'reviews', expiresAt: expect.any(String) });
    const r = await run('token', 'revoke', created.token, '--json', ...conn);
    expect(JSON.parse(r.out)).toEqual({ hash: created.hash, status: 'revoked' });
    expect((await run('token', 'create', '-n', 'shop', ...conn)).code).toBe(2);
    expect((await run('token', 'create', '-n', 'shop', '--service-account', 'x', '--ttl', '10', ...conn)).code).toBe(2);
    expect((await run('token', 'revoke', 'not-a-hash', ...conn)).code).toBe(2);
  });
});

describe('analyze and explain --control', () => {
  it('analyze reads the live resources: same findings as the files, without positions', async () => {
    const clean = await run('analyze', '--control', ...conn);
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(new RegExp(`\\d+ document\\(s\\) from ${url.replace(/\./g, '\\.')} \\(revision \\d+\\), \\d+ accepted: 0 error\\(s\\), 0 warning\\(s\\)`));

    const missing = fixture('missing-subset.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: details-v9}\nspec:\n  hosts: [details]\n  http: [{route: [{destination: {host: details, subset: v9}}]}]\n');
    expect((await run('apply', '-f', missing, ...conn)).code).toBe(0);
    const found = await run('analyze', '--control', ...conn, '--json');
    expect(found.code).toBe(1);
    const j = JSON.parse(found.out);
    expect(j).toMatchObject({ exitCode: 1, files: 0, control: url, revision: expect.any(Number), counts: { error: 0 } });
    const w = j.diagnostics.find((d: any) => d.code === 'IST0101');
    expect(w).toMatchObject({ severity: 'warning', file: url, resource: 'VirtualService/default/details-v9' });
    expect(w.line).toBeUndefined();
    expect((await run('analyze', '--control', ...conn)).out).toContain(`${url}: warning: VirtualService/default/details-v9: `);
    expect((await run('delete', '-f', missing, ...conn)).code).toBe(0);
  });

  it('explain gives the same answer from the control service as from the files', async () => {
    const request = ['--namespace', 'default', '-H', 'end-user: jason', 'GET http://reviews:9080/reviews/0', '--json'];
    const fromFiles = await run('explain', 'outbound', '-f', SERVICES, '-f', DR_ALL, '-f', VS_ALL_V1, ...request);
    const live = await run('explain', 'outbound', '--control', ...conn, ...request);
    expect(live.code).toBe(0);
    expect(JSON.parse(live.out)).toEqual(JSON.parse(fromFiles.out));
    expect(JSON.parse(live.out)).toMatchObject({ virtualService: 'default/reviews', destinations: [{ subset: 'v1', weight: 100 }] });
  });

  it('-f and --control together, or connection flags without --control, are usage errors', async () => {
    expect((await run('analyze', '--control', '-f', DR_ALL, ...conn)).code).toBe(2);
    const stray = await run('analyze', '-f', DR_ALL, '--control-url', url);
    expect(stray.code).toBe(2);
    expect(stray.err).toMatch(/--control-url is for --control/);
  });
});

describe('connection', () => {
  it('unreachable: exit 3, one line naming the URL and the cause; --json gives an error document', async () => {
    const closed = createNetServer();
    const port = await listen(closed);
    await new Promise<void>((ok) => closed.close(() => ok()));
    const down = `http://127.0.0.1:${port}`;
    const r = await run('get', 'vs', '--control-url', down, '--data-dir', dataDir);
    expect(r.code).toBe(3);
    expect(r.err).toBe(`meshwork: cannot reach the control service at ${down}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    const j = await run('status', '--control-url', down, '--data-dir', dataDir, '--json');
    expect(JSON.parse(j.out)).toEqual({ error: { status: null, code: 'unreachable', message: expect.stringContaining(down), url: down } });
    expect(r.err + j.err + j.out).not.toContain(ADMIN);
  });

  it('a service that never answers: the request timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createNetServer((s) => void sockets.push(s));
    const port = await listen(silent);
    try {
      const t0 = Date.now();
      const r = await run('get', 'vs', '--control-url', `http://127.0.0.1:${port}`, '--data-dir', dataDir, '--request-timeout', '200ms');
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/no answer within 200 ms \(--request-timeout\)/);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => silent.close(() => ok()));
    }
  });

  it('not a control service: an answer without JSON, an answer that stops half-way', async () => {
    const odd = createHttpServer((req, res) => {
      if (req.url?.startsWith('/v1/resources')) res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>');
      else res.writeHead(200, { 'content-type': 'application/json' }).write('{"items": ['); // and never more
    });
    const port = await listen(odd);
    try {
      const base = ['--control-url', `http://127.0.0.1:${port}`, '--data-dir', dataDir, '--request-timeout', '300ms'];
      expect(await run('get', 'vs', ...base)).toMatchObject({ code: 3, err: `meshwork: unexpected answer from http://127.0.0.1:${port}: HTTP 200 without a JSON body (is this a Meshwork control service?)\n` });
      expect(await run('get', 'workloads', ...base)).toMatchObject({ code: 3, err: `meshwork: cannot reach the control service at http://127.0.0.1:${port}: no answer within 300 ms (--request-timeout)\n` });
    } finally {
      odd.closeAllConnections();
      await new Promise<void>((ok) => odd.close(() => ok()));
    }
  });

  it('token and CA: flag, then --data-dir, then the environment; never printed', async () => {
    const tokenFile = fixture('tok', '  flag-token-0123456789  \n');
    const ca = fixture('ca.pem', '-----BEGIN CERTIFICATE-----\n');
    expect(resolveConnection({ 'token-file': tokenFile, 'data-dir': dataDir }, {})).toMatchObject({ token: 'flag-token-0123456789', tokenSource: tokenFile });
    expect(resolveConnection({ 'data-dir': dataDir }, { MESHWORK_ADMIN_TOKEN: 'env-token' })).toMatchObject({ token: ADMIN, ca: undefined });
    const c = resolveConnection({}, { MESHWORK_ADMIN_TOKEN: 'env-token', MESHWORK_CONTROL_URL: 'https://control.example:15012', MESHWORK_CONTROL_CA: ca });
    expect(c).toMatchObject({ token: 'env-token', tokenSource: 'MESHWORK_ADMIN_TOKEN', timeoutMs: 30_000 });
    expect(c.url.href).toBe('https://control.example:15012/');
    expect(c.ca?.toString()).toBe('-----BEGIN CERTIFICATE-----\n');
    mkdirSync(join(dataDir, 'ca'), { recursive: true });
    writeFileSync(join(dataDir, 'ca', 'root-cert.pem'), 'root');
    expect(resolveConnection({ 'data-dir': dataDir }, {}).ca?.toString()).toBe('root');
    rmSync(join(dataDir, 'ca'), { recursive: true });

    const none = await run('get', 'vs', '--control-url', url);
    expect(none).toMatchObject({ code: 2, err: 'meshwork: no token for the control service: give --token-file <file> or --data-dir <dir>, or set MESHWORK_ADMIN_TOKEN\n' });
    vi.stubEnv('MESHWORK_ADMIN_TOKEN', ADMIN);
    vi.stubEnv('MESHWORK_CONTROL_URL', url);
    expect((await run('get', 'vs')).code).toBe(0);
    const wrong = await run('get', 'vs', '--token-file', fixture('wrong', 'wrong-token-0123456789'));
    expect(wrong).toMatchObject({ code: 3, err: 'meshwork: the bearer token is not valid (HTTP 401 unauthenticated)\n' });
    expect((await run('get', 'vs', '--token-file', join(tmp, 'absent'))).err).toMatch(/cannot read the token file .*absent: ENOENT/);
    expect((await run('get', 'vs', '--control-url', 'ftp://x'))).toMatchObject({ code: 2 });
  });

});

describe('https', () => {
  // A control service as `meshwork control` runs one: its CA and admin token in a data directory.
  const home = join(tmp, 'https-data');
  let tlsStore: ControlStore;
  let tlsServer: HttpsServer;
  let port: number;
  let rootCert: string;

  beforeAll(async () => {
    mkdirSync(home);
    writeFileSync(join(home, 'admin-token'), ADMIN);
    const { ca, rootCertPath } = await openControlCa({ dataDir: home });
    rootCert = rootCertPath;
    tlsStore = await openSqliteStore({ dataDir: ':memory:' });
    tlsServer = createControlServer({ store: tlsStore, adminToken: ADMIN, tls: await controlTlsOptions(ca) });
    port = await listen(tlsServer);
  });

  afterAll(async () => {
    tlsServer.closeAllConnections();
    await new Promise<void>((ok) => tlsServer.close(() => ok()));
    await tlsStore.close();
  });

  it('--data-dir trusts <dir>/ca/root-cert.pem and reads <dir>/admin-token', async () => {
    const applied = await run('apply', '-f', DR_ALL, '--control-url', `https://127.0.0.1:${port}`, '--data-dir', home);
    expect(applied.err).toBe('');
    expect(applied.code).toBe(0);
    const got = await run('get', 'dr', '--control-url', `https://localhost:${port}`, '--data-dir', home, '-o', 'name');
    expect(got.out).toBe(['details', 'productpage', 'ratings', 'reviews'].map((n) => `destinationrule.networking.istio.io/${n}\n`).join(''));
  });

  it('--ca-file or MESHWORK_CONTROL_CA; without the CA, exit 3 naming the cause and the fix', async () => {
    const base = ['--control-url', `https://127.0.0.1:${port}`, '--token-file', join(home, 'admin-token')];
    expect((await run('get', 'dr', ...base, '--ca-file', rootCert)).code).toBe(0);
    vi.stubEnv('MESHWORK_CONTROL_CA', rootCert);
    expect((await run('get', 'dr', ...base)).code).toBe(0);
    vi.stubEnv('MESHWORK_CONTROL_CA', '');
    const untrusted = await run('get', 'dr', ...base);
    expect(untrusted.code).toBe(3);
    expect(untrusted.err).toBe(`meshwork: cannot reach the control service at https://127.0.0.1:${port}: unable to verify the first certificate (trust the control service's CA with --ca-file, --data-dir or MESHWORK_CONTROL_CA)\n`);
    const plain = await run('get', 'dr', '--control-url', `http://127.0.0.1:${port}`, '--token-file', join(home, 'admin-token'));
    expect(plain.code).toBe(3);
    expect(plain.err).toMatch(/^meshwork: cannot reach the control service at http:\/\/127\.0\.0\.1:\d+: /);
  });
});

describe('meshwork status', () => {
  const reply: StatusReply = {
    revision: 42,
    items: [
      { id: 'shop/reviews-vm-10.0.0.7', namespace: 'shop', healthy: true, connected: true, state: 'SYNCED', currentVersion: 'a1b2c3d4e5f60718293a', sentVersion: 'a1b2c3d4e5f60718293a', ackedVersion: 'a1b2c3d4e5f60718293a', lastAckAt: '2025-01-01T00:00:05Z' },
      { id: 'shop/ratings-vm-10.0.0.8', namespace: 'shop', healthy: true, connected: true, state: 'NACKED', currentVersion: 'ffff00001111', sentVersion: 'ffff00001111', ackedVersion: 'a1b2c3d4e5f6', lastAckAt: '2025-01-01T00:00:00Z', nackedVersion: 'ffff00001111', nackError: 'VirtualService/shop/ratings: spec.http[0]: bad route' },
      { id: 'web/front-10.0.1.2', namespace: 'web', healthy: false, connected: false, state: 'NOT SENT', currentVersion: '0123456789abcdef' },
    ],
  };

  it('renders a proxy-status table, the NACK errors and a count per state', () => {
    const out = renderStatus(reply, Date.parse('2025-01-01T00:01:00Z'));
    expect(out).toBe(
      [
        'NAME                       STATE      CONNECTED   HEALTHY   CURRENT        SENT           ACKED          LAST ACK',
        'shop/reviews-vm-10.0.0.7   SYNCED     yes         yes       a1b2c3d4e5f6   a1b2c3d4e5f6   a1b2c3d4e5f6   55s ago',
        'shop/ratings-vm-10.0.0.8   NACKED     yes         yes       ffff00001111   ffff00001111   a1b2c3d4e5f6   60s ago',
        'web/front-10.0.1.2         NOT SENT   no          no        0123456789ab   -              -              -',
        '',
        'shop/ratings-vm-10.0.0.8 rejected ffff00001111: VirtualService/shop/ratings: spec.http[0]: bad route',
        '',
        'revision 42: 3 workload(s), 1 SYNCED, 1 NACKED, 1 NOT SENT',
        '',
      ].join('\n'),
    );
  });

  it('live, over HTTPS with the control CA: SYNCED, NACKED with its error, NOT SENT', async () => {
    // A control service as `meshwork control` starts one: store, CA and admin token in a data directory.
    const dir = join(tmp, 'status-data');
    const service = await startControlService({ dataDir: dir, port: 0 });
    const api = new ControlClient(resolveConnection({ 'control-url': service.url, 'data-dir': dir }, {}));
    try {
      expect(service.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const live = ['--control-url', service.url, '--data-dir', dir];
      const wg = fixture('status-wg.yaml', 'apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: ratings-vm, namespace: shop}\nspec:\n  metadata: {labels: {app: ratings}}\n  template:\n    serviceAccount: ratings\n    ports: {http: 9080}\n');
      expect((await run('apply', '-f', wg, ...live)).out).toBe('workloadgroup.networking.istio.io/ratings-vm created\n');

      // Three workloads auto-register, as the SDK does.
      const ids: string[] = [];
      for (const address of ['10.0.0.7', '10.0.0.8', '10.0.0.9']) {
        const r = await api.request<{ id: string }>('POST', '/v1/workloads:register', { body: JSON.stringify({ group: 'shop/ratings-vm', address }) });
        ids.push(r.id);
      }
      expect(ids).toEqual(['shop/ratings-vm-10.0.0.7', 'shop/ratings-vm-10.0.0.8', 'shop/ratings-vm-10.0.0.9']);
      const before = await api.request<StatusReply>('GET', '/v1/status');
      expect(before.items.map((w) => w.state)).toEqual(['NOT SENT', 'NOT SENT', 'NOT SENT']);
      const version = before.items[0]!.currentVersion;
      expect(before.items.every((w) => w.currentVersion === version)).toBe(true);

      // The first applies the current version; the second rejects it.
      const ack = (id: string, body: object) => api.request<{ ack: string }>('POST', `/v1/workloads/${encodeURIComponent(id)}:ack`, { body: JSON.stringify(body) });
      const error = 'VirtualService/shop/ratings: spec.http[0].route[0].destination.host: "ratings" does not resolve';
      expect(await ack(ids[0]!, { version })).toMatchObject({ ack: 'ACK' });
      expect(await ack(ids[1]!, { version, error })).toMatchObject({ ack: 'NACK' });

      const human = await run('status', ...live);
      expect(human.err).toBe('');
      expect(human.code).toBe(0);
      const v = version.slice(0, 12);
      const [head, ...rest] = lines(human.out);
      expect(head).toMatch(/^NAME\s+STATE\s+CONNECTED\s+HEALTHY\s+CURRENT\s+SENT\s+ACKED\s+LAST ACK$/);
      expect(rest.slice(0, 3)).toEqual([
        expect.stringMatching(new RegExp(`^shop/ratings-vm-10\\.0\\.0\\.7\\s+SYNCED\\s+no\\s+yes\\s+${v}\\s+-\\s+${v}\\s+\\d+s ago$`)),
        expect.stringMatching(new RegExp(`^shop/ratings-vm-10\\.0\\.0\\.8\\s+NACKED\\s+no\\s+yes\\s+${v}\\s+-\\s+-\\s+-$`)),
        expect.stringMatching(new RegExp(`^shop/ratings-vm-10\\.0\\.0\\.9\\s+NOT SENT\\s+no\\s+yes\\s+${v}\\s+-\\s+-\\s+-$`)),
      ]);
      expect(human.out).toContain(`\nshop/ratings-vm-10.0.0.8 rejected ${v}: ${error}\n`);
      expect(human.out).toMatch(/\nrevision \d+: 3 workload\(s\), 1 SYNCED, 1 NACKED, 1 NOT SENT\n$/);

      // --json with the CA file and the token file named, as a client on another folder would.
      const json = await run('status', '-n', 'shop', '--json', '--control-url', service.url, '--ca-file', service.rootCertPath, '--token-file', service.adminTokenPath!);
      expect(json.code).toBe(0);
      const j = JSON.parse(json.out) as StatusReply;
      expect(j.revision).toEqual(expect.any(Number));
      expect(j.items).toEqual([
        { id: ids[0], namespace: 'shop', healthy: true, connected: false, state: 'SYNCED', currentVersion: version, ackedVersion: version, lastAckAt: expect.any(String) },
        { id: ids[1], namespace: 'shop', healthy: true, connected: false, state: 'NACKED', currentVersion: version, nackedVersion: version, nackError: error },
        { id: ids[2], namespace: 'shop', healthy: true, connected: false, state: 'NOT SENT', currentVersion: version },
      ]);
      expect(await run('status', '-n', 'web', ...live)).toMatchObject({ code: 0, out: '', err: 'No workloads in web namespace.\n' });

      // A new configuration for shop: the ACK is of an older version now.
      const vs = fixture('status-vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: shop}\nspec: {hosts: [ratings], http: [{route: [{destination: {host: ratings}}]}]}\n');
      expect((await run('apply', '-f', vs, ...live)).code).toBe(0);
      const after = JSON.parse((await run('status', '--json', ...live)).out) as StatusReply;
      expect(after.revision).toBeGreaterThan(j.revision);
      expect(after.items.map((w) => w.state)).toEqual(['STALE', 'STALE', 'NOT SENT']);
      expect(after.items[0]!.currentVersion).not.toBe(version);
    } finally {
      api.close();
      await service.close();
    }
  });
});

/** `meshwork control` through main(), stopped by the io's AbortSignal; resolves once it printed its first line. */
async function startControl(...args: string[]) {
  const abort = new AbortController();
  let out = '';
  let err = '';
  let printed: () => void = () => undefined;
  const firstLine = new Promise<void>((ok) => (printed = ok));
  const done = main(['control', ...args], {
    out: (s) => {
      out += s;
      printed();
    },
    err: (s) => void (err += s),
    signal: abort.signal,
  });
  await Promise.race([firstLine, done.then((code) => Promise.reject(new Error(`meshwork control exited ${code} before it printed anything: ${err}`)))]);
  return {
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    /** Stops it; the command's exit code. */
    stop: async () => {
      abort.abort();
      return done;
    },
  };
}

describe('meshwork control', () => {
  it('--json on port 0; apply and get against it; stopped and started again on the same data directory: same resources, same CA', async () => {
    const dir = join(tmp, 'control-data');
    const first = await startControl('--data-dir', dir, '--port', '0', '--json');
    let again: Awaited<ReturnType<typeof startControl>> | undefined;
    try {
      expect(first.out.endsWith('\n')).toBe(true);
      expect(lines(first.out)).toHaveLength(1);
      const ready = JSON.parse(first.out);
      expect(ready).toEqual({ url: `https://127.0.0.1:${ready.port}`, port: expect.any(Number), rootCertPath: join(dir, 'ca', 'root-cert.pem'), adminTokenPath: join(dir, 'admin-token'), dataDir: dir });
      expect(ready.port).toBeGreaterThan(0);
      const admin = readFileSync(ready.adminTokenPath, 'utf8').trim();
      expect(admin.length).toBeGreaterThanOrEqual(16);

      const at = (u: string) => ['--control-url', u, '--data-dir', dir];
      const applied = await run('apply', '-f', VS_ALL_V1, ...at(ready.url));
      expect(applied.err).toBe('');
      expect(lines(applied.out)).toEqual(['productpage', 'reviews', 'ratings', 'details'].map((n) => `virtualservice.networking.istio.io/${n} created`));
      const listed = await run('get', 'vs', ...at(ready.url));
      expect(listed.code).toBe(0);
      expect(lines(listed.out).slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['details', 'productpage', 'ratings', 'reviews']);
      const stored = JSON.parse((await run('get', 'vs', '--json', ...at(ready.url))).out);

      // A client that saved the CA bundle once (MESHWORK_CONTROL_CA elsewhere).
      const savedCa = fixture('saved-root-cert.pem', readFileSync(ready.rootCertPath));
      expect(await first.stop()).toBe(0);
      expect(first.err).toBe('meshwork control: stop requested, stopping\nmeshwork control: stopped\n');
      const gone = await run('get', 'vs', ...at(ready.url));
      expect(gone.code).toBe(3);
      expect(gone.err).toMatch(/cannot reach the control service .*ECONNREFUSED/);

      again = await startControl('--data-dir', dir, '--port', '0', '--json');
      const ready2 = JSON.parse(again.out);
      expect(ready2).toMatchObject({ rootCertPath: ready.rootCertPath, adminTokenPath: ready.adminTokenPath, dataDir: dir });
      expect(readFileSync(ready2.rootCertPath, 'utf8')).toBe(readFileSync(savedCa, 'utf8'));
      expect(readFileSync(ready2.adminTokenPath, 'utf8').trim()).toBe(admin);
      const kept = await run('get', 'vs', '--json', '--control-url', ready2.url, '--ca-file', savedCa, '--token-file', ready2.adminTokenPath);
      expect(kept.err).toBe('');
      expect(JSON.parse(kept.out).items).toEqual(stored.items);
      expect((await run('apply', '-f', VS_ALL_V1, ...at(ready2.url))).out).toMatch(/^(virtualservice\.networking\.istio\.io\/\w+ unchanged\n){4}$/);
      for (const r of [first, again]) expect(r.out + r.err).not.toContain(admin);
    } finally {
      if (again) expect(await again.stop()).toBe(0);
      await first.stop();
    }
  });

  it('prints the URL, the CA bundle, where the admin token is, and next commands that work as printed', async () => {
    const dir = join(tmp, 'banner-data');
    const tokenFile = fixture('banner-admin-token', `${ADMIN}\n`);
    const c = await startControl('--data-dir', dir, '--port', '0', '--admin-token-file', tokenFile, '--hosts', 'control.mesh.test,10.1.2.3', '--trust-domain', 'example.org');
    try {
      const url = /serving (https:\/\/127\.0\.0\.1:\d+) /.exec(c.out)?.[1];
      expect(url).toBeDefined();
      const rootCert = join(dir, 'ca', 'root-cert.pem');
      expect(c.out).toContain(`CA bundle     ${rootCert}\n`);
      expect(c.out).toContain('--ca-file (or MESHWORK_CONTROL_CA=<path>)');
      expect(c.out).toContain(`admin token   in ${tokenFile} (`);
      expect(c.out).not.toContain(ADMIN);
      expect(c.out).toContain(`MESHWORK_CONTROL_URL=${url}\n`);
      expect(c.out).toContain('MESHWORK_TOKEN=<the join token>\n');
      expect(c.out).toContain(`MESHWORK_CONTROL_CA=${rootCert}\n`);
      expect(c.out).toContain('MESHWORK_NAMESPACE=<ns> MESHWORK_SERVICE=<name>');
      expect(c.out).toContain('Stop with Ctrl-C (SIGINT) or SIGTERM.\n');
      expect(c.err).toBe('');

      // The token is not in the data directory: the printed commands name the token file and the CA.
      const printedFlags = (command: string) => {
        const words = c.out.split('\n').find((l) => l.trim().startsWith(`meshwork ${command} `))!.trim().split(/\s+/);
        return words.slice(words.indexOf('--control-url'));
      };
      const applyFlags = printedFlags('apply');
      expect(applyFlags).toEqual(['--control-url', url, '--token-file', tokenFile, '--ca-file', rootCert]);
      expect((await run('apply', '-f', DR_ALL, ...applyFlags)).out).toMatch(/^(destinationrule\.networking\.istio\.io\/\w+ created\n){4}$/);
      const created = await run('token', 'create', '--namespace', 'default', '--service-account', 'bookinfo-reviews', ...printedFlags('token'));
      expect(created.out).toMatch(/^mwj_/);
      expect(await run('status', ...printedFlags('status'))).toMatchObject({ code: 0, err: 'No workloads registered.\n' });

      // --hosts are in the serving certificate; --trust-domain is the CA's.
      const port = Number(new URL(url!).port);
      const peer = await new Promise<{ san: string; issuer: string }>((ok, fail) => {
        const s = tlsConnect({ host: '127.0.0.1', port, servername: 'control.mesh.test', ca: readFileSync(rootCert) }, () => {
          const cert = s.getPeerCertificate();
          s.end();
          ok({ san: cert.subjectaltname ?? '', issuer: JSON.stringify(cert.issuer) });
        });
        s.on('error', fail);
      });
      expect(peer.san).toContain('DNS:control.mesh.test');
      expect(peer.san).toContain('IP Address:10.1.2.3');
      expect(peer.issuer).toContain('example.org');
    } finally {
      expect(await c.stop()).toBe(0);
    }
  });

  it('--insecure: plain HTTP, said on stderr; the printed commands need no CA', async () => {
    const dir = join(tmp, 'insecure-data');
    const c = await startControl('--data-dir', dir, '--port', '0', '--insecure');
    try {
      const url = /serving (http:\/\/127\.0\.0\.1:\d+) /.exec(c.out)?.[1];
      expect(url).toBeDefined();
      expect(c.out).not.toContain('MESHWORK_CONTROL_CA');
      expect(c.out).toContain('not needed by clients while --insecure (plain HTTP)');
      expect(c.err).toBe('meshwork control: serving plain HTTP (--insecure): tokens and configuration travel in clear text; for local experiments only\n');
      const words = c.out.split('\n').find((l) => l.trim().startsWith('meshwork status '))!.trim().split(/\s+/);
      expect(words.slice(2)).toEqual(['--control-url', url, '--data-dir', dir]);
      expect(await run('status', ...words.slice(2))).toMatchObject({ code: 0, err: 'No workloads registered.\n' });
    } finally {
      expect(await c.stop()).toBe(0);
    }
  });

  // A port in use is tested on the bin (cli.test.ts): startControlService fails after its
  // snapshot hub started, and that hub's poll timer would outlive the failure in this process.
  it('an unreadable or short admin token file, bad flags: one line, exit 2, nothing started', async () => {
    const absent = join(tmp, 'no-such-token');
    expect(await run('control', '--data-dir', join(tmp, 'x-data'), '--port', '0', '--admin-token-file', absent)).toEqual({ code: 2, out: '', err: `meshwork: cannot read the admin token file ${absent}: ENOENT\n` });
    const short = fixture('short-token', 'abc\n');
    expect((await run('control', '--data-dir', join(tmp, 'x-data'), '--port', '0', '--admin-token-file', short)).err).toBe(`meshwork: the admin token in ${short} is too short: it needs at least 16 characters\n`);
    expect((await run('control', '--port', '70000')).err).toBe('meshwork: --port: "70000" is not a port number (0-65535; 0 picks a free one)\n');
    expect((await run('control', '--trust-domain', 'Example.org')).code).toBe(2);
    expect((await run('control', 'extra')).code).toBe(2);
    expect((await run('control', '--unknown')).code).toBe(2);
    expect(existsSync(join(tmp, 'x-data'))).toBe(false);
  });
});

describe('building blocks', () => {
  it('one batch for many files: lines map back to each file (---, %YAML, no final newline)', () => {
    const a = fixture('a.yaml', '---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}');
    const b = fixture('b.yaml', '%YAML 1.2\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {ports: [{port: 80}]}\n...\n');
    const c = fixture('c.yaml', '# comment\n\napiVersion: v1\nkind: Service\nmetadata: {name: c}\nspec: {ports: [{port: 80}]}\n');
    const { manifests, diagnostics } = readManifests([a, b, c]);
    expect(diagnostics).toEqual([]);
    const batch = buildBatch(manifests);
    const loaded = loadText(batch.text, 'batch');
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.resources.map((r) => ({ name: r.metadata.name, ...batch.locate(r.source.line) }))).toEqual([
      { name: 'a', file: a, line: 2 },
      { name: 'b', file: b, line: 3 },
      { name: 'c', file: c, line: 3 },
    ]);
  });

  it('kubectl-style kind names', () => {
    for (const n of ['vs', 'virtualservices', 'VirtualService', 'virtualservice.networking.istio.io', 'virtualservices.networking.istio.io']) expect(resolveKind(n)?.kind).toBe('VirtualService');
    expect([resolveKind('dr'), resolveKind('se'), resolveKind('pa'), resolveKind('authorizationpolicy'), resolveKind('ap'), resolveKind('svc'), resolveKind('gw')].map((k) => k?.kind)).toEqual([
      'DestinationRule', 'ServiceEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'AuthorizationPolicy', 'Service', 'Gateway',
    ]);
    expect(resolveKind('deployment')).toBeUndefined();
  });

  it('-o yaml reads back as the same data, whatever the strings hold', () => {
    const value = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'x', labels: { 'app.kubernetes.io/name': 'y', version: '1.10', on: 'yes', empty: '' } },
      spec: {
        hosts: ['*.example.com', 'a b', ' lead', 'x: y', '#c', '- d', 'null', '0x10', '9080', 'multi\nline', 'quote"s', 'ü'],
        nested: [[1, 2], [], {}, [{ a: [{ b: null }] }]],
        n: -1.5, t: true, f: false, z: null,
      },
    };
    const back = loadText(toYaml(value), 'v.yaml');
    expect(back.diagnostics).toEqual([]);
    expect(back.resources[0]?.raw).toEqual(value);
  });
});
