/**
 * The CLI as users run it: the built bin in a subprocess, on real files (the shared Istio
 * corpus, read in place, and fixtures written to a temp folder).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(here, '../dist/bin.js');
const corpus = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(here, '../../../../shared/conformance/istio');
const bookinfo = join(corpus, 'samples/bookinfo');
const kube = join(bookinfo, 'platform/kube/bookinfo.yaml');
const net = (f: string) => join(bookinfo, 'networking', f);

function run(args: string[], timeout = 20_000) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'meshwork-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
function fixture(name: string, text: string | Buffer): string {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
}

describe('meshwork analyze', () => {
  it('exit 0 on a clean set, 1 on findings, 2 on rejected input', () => {
    expect(run(['analyze', '-f', kube, '-f', net('destination-rule-all.yaml'), '-f', net('virtual-service-all-v1.yaml')]).code).toBe(0);
    // Every Bookinfo rule at once: same-named documents replace each other (as kubectl apply),
    // one VS names a subset no DR defines, and a rule after a catch-all is never reached.
    const all = run(['analyze', '-f', kube, '-f', join(bookinfo, 'networking')]);
    expect(all.code).toBe(1);
    expect(all.out).toMatch(/virtual-service-details-v2\.yaml:12:9: warning: .*"details\+v2".*\[IST0101\]/);
    expect(all.out).toMatch(/fault-injection-details-v1\.yaml:18:5: warning: .*rule #1 not used/);
    expect(all.out).toMatch(/defined again/);
    // Two differently named mesh VirtualServices for one host: only the oldest applies (IST0109).
    const conflict = fixture('conflict.yaml', `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b}
spec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}
`);
    const c = run(['analyze', '-f', kube, '-f', conflict]);
    expect(c.code).toBe(1);
    expect(c.out).toMatch(/IST0109/);
    const bad = fixture('bad.yaml', 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\nspec:\n  mtls: {mode: BLAH}\n');
    const r = run(['analyze', '-f', bad]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/bad\.yaml:5:\d+: error: PeerAuthentication\/default\/p: spec\.mtls\.mode: .*Unsupported value: "BLAH"/);
  });

  it('--json is machine-readable and carries positions', () => {
    const bad = fixture('bad2.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    retries: {attempts: 2, retryOn: "5xx, reset"}\n');
    const r = run(['analyze', '-f', bad, '--json']);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out);
    const e = j.diagnostics.find((d: any) => d.severity === 'error');
    expect(e).toMatchObject({ file: bad, line: 8, resource: 'VirtualService/default/v', path: 'spec.http[0].retries.retryOn' });
  });

  it('hostile input: one clear error within a second, no crash, no hang', () => {
    const cases: [string, string | Buffer][] = [
      ['huge.yaml', Buffer.alloc(50 * 1024 * 1024, 'a')],
      ['bomb.yaml', 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + Array.from({ length: 10 }, (_, i) => `${'bcdefghijk'[i]}: &${'bcdefghijk'[i]} [${Array(9).fill('*' + 'abcdefghij'[i]).join(',')}]`).join('\n') + '\n'],
      ['deep.yaml', 'spec: ' + '['.repeat(10_000) + ']'.repeat(10_000) + '\n'],
      ['junk.bin', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
    ];
    for (const [name, content] of cases) {
      const f = fixture(name, content);
      const t0 = Date.now();
      const r = run(['analyze', '-f', f]);
      const ms = Date.now() - t0;
      expect(r.code, name).toBe(2);
      const errors = r.out.split('\n').filter((l) => l.includes(': error: '));
      expect(errors, name).toHaveLength(1);
      expect(r.err, name).toBe('');
      // Generous bound for a loaded CI machine; includes Node start-up.
      expect(ms, name).toBeLessThan(5000);
    }
  });

  it('unknown flags and missing -f are usage errors (exit 2, one line on stderr)', () => {
    const r = run(['analyze', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(run(['analyze']).code).toBe(2);
  });
});

describe('meshwork explain', () => {
  it('outbound: request routing for jason, exactly the contract fields', () => {
    const r = run(['explain', 'outbound', '-f', kube, '-f', net('destination-rule-all.yaml'), '-f', net('virtual-service-reviews-test-v2.yaml'), '--namespace', 'default', '-H', 'end-user: jason', 'GET http://reviews:9080/reviews/0', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      host: 'reviews.default.svc.cluster.local', virtualService: 'default/reviews', rule: 0, action: 'route',
      destinations: [{ host: 'reviews.default.svc.cluster.local', subset: 'v2', port: 9080, weight: 100 }],
      timeoutMs: null, retries: { attempts: 2, perTryTimeoutMs: null, retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes' },
      fault: null, mirror: null, redirect: null, directResponse: null,
    });
  });

  it('outbound: redirect Location as Envoy writes it', () => {
    const f = fixture('redirect.yaml', `apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new, authority: www.example.com, redirectCode: 308}
  - match: [{uri: {prefix: /secure}}]
    redirect: {scheme: https, port: 443}
  - match: [{uri: {exact: /gone}}]
    directResponse: {status: 410, body: {string: gone}}
  - route: [{destination: {host: web}}]
`);
    const ex = (req: string) => JSON.parse(run(['explain', 'outbound', '-f', f, '--namespace', 'default', req, '--json']).out);
    expect(ex('GET http://web:8080/old/page?x=1')).toMatchObject({ action: 'redirect', rule: 0, redirect: { status: 308, location: 'http://www.example.com/new/page?x=1' }, retries: null, destinations: [] });
    expect(ex('GET http://web:8080/secure/a')).toMatchObject({ redirect: { status: 301, location: 'https://web/secure/a' } });
    expect(ex('GET http://web:8080/gone')).toMatchObject({ action: 'directResponse', directResponse: { status: 410, body: 'gone' }, retries: null, timeoutMs: null });
  });

  it('inbound: STRICT rejects plaintext; principal and both flags', () => {
    const f = fixture('pa.yaml', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: foo}
spec:
  rules: [{to: [{operation: {methods: [GET]}}]}]
`);
    const base = ['explain', 'inbound', '-f', f, '--namespace', 'foo', '--labels', 'app=httpbin', '--port', '8000'];
    expect(JSON.parse(run([...base, '--plaintext', 'GET /ip', '--json']).out)).toEqual(expect.objectContaining({ mtls: 'STRICT', connection: 'rejected', decision: 'DENY', policy: null, rule: null, dryRun: [] }));
    expect(JSON.parse(run([...base, '--principal', 'cluster.local/ns/foo/sa/sleep', 'GET /ip', '--json']).out)).toEqual(expect.objectContaining({ connection: 'accepted', decision: 'ALLOW', policy: 'foo/allow-get', rule: 0 }));
    const both = run([...base, '--principal', 'x', '--plaintext', 'GET /ip']);
    expect(both.code).toBe(2);
  });

  it('config Istio would reject: exit 2 with the analyzer\'s lines', () => {
    const bad = fixture('reject.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  hosts: [a]\n  http:\n  - route: [{destination: {host: a}, weight: -1}]\n');
    const r = run(['explain', 'outbound', '-f', bad, '--namespace', 'default', 'GET http://a/']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/reject\.yaml:7:\d+: error: VirtualService\/default\/v/);
  });

  it('human output is readable', () => {
    const r = run(['explain', 'outbound', '-f', kube, '-f', net('destination-rule-all.yaml'), '-f', net('virtual-service-reviews-50-v3.yaml'), '--namespace', 'default', 'GET http://reviews:9080/']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/destination\s+50% -> reviews\.default\.svc\.cluster\.local:9080 subset v1/);
    expect(r.out).toMatch(/destination\s+50% -> reviews\.default\.svc\.cluster\.local:9080 subset v3/);
  });
});

describe('meshwork control', () => {
  /** Starts the bin; resolves with its `--json` line and its exit once it ends. */
  async function startBin(dir: string) {
    const child = spawn(process.execPath, [bin, 'control', '--data-dir', dir, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => void (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => void (err += s));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((ok) => child.on('exit', (code, signal) => ok({ code, signal, out, err })));
    const ready = await new Promise<{ url: string; port: number; rootCertPath: string; dataDir: string }>((ok, fail) => {
      child.stdout.on('data', () => {
        if (out.includes('\n')) ok(JSON.parse(out.slice(0, out.indexOf('\n'))));
      });
      void exited.then((r) => fail(new Error(`meshwork control exited ${r.code} before it was ready: ${r.err}`)));
    });
    return { child, ready, exited };
  }

  it('runs until SIGTERM or SIGINT, then stops: exit 0; while it runs, its port is in use: exit 2, one line', async () => {
    const dir = join(tmp, 'control-bin-data');
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { child, ready, exited } = await startBin(dir);
      try {
        expect(ready).toMatchObject({ url: `https://127.0.0.1:${ready.port}`, dataDir: dir, rootCertPath: join(dir, 'ca', 'root-cert.pem') });
        const busy = run(['control', '--data-dir', dir, '--port', String(ready.port)]);
        expect(busy).toEqual({ code: 2, out: '', err: `meshwork: cannot listen on 127.0.0.1:${ready.port}: the address is already in use (another meshwork control? choose another --port)\n` });
        const listed = run(['get', 'vs', '--control-url', ready.url, '--data-dir', dir]);
        expect(listed).toMatchObject({ code: 0, err: 'No resources found in default namespace.\n' });
      } finally {
        child.kill(signal);
      }
      const r = await exited;
      expect(r).toMatchObject({ code: 0, signal: null, err: `meshwork control: ${signal} received, stopping\nmeshwork control: stopped\n` });
      expect(r.out.split('\n')).toHaveLength(2);
    }
  });
});

it('README example output is what the CLI prints', () => {
  const readme = readFileSync(resolve(here, '../README.md'), 'utf8');
  const expected = /prints\n\n```\n([\s\S]*?)```/.exec(readme)![1]!;
  const r = execFileSync(process.execPath, [bin, 'explain', 'outbound', '-f', kube, '-f', net('destination-rule-all.yaml'), '-f', net('virtual-service-reviews-test-v2.yaml'), '--namespace', 'default', '-H', 'end-user: jason', 'GET http://reviews:9080/reviews/0'], { encoding: 'utf8' });
  expect(r).toBe(expected);
});

it('meshwork demo (the README\'s first command) analyzes Bookinfo and explains the tasks', () => {
  const r = run(['demo'], 60_000);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/=== Header routing: end-user jason goes to reviews v2 ===[\s\S]*?subset v2/);
  expect(r.out).toMatch(/fault delay\s+7000 ms for 100% of requests/);
  expect(r.out).toMatch(/action\s+passthrough/);
});
