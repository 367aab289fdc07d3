/**
 * 10,000 mutated Istio documents and batches against `POST /v1/resources:apply` of one
 * in-process control service (plain HTTP, a snapshot hub attached and watched, so every
 * accepted change is also built into snapshots). The documents are Istio's own YAML
 * (/work/shared/conformance/istio, read in place) put through the seeded mutations of
 * fuzz-mutations.ts. For every request:
 *
 * - the service answers within the per-request timeout, with 200, 400, 409, 413 or 415 and
 *   a JSON body (never a 500, never a hang);
 * - a 400 carries diagnostics with one-line, bounded messages, one of which names the file
 *   and a line of the body;
 * - nothing is half-applied: after a refusal the store's revision is unchanged; after an
 *   acceptance every document of the batch is stored, with the resourceVersion the answer
 *   gave and the spec that was sent; and every 500 requests the whole store equals the
 *   model of what was accepted.
 *
 * At the end the service still answers, and the hub builds a snapshot for every namespace
 * seen that the SDK side loads without errors. The store is emptied every 1,000 requests:
 * each accepted change rebuilds every watched namespace over all stored objects, so a store
 * that only grows makes the run quadratic (measured: 10,000 requests did not finish in
 * 300 s; with the reset they take about 50 s on two cores).
 *
 * Known bugs (KNOWN below) are counted and printed rather than failed on; each has its own
 * `it.fails` reproduction at the end of this file.
 *
 * MESHWORK_FUZZ_SEED and MESHWORK_FUZZ_COUNT override the seed and the count (the seed is
 * printed, so a failure can be replayed); MESHWORK_FUZZ_PROGRESS=1 prints progress.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadObjects } from '@meshwork/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlServer, openSqliteStore, SnapshotHub, type ControlStore } from '../src/index.js';
import { generateCase, readCorpus, Rng, type Corpus, type FuzzCase, type Obj } from './fuzz-mutations.js';

const CORPUS = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared/conformance/istio');
const SEED = Number(process.env.MESHWORK_FUZZ_SEED ?? 0x5eed_2026);
const COUNT = Number(process.env.MESHWORK_FUZZ_COUNT ?? 10_000);
const ADMIN = 'fuzz-admin-token-0123456789';
const REQUEST_TIMEOUT_MS = 20_000;
const MAX_MESSAGE_LENGTH = 2_000;
const FULL_CHECK_EVERY = 500;
const RESET_EVERY = 1000;
const WATCHED_NAMESPACES = ['default', 'istio-system', 'foo', 'bar', 'shop', 'istio-config'];
const ALLOWED: Record<number, string[]> = { 200: [], 400: ['invalid', 'malformed', 'bad_request'], 409: ['conflict'], 413: ['too_large'], 415: ['unsupported_media_type'] };

interface Answer {
  status: number;
  text: string;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request; rejects on a timeout or a connection failed before any answer. */
function send(port: number, method: string, path: string, body?: string | Buffer, contentType?: string): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${ADMIN}` };
    if (contentType) headers['content-type'] = contentType;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolvePromise({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 });
      });
      res.on('error', (e) => reject(e));
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    // The server may answer 413 and close while the body is still being written: the answer counts.
    req.on('error', (e) => {
      if (!answered) {
        clearTimeout(timer);
        reject(e);
      }
    });
    req.end(body);
  });
}

const enc = encodeURIComponent;
const keyPath = (k: { kind: string; namespace: string; name: string }): string => `/v1/resources/${enc(k.kind)}/${enc(k.namespace)}/${enc(k.name)}`;
/** Unambiguous even when a namespace or name holds `/`. */
const keyString = (k: { kind: string; namespace: string; name: string }): string => JSON.stringify([k.kind, k.namespace, k.name]);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Structural equality where NaN, ±Infinity and null differ (a stored document must be what was sent), ±0 alike. */
function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Obj)[k], (b as Obj)[k]));
}

/** The first difference, for a failure message. */
function firstDifference(a: unknown, b: unknown, path = 'spec'): string {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : String(JSON.stringify(v) ?? v).slice(0, 80));
    return `${path}: sent ${show(a)} (${typeof a}), stored ${show(b)}`;
  }
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!sameValue((a as Obj)[k], (b as Obj)[k])) return firstDifference((a as Obj)[k], (b as Obj)[k], `${path}.${k}`);
  }
  return path;
}

/**
 * Known bugs, reported and reproduced one by one by the `it.fails` tests at the end of this
 * file: the fuzz counts and prints them instead of failing on them, so it keeps guarding
 * everything else. Remove an entry once its bug is fixed.
 */
const KNOWN: Record<string, string> = {};

class Findings {
  readonly byKind = new Map<string, { count: number; examples: string[] }>();
  add(kind: string, example: string): void {
    const f = this.byKind.get(kind) ?? { count: 0, examples: [] };
    f.count++;
    if (f.examples.length < 3) f.examples.push(example.slice(0, 600));
    this.byKind.set(kind, f);
  }
  /** Findings that are not known bugs: the test fails on these. */
  unexpected(): Record<string, { count: number; examples: string[] }> {
    return Object.fromEntries([...this.byKind].filter(([k]) => !(k in KNOWN)));
  }
  known(): Record<string, number> {
    return Object.fromEntries([...this.byKind].filter(([k]) => k in KNOWN).map(([k, v]) => [KNOWN[k]!, v.count]));
  }
}

/** Which known bug a diagnostic without file:line is, if any. */
function noLineKind(d: { code?: unknown; message?: unknown } | undefined): string {
  const m = String(d?.message);
  if (/NUL byte/.test(m)) return '400 names no file and line (NUL byte)';
  if (d?.code === 'store') return '400 names no file and line (store)';
  if (d?.code === 'json' && /Unexpected end of JSON input/.test(m)) return '400 names no file and line (end of JSON)';
  return '400 names no file and line';
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A key the API can address: well-formed UTF-16, no `.`/`..` segment (URLs drop them) and a URL of sane length (else BUG-7 let it in). */
function addressable(k: { kind: string; namespace: string; name: string }): boolean {
  return [k.kind, k.namespace, k.name].every((s) => !LONE_SURROGATE.test(s) && s !== '.' && s !== '..') && keyPath(k).length < 8000;
}

const describeCorpus = existsSync(CORPUS) ? describe : describe.skip;

describeCorpus(`POST /v1/resources:apply under ${COUNT} mutated Istio documents (seed ${SEED})`, () => {
  let corpus: Corpus;
  let store: ControlStore;
  let hub: SnapshotHub;
  let server: http.Server;
  let port: number;
  const hubErrors: unknown[] = [];
  let pushes = 0;

  beforeAll(async () => {
    corpus = readCorpus(CORPUS);
    store = await openSqliteStore({ dataDir: ':memory:' });
    hub = new SnapshotHub({
      store,
      heartbeatTtlMs: 3_600_000,
      now: Date.now,
      pollIntervalMs: 1000,
      trustBundle: () => ['-----BEGIN CERTIFICATE-----\nfuzz\n-----END CERTIFICATE-----\n'],
      onError: (e) => hubErrors.push(e),
    });
    // Watchers in the corpus's namespaces: every accepted change is built and pushed to them.
    for (const ns of WATCHED_NAMESPACES) {
      const id = `${ns}/watcher`;
      await store.upsertWorkload({ id, namespace: ns, name: 'watcher', address: '10.9.9.9', ports: { http: 9080 }, labels: { app: 'watcher' }, serviceAccount: 'default', locality: '' }, Date.now());
      hub.watch({ workloadId: id, namespace: ns, send: () => pushes++, end: () => hubErrors.push(new Error(`watcher ${id} was ended`)) });
    }
    server = createControlServer({ store, adminToken: ADMIN, hub, rateLimit: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    agent.destroy();
    hub?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await store?.close();
  });

  it('answers every request with 200/400/409/413/415, precise diagnostics, and never applies half a batch', async () => {
    expect(corpus.docs.length).toBeGreaterThan(400);
    const rng = new Rng(SEED);
    const findings = new Findings();
    const counts = new Map<string, number>();
    const bump = (k: string): void => {
      counts.set(k, (counts.get(k) ?? 0) + 1);
    };
    /** What the store must hold: key → resourceVersion, from the accepted answers. */
    const model = new Map<string, string>();
    const namespaces = new Set<string>();
    let revision = (JSON.parse((await send(port, 'GET', '/v1/resources?kind=None')).text) as { revision: number }).revision;
    let documents = 0;
    let resets = 0;
    let accepted = 0;
    let slowest = { ms: 0, labels: '' };
    const t0 = performance.now();

    const revisionNow = async (): Promise<number> => (JSON.parse((await send(port, 'GET', '/v1/resources?kind=None')).text) as { revision: number }).revision;

    const fullCheck = async (at: number): Promise<void> => {
      const list = JSON.parse((await send(port, 'GET', '/v1/resources')).text) as { revision: number; items: Array<{ kind: string; metadata: { namespace: string; name: string; resourceVersion: string } }> };
      const stored = new Map(list.items.map((i) => [keyString({ kind: i.kind, namespace: i.metadata.namespace, name: i.metadata.name }), i.metadata.resourceVersion]));
      if (list.revision !== revision) findings.add('store revision differs from the model', `after request ${at}: ${list.revision} vs ${revision}`);
      for (const [k, rv] of model) if (stored.get(k) !== rv) findings.add('store differs from the model', `after request ${at}: ${k} model ${rv}, stored ${stored.get(k)}`);
      for (const k of stored.keys()) if (!model.has(k)) findings.add('store holds an object never accepted', `after request ${at}: ${k}`);
    };

    for (let i = 0; i < COUNT; i++) {
      const c: FuzzCase = generateCase(corpus, rng);
      const what = `#${i} [${c.labels.join(',')}]`;
      if (c.docs) documents += c.docs.length;
      else documents++;
      const path = `/v1/resources:apply${c.file ? `?file=${enc(c.file)}` : ''}`;
      let a: Answer;
      try {
        a = await send(port, 'POST', path, c.body, c.contentType);
      } catch (e) {
        findings.add('no answer', `${what}: ${(e as Error).message}`);
        bump('no answer');
        continue;
      }
      if (a.ms > slowest.ms) slowest = { ms: a.ms, labels: what };
      let body: any;
      try {
        body = JSON.parse(a.text);
      } catch {
        findings.add('answer is not JSON', `${what}: ${a.status} ${a.text.slice(0, 200)}`);
      }
      const allowed = ALLOWED[a.status];
      if (!allowed) {
        findings.add(`status ${a.status}`, `${what}: ${a.text.slice(0, 300)}`);
        bump(`status ${a.status}`);
      } else if (a.status !== 200 && !allowed.includes(body?.error)) {
        findings.add('error code does not match the status', `${what}: ${a.status} ${body?.error}`);
      }

      if (a.status === 200) {
        accepted++;
        bump('200');
        if (c.mustReject) findings.add('accepted what must be refused', `${what}: ${c.mustReject}`);
        const results = (body?.results ?? []) as Array<{ kind: string; namespace: string; name: string; status: string; resourceVersion: string }>;
        if (c.docs && results.length !== c.docs.length) findings.add('accepted batch: results do not match the documents', `${what}: ${results.length} results for ${c.docs.length} documents`);
        const changed = results.some((x) => x.status === 'created' || x.status === 'configured');
        if (changed ? !(body.revision > revision) : body.revision !== revision) findings.add('accepted batch: revision did not move as it should', `${what}: ${revision} → ${body.revision}, changed ${changed}`);
        revision = body.revision;
        for (const [j, x] of results.entries()) {
          model.set(keyString(x), x.resourceVersion);
          namespaces.add(x.namespace);
          // Kubernetes: a namespace is a DNS-1123 label and a name a DNS-1123 subdomain, for every kind.
          if (!DNS1123_LABEL.test(x.namespace) || !DNS1123_SUBDOMAIN.test(x.name)) findings.add('accepted an invalid namespace or name', `${what}: ${x.kind} namespace ${JSON.stringify(x.namespace)} name ${JSON.stringify(x.name).slice(0, 100)}`);
          if ((x.status === 'created' || x.status === 'configured') && x.resourceVersion !== String(body.revision)) findings.add('accepted batch: resourceVersion is not the revision', `${what}: ${keyString(x)}`);
          if (!addressable(x)) continue; // the whole-store checks still cover it
          const got = await send(port, 'GET', keyPath(x));
          if (got.status !== 200) {
            findings.add('accepted document is not stored', `${what}: GET ${keyString(x)} → ${got.status}`);
            continue;
          }
          const stored = JSON.parse(got.text) as Obj & { metadata: Obj };
          if (stored.metadata.resourceVersion !== x.resourceVersion) findings.add('accepted document stored with another resourceVersion', `${what}: ${keyString(x)}`);
          const sent = c.docs?.[j];
          if (sent && !sameValue(sent.spec, stored.spec)) {
            const diff = firstDifference(sent.spec, stored.spec);
            const kind = /__proto__/.test(diff) ? ' (__proto__ key)' : /: sent (null|-?Infinity|NaN) \(number\)/.test(diff) ? ' (non-finite number)' : '';
            findings.add(`accepted document stored with another spec${kind}`, `${what}: ${keyString(x)} ${diff}`);
          }
          // What the hub (and the SDK) do with a stored object: load it again as JSON.
          const reloaded = loadObjects([stored], 'stored');
          if (reloaded.resources.length !== 1) {
            findings.add('accepted document the snapshot loader refuses', `${what}: ${keyString(x)}: ${reloaded.diagnostics[0]?.message}`);
            // Take it out again so the hub keeps building, and the rest of the run still tests it.
            const del = await send(port, 'DELETE', keyPath(x));
            if (del.status !== 200) throw new Error(`cannot delete ${keyString(x)}: ${del.status} ${del.text}`);
            model.delete(keyString(x));
            revision = (JSON.parse(del.text) as { revision: number }).revision;
            await hub.refresh().catch(() => {});
            hubErrors.length = 0; // the failed rebuilds of BUG-1
          }
        }
      } else if (allowed) {
        const code = a.status === 400 ? `400 ${body?.error}: ${(body?.diagnostics?.[0]?.code as string | undefined) ?? '(no diagnostic)'}` : `${a.status} ${body?.error}`;
        bump(code);
        if (a.status === 400) {
          const diagnostics = (Array.isArray(body?.diagnostics) ? body.diagnostics : []) as Array<{ message?: unknown; file?: unknown; line?: unknown; code?: unknown }>;
          const text = typeof c.body === 'string' ? c.body : c.body.toString('utf8');
          const lines = text.split(/\r\n|\r|\n/).length;
          if (diagnostics.length === 0) findings.add('400 without a diagnostic', `${what}: ${body?.message} body ${JSON.stringify(text.slice(0, 80))}`);
          for (const d of diagnostics) {
            if (typeof d.message !== 'string' || /[\r\n]/.test(d.message)) findings.add('diagnostic message is not one line', `${what}: ${JSON.stringify(d.message).slice(0, 300)}`);
            else if (d.message.length > MAX_MESSAGE_LENGTH) findings.add('diagnostic message is too long', `${what}: ${d.message.length} characters, code ${String(d.code)}: ${d.message.slice(0, 200)}`);
          }
          const file = c.file ?? 'request';
          const located = diagnostics.some((d) => d.file === file && Number.isInteger(d.line) && (d.line as number) >= 1 && (d.line as number) <= lines);
          if (diagnostics.length > 0 && text.trim() !== '' && !located) findings.add(noLineKind(diagnostics[0]), `${what}: ${JSON.stringify(diagnostics.map((d) => ({ code: d.code, file: d.file, line: d.line })))} ${String(diagnostics[0]?.message).slice(0, 200)}`);
        }
        if (a.status === 409 && !(body?.resource && body?.expected !== undefined && body?.actual !== undefined)) findings.add('409 without resource, expected and actual', `${what}: ${a.text.slice(0, 200)}`);
        const now = await revisionNow();
        if (now !== revision) {
          findings.add('refused batch changed the store', `${what}: ${a.status}, revision ${revision} → ${now}`);
          revision = now;
        }
      }
      if ((i + 1) % FULL_CHECK_EVERY === 0) {
        await fullCheck(i + 1);
        if (process.env.MESHWORK_FUZZ_PROGRESS) console.log(`${i + 1} requests, ${model.size} objects, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      if ((i + 1) % RESET_EVERY === 0 && i + 1 < COUNT) {
        // Every snapshot build costs O(stored objects) per watched namespace: start over now
        // and then so the run stays short (one batch, one revision, the hub rebuilds once).
        const keys = [...model.keys()].map((k) => {
          const [kind, namespace, name] = JSON.parse(k) as [string, string, string];
          return { kind, namespace, name };
        });
        const gone = await store.deleteBatch(keys);
        if (gone.results.some((x) => x.status !== 'deleted')) findings.add('store differs from the model', `reset after ${i + 1}: ${JSON.stringify(gone.results.find((x) => x.status !== 'deleted'))}`);
        model.clear();
        revision = gone.revision;
        resets++;
        hub.poke();
      }
    }
    await fullCheck(COUNT);
    const elapsed = performance.now() - t0;

    // The service still answers, and the hub builds every namespace seen, in a form the SDK loads.
    expect((await send(port, 'GET', '/v1/resources?kind=None')).status).toBe(200);
    await hub.refresh();
    const built: string[] = [];
    for (const ns of new Set([...namespaces, ...WATCHED_NAMESPACES])) {
      try {
        const b = await hub.snapshotFor(ns);
        expect(b.snapshot.namespace).toBe(ns);
        expect(b.snapshot.version).toMatch(/^[0-9a-f]{16}$/);
        const errors = loadObjects(b.snapshot.resources, `snapshot:${ns}`).diagnostics.filter((d) => d.severity === 'error');
        if (errors.length > 0) findings.add('a snapshot the SDK cannot load', `${ns}: ${errors[0]!.message.slice(0, 200)}`);
        built.push(ns);
      } catch (e) {
        findings.add('the hub cannot build a namespace', `${ns}: ${(e as Error).message}`);
      }
    }
    if (hubErrors.length > 0) findings.add('hub rebuild failed', String((hubErrors[0] as Error)?.message ?? hubErrors[0]));

    const byStatus = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
    console.log(
      `fuzz apply: seed ${SEED} (0x${SEED.toString(16)}), ${COUNT} requests, ${documents} documents, ${accepted} accepted, ${COUNT - accepted} refused, ` +
        `${model.size} objects stored at the end (the store was emptied ${resets} times), ${built.length} namespaces built, ${pushes} snapshot pushes, ${(elapsed / 1000).toFixed(1)} s ` +
        `(${(elapsed / COUNT).toFixed(2)} ms per request, slowest ${slowest.ms.toFixed(0)} ms ${slowest.labels.slice(0, 120)})\n` +
        `by answer: ${JSON.stringify(byStatus, null, 1)}`,
    );
    const known = findings.known();
    if (Object.keys(known).length > 0) console.log(`known bugs met (see the it.fails tests): ${JSON.stringify(known, null, 1)}`);
    const unexpected = findings.unexpected();
    if (Object.keys(unexpected).length > 0) console.log(`findings: ${JSON.stringify(unexpected, null, 1)}`);
    expect(unexpected).toEqual({});
    expect(accepted).toBeGreaterThan(COUNT / 10);
    expect(COUNT - accepted).toBeGreaterThan(COUNT / 10);
  }, 300_000);
});

/**
 * The bugs the fuzz met, one small reproduction each. They were `it.fails` until fixed; now
 * they guard the fixes (a new bug found by the fuzz gets its KNOWN entry and `it.fails` here).
 */
describe('bugs found by the apply fuzz (each reproduced on its own)', () => {
  let store: ControlStore;
  let hub: SnapshotHub;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    store = await openSqliteStore({ dataDir: ':memory:' });
    hub = new SnapshotHub({ store, heartbeatTtlMs: 3_600_000, now: Date.now, pollIntervalMs: 0 });
    server = createControlServer({ store, adminToken: ADMIN, hub, rateLimit: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    hub?.close();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await store?.close();
  });

  const apply = async (body: string, type = 'application/yaml'): Promise<{ status: number; body: any }> => {
    const a = await send(port, 'POST', '/v1/resources:apply', body, type);
    return { status: a.status, body: JSON.parse(a.text) };
  };
  const service = (name: string, namespace: string, extra = ''): string =>
    `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${JSON.stringify(name)}\n  namespace: ${JSON.stringify(namespace)}\nspec:\n  selector: {app: x}\n  ports:\n  - {name: http, port: 9080}\n${extra}`;
  const authz = (labels: string): string =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: deny-x\n  namespace: bugs\nspec:\n  selector:\n    matchLabels:\n${labels}  action: DENY\n  rules:\n  - {}\n`;

  // BUG-1 (packages/policy/src/load/loader.ts, flowDepthExceeded; packages/control/src/snapshots.ts, load):
  // YAML block nesting is allowed up to 2 × maxDepth indentation levels (and compact `- - -`
  // sequences are not counted at all), but the hub reloads every stored object as JSON, where
  // the same nesting counts as flow depth > maxDepth (64). loadObjects then yields no resource,
  // `loadObjects(...).resources[0]!` is undefined, and build() throws for every namespace:
  // after one accepted document, no watcher gets a new snapshot, new watches and
  // GET /v1/status answer 500, until an admin deletes the document.
  it('BUG-1: an accepted document nested 70 deep breaks every snapshot build (GET /v1/status → 500)', async () => {
    const deep = `  x:\n${Array.from({ length: 70 }, (_, i) => `${'  '.repeat(i + 2)}n:`).join('\n')} leaf\n`;
    const res = await apply(service('deep', 'bug1', deep));
    // Either refused (400 with a diagnostic) or accepted and buildable; never a store the hub cannot build.
    if (res.status === 200) {
      const status = await send(port, 'GET', '/v1/status');
      expect(status.status).toBe(200);
      await expect(hub.snapshotFor('any-namespace')).resolves.toBeDefined();
    } else {
      expect(res.status).toBe(400);
    }
  });

  // BUG-2 (packages/policy/src/validate: schema and semantic messages; packages/control/src/api/resources.ts,
  // publicDiagnostic): messages quote the invalid value whole and raw, so one 1 MB string gives
  // a 1 MB message (several, in several diagnostics), and a kind with a newline breaks the
  // one-line format. Fix: quote values through one helper that escapes control characters and
  // cuts after ~200 characters (`"xxxx…" (1048576 characters)`), in policy, and cap
  // `message` in publicDiagnostic as a backstop.
  it('BUG-2: a diagnostic quotes a 100,000-character value whole', async () => {
    const res = await apply(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: big, namespace: bugs}\nspec:\n  hosts: ["${'*.'.repeat(50_000)}"]\n`);
    expect(res.status).toBe(400);
    for (const d of res.body.diagnostics) expect(d.message.length).toBeLessThan(MAX_MESSAGE_LENGTH);
  });

  it('BUG-2: a diagnostic message carries a raw newline from the input', async () => {
    const res = await apply(JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService\n', metadata: { name: 'nl', namespace: 'bugs' }, spec: {} }), 'application/json');
    expect(res.status).toBe(400);
    for (const d of res.body.diagnostics) expect(d.message).not.toMatch(/[\r\n]/);
  });

  // BUG-3 (packages/policy/src/load/loader.ts, loadBuffer: `if (nul >= 0) return fail(...)`):
  // the NUL-byte refusal gives the offset in the message but no line or column, though the
  // U+FFFD refusal right below computes them with lineCol. Fix: the same lineCol(text, nul).
  it('BUG-3: a NUL byte is refused without a line', async () => {
    const res = await apply(`${service('nul', 'bugs')}  # \u0000\n`);
    expect(res.status).toBe(400);
    expect(res.body.diagnostics[0]).toMatchObject({ file: 'request', line: 10 });
  });

  // BUG-4 (packages/control/src/api/resources.ts, applyResources: `the body holds no resources`):
  // 400 `invalid` with `diagnostics: []`; every other 400 names file and line. Fix: one
  // diagnostic { code: 'empty', file, line: 1, message: 'the body holds no resources', fix: ... }.
  it('BUG-4: a body with no documents is a 400 without a diagnostic', async () => {
    const res = await apply('---\n# nothing here\n---\n');
    expect(res.status).toBe(400);
    expect(res.body.diagnostics.length).toBeGreaterThan(0);
    expect(res.body.diagnostics[0]).toMatchObject({ file: 'request', line: expect.any(Number) });
  });

  // BUG-5 (packages/control/src/api/resources.ts, applyResources; storeErrorToApi): nothing
  // before the store checks metadata.creationTimestamp, so a bad one comes back as the
  // store's `invalid` error: a diagnostic with code `store`, no file and no line. Fix: check it
  // in applyResources (RFC 3339, as the store does) and report r.locate(['metadata',
  // 'creationTimestamp']); or map a StoreError's key back to the resource's source position.
  it('BUG-5: a bad creationTimestamp is refused without file and line', async () => {
    const text = service('ts', 'bugs').replace('  namespace: "bugs"\n', '  namespace: "bugs"\n  creationTimestamp: yesterday\n');
    const res = await apply(text);
    expect(res.status).toBe(400);
    // Line 6: the creationTimestamp line (the line after `namespace`, which is line 5).
    expect(res.body.diagnostics[0]).toMatchObject({ file: 'request', line: 6, path: 'metadata.creationTimestamp' });
  });

  // BUG-6 (packages/control/src/api/apply-body.ts, parseJsonBody): V8's "Unexpected end of JSON
  // input" (a body cut after a `:` or a `[`) has no `position N`, so the diagnostic has no line. Fix: when the message has no
  // position, point at the end of the text (lineCol(text, text.length)).
  it('BUG-6: truncated JSON is refused without a line', async () => {
    const res = await apply('[\n  {"apiVersion": "v1", "kind": "Service"},\n  {"b":', 'application/json');
    expect(res.status).toBe(400);
    expect(res.body.diagnostics[0]).toMatchObject({ file: 'request', line: 3 });
  });

  // BUG-7 (packages/policy/src/validate/index.ts, validateResource, the Service branch): only
  // "name is set" and the ports are checked, so a Service is stored with any namespace and
  // name: "a..b", "x\u0007", 100,000 characters, "." (whose URL /v1/resources/Service/ns/.
  // normalises away: it can be neither read nor deleted through the API), lone surrogates
  // (which no URL can carry). Kubernetes requires a DNS-1123 label namespace and a DNS-1035
  // label name for a Service. Fix: check both there (and namespace for every kind).
  it('BUG-7: a Service named "." is accepted, and then cannot be read or deleted', async () => {
    const res = await apply(service('.', 'bugs'));
    if (res.status === 200) {
      expect((await send(port, 'GET', '/v1/resources/Service/bugs/.')).status).toBe(200);
    }
    expect(res.status).toBe(400);
  });

  it('BUG-7: a Service in namespace "a/b" is accepted', async () => {
    expect((await apply(service('svc', 'a/b'))).status).toBe(400);
  });

  // BUG-8 (packages/control/src/api/resources.ts applyResources, or the store's plain-JSON check in
  // packages/control/src/store/sqlite-store.ts): YAML's .inf and .nan load as Infinity/NaN; where
  // the schema does not look (a Service's targetPort, preserve-unknown-fields maps) they pass
  // validation, and JSON.stringify stores them as null: the object stored is not the one
  // accepted. Kubernetes refuses them (YAML→JSON: "unsupported value: +Inf"). Fix: refuse
  // non-finite numbers with a diagnostic at their path.
  it('BUG-8: targetPort: .inf is accepted and stored as null', async () => {
    const text = service('inf', 'bugs').replace('  - {name: http, port: 9080}\n', '  - {name: http, port: 9080, targetPort: .inf}\n');
    const res = await apply(text);
    if (res.status === 200) {
      const got = JSON.parse((await send(port, 'GET', '/v1/resources/Service/bugs/inf')).text);
      expect(got.spec.ports[0].targetPort).toBe(Infinity);
    }
    expect(res.status).toBe(400);
  });

  // BUG-9 (packages/control/src/store/keys.ts, canonicalJson): `out[k] = v` into a `{}` drops a
  // key named `__proto__` (it sets the prototype), so the content hash ignores it: adding,
  // changing or removing such a key is "unchanged" and not stored. JSON and YAML both make
  // it an ordinary key, and the schema lets it through in string maps (matchLabels here: the
  // DENY policy stays narrower than what was applied). Fix: build `out` with
  // Object.create(null) (or Object.defineProperty). (Label keys should also be validated:
  // `__proto__` is not a valid Kubernetes label key.)
  it('BUG-9: adding a __proto__ label to a selector is "unchanged"', async () => {
    expect((await apply(authz('      app: x\n'))).body.results[0].status).toBe('created');
    const res = await apply(authz('      app: x\n      __proto__: y\n'));
    expect(res.status === 400 || res.body.results[0].status === 'configured').toBe(true);
  });
});
