/**
 * The input side of the apply fuzz test: a seeded PRNG, the Istio corpus read in place
 * (/work/shared/conformance/istio), a small block-YAML writer, and mutations of documents
 * (fields deleted or swapped, out-of-range numbers, huge strings, bad durations and regexes,
 * wrong kinds, unicode, deep nesting) and of their text (tabs, unclosed quotes, duplicated
 * lines, alias bombs, truncation...), put together into batches that mix good and bad
 * documents. Nothing here knows what the control service does with them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadText } from '@meshwork/policy';

/** mulberry32: small, fast, deterministic. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

export type Obj = Record<string, unknown>;

export interface CorpusDoc {
  /** Where it came from, `path:line` relative to the corpus. */
  from: string;
  raw: Obj;
}

export interface Corpus {
  docs: CorpusDoc[];
  /** Whole files as they are (multi-document, mixed kinds). */
  files: { path: string; text: string }[];
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
}

/** Every Istio document and Kubernetes Service of the corpus, through the one loader. */
export function readCorpus(root: string): Corpus {
  const paths: string[] = [];
  walk(root, paths);
  paths.sort();
  const docs: CorpusDoc[] = [];
  const files: Corpus['files'] = [];
  for (const path of paths) {
    if (path.endsWith('crd-all.gen.yaml')) continue; // CRD definitions, 1 MB: not configuration
    const text = readFileSync(path, 'utf8');
    const rel = relative(root, path);
    files.push({ path: rel, text });
    for (const r of loadText(text, rel).resources) {
      if (!(r.group.endsWith('istio.io') || (r.apiVersion === 'v1' && r.kind === 'Service'))) continue;
      const raw = structuredClone(r.raw) as Obj;
      delete raw._err; // Istio's CRD test harness field, not API
      docs.push({ from: `${rel}:${r.source.line}`, raw });
    }
  }
  return { docs, files };
}

// ---------------------------------------------------------------------------------------
// A block-style YAML writer (JSON-quoted strings where a plain scalar could be misread).

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;

function yamlKey(k: string): string {
  return PLAIN.test(k) && !RESERVED.test(k) ? k : quote(k);
}

/** A YAML double-quoted scalar: JSON's escapes, plus the characters YAML must not see raw (C1, line and paragraph separators, BOM, noncharacters). */
function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function yamlScalar(v: unknown, r: Rng): string {
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.test(v) && r.chance(0.7) ? v : quote(v);
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (!Number.isFinite(v)) return v > 0 ? '.inf' : '-.inf';
    return String(v);
  }
  if (v === null || v === undefined) return 'null';
  return String(v);
}

function isComposite(v: unknown): v is Obj | unknown[] {
  return typeof v === 'object' && v !== null && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
}

function inline(v: unknown, r: Rng): string {
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object' && v !== null) return '{}';
  return yamlScalar(v, r);
}

function block(v: Obj | unknown[], pad: string, r: Rng, out: string[]): void {
  if (Array.isArray(v)) {
    for (const x of v) {
      if (isComposite(x)) {
        const start = out.length;
        block(x, `${pad}  `, r, out);
        out[start] = `${pad}- ${out[start]!.slice(pad.length + 2)}`;
      } else {
        out.push(`${pad}- ${inline(x, r)}`);
      }
    }
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (isComposite(x)) {
      out.push(`${pad}${yamlKey(k)}:`);
      block(x, `${pad}  `, r, out);
    } else {
      out.push(`${pad}${yamlKey(k)}: ${inline(x, r)}`);
    }
  }
}

/** One document as block YAML (or, sometimes, as JSON, which is YAML too). */
export function toYaml(doc: Obj, r: Rng): string {
  if (r.chance(0.05)) return `${JSON.stringify(doc, null, r.chance(0.5) ? 2 : undefined)}\n`;
  const out: string[] = [];
  block(doc, '', r, out);
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------
// Mutations.

interface Slot {
  parent: Obj | unknown[];
  key: string | number;
  value: unknown;
  depth: number;
}

function slots(root: unknown, max = 2000): Slot[] {
  const out: Slot[] = [];
  const stack: Array<{ v: unknown; depth: number }> = [{ v: root, depth: 0 }];
  while (stack.length > 0 && out.length < max) {
    const { v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [key, value] of entries) {
      out.push({ parent: v as Obj, key, value, depth: depth + 1 });
      stack.push({ v: value, depth: depth + 1 });
    }
  }
  return out;
}

function set(s: Slot, value: unknown): void {
  (s.parent as Record<string | number, unknown>)[s.key] = value;
}

function del(s: Slot): void {
  if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
  else delete s.parent[s.key as string];
}

const UNICODE = [
  'réseau', '网络', 'сеть', 'شبكة', '🚀', '\u200b', '\u202eevil', 'e\u0301', '\ufeffbom', '\u2028sep', 'Ω≈ç√',
  '\ud800', '\udfff', 'a\u0000b', '\u0007bell', '\u00a0nbsp', 'ＡＢＣ', 'İstanbul', 'ß', 'x\u0085y', '\u{10ffff}',
];

const BAD_DURATIONS = ['1x', '-1s', '1.5.5s', '9999999999999h', '', 'PT1S', '1h1', 's', '0.0000001ns', '1e3s', '1 s', '99999999999999999999s', '1.s', '-0s', '1m1m', 'NaNs', '∞s'];
const BAD_REGEXES = ['(', '[a-', '(?<x', '*', 'a{99999}', '(a+)+$', '\\p{Foo}', '(?i)x', 'a**', '\\', '[[:alpha:]', '(?P<n>x)', 'x{2,1}', '(?=x)', '\\k<a>'];
const NUMBERS = [-1, 0, 65535, 65536, 70000, 2 ** 31, 2 ** 32 + 1, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e-300, 1.5, 0.1, 101, 1e21, Infinity, -Infinity, NaN, -0];
const KINDS = ['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'WorkloadEntry', 'WorkloadGroup', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'Telemetry', 'EnvoyFilter', 'WasmPlugin', 'ProxyConfig', 'Service'];
const WRONG_KINDS = ['virtualservice', 'VirtualServices', 'NotAKind', '', 'Deployment', 'ConfigMap', 'Secret', 'Pod', 'Namespace', 'CustomResourceDefinition', ' VirtualService', 'VirtualService\n', '🚀'];
const WRONG_API_VERSIONS = ['networking.istio.io/v9', 'networking.istio.io', 'v1', 'v2', 'apps/v1', '', 'security.istio.io/v1', 'networking.istio.io/v1alpha3/extra', 'Networking.Istio.io/v1', 'telemetry.istio.io/v1alpha1', 'networking.istio.io/', '/v1'];
const DURATION_FIELDS = /^(timeout|perTryTimeout|interval|baseEjectionTime|connectTimeout|idleTimeout|fixedDelay|maxConnectionDuration|tcpKeepalive|time|drainDuration|delay|maxAge)$/;
const REGEX_FIELDS = /^(regex|safeRegex)$/;

function randomValueOtherThan(v: unknown, r: Rng): unknown {
  const options: unknown[] = ['str', 42, -7, true, false, null, [], {}, ['a', 1], { x: 1 }, '', 3.14];
  for (;;) {
    const c = r.pick(options);
    if (typeof c !== typeof v || Array.isArray(c) !== Array.isArray(v) || (c === null) !== (v === null)) return structuredClone(c);
  }
}

function nested(depth: number, r: Rng): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = r.chance(0.5) ? [v] : { n: v };
  return v;
}

/** Object mutations: each changes `doc` in place and names what it did. */
export const OBJECT_MUTATIONS: Record<string, (doc: Obj, r: Rng) => void> = {
  deleteField(doc, r) {
    const s = slots(doc);
    if (s.length) del(r.pick(s));
  },
  deleteTopLevel(doc, r) {
    delete doc[r.pick(['apiVersion', 'kind', 'metadata', 'spec'])];
  },
  swapType(doc, r) {
    const s = slots(doc);
    if (s.length) {
      const x = r.pick(s);
      set(x, randomValueOtherThan(x.value, r));
    }
  },
  outOfRange(doc, r) {
    const s = slots(doc);
    const nums = s.filter((x) => typeof x.value === 'number');
    const named = s.filter((x) => typeof x.key === 'string' && /weight|port|number|attempts|maxRetries|percent|value|http1MaxPendingRequests|maxConnections|consecutive/i.test(x.key));
    const pool = nums.length ? nums : named.length ? named : s;
    if (pool.length) set(r.pick(pool), r.pick(NUMBERS));
  },
  hugeString(doc, r) {
    const s = slots(doc).filter((x) => typeof x.value === 'string');
    const size = r.chance(0.02) ? r.range(500_000, 1_500_000) : r.range(1_000, 100_000);
    const big = r.pick(['x', 'ab', 'é', '🚀', '*.', 'a.']).repeat(size);
    if (s.length) set(r.pick(s), big);
    else doc.spec = { huge: big };
  },
  badDuration(doc, r) {
    const s = slots(doc).filter((x) => typeof x.key === 'string' && DURATION_FIELDS.test(x.key));
    const bad = r.pick(BAD_DURATIONS);
    if (s.length) {
      set(r.pick(s), bad);
      return;
    }
    const spec = (doc.spec ??= {}) as Obj;
    if (doc.kind === 'DestinationRule') spec.trafficPolicy = { connectionPool: { tcp: { connectTimeout: bad } } };
    else spec.http = [{ route: [{ destination: { host: 'reviews' } }], timeout: bad }];
  },
  badRegex(doc, r) {
    const s = slots(doc).filter((x) => typeof x.key === 'string' && REGEX_FIELDS.test(x.key));
    const bad = r.pick(BAD_REGEXES);
    if (s.length) {
      set(r.pick(s), bad);
      return;
    }
    const spec = (doc.spec ??= {}) as Obj;
    spec.http = [{ match: [{ uri: { regex: bad } }], route: [{ destination: { host: 'reviews' } }] }];
  },
  wrongKind(doc, r) {
    doc.kind = r.chance(0.5) ? r.pick(WRONG_KINDS) : r.pick(KINDS.filter((k) => k !== doc.kind));
  },
  wrongApiVersion(doc, r) {
    doc.apiVersion = r.pick(WRONG_API_VERSIONS);
  },
  unicode(doc, r) {
    const s = slots(doc).filter((x) => typeof x.value === 'string');
    const u = r.pick(UNICODE);
    const target = r.chance(0.3) ? null : s.length ? r.pick(s) : null;
    if (target) set(target, r.chance(0.5) ? u : `${String(target.value)}${u}`);
    else {
      const md = (doc.metadata ??= {}) as Obj;
      md[r.pick(['name', 'namespace'])] = r.chance(0.5) ? u : `x${u}`;
    }
  },
  unicodeKey(doc, r) {
    const s = slots(doc).filter((x) => typeof x.value === 'object' && x.value !== null && !Array.isArray(x.value));
    const target = (s.length ? r.pick(s).value : doc) as Obj;
    Object.defineProperty(target, r.pick(UNICODE), { value: r.pick(['v', 1, true]), enumerable: true, writable: true, configurable: true });
  },
  unknownField(doc, r) {
    const s = slots(doc).filter((x) => typeof x.value === 'object' && x.value !== null && !Array.isArray(x.value));
    const target = (s.length ? r.pick(s).value : doc) as Obj;
    // defineProperty: `__proto__` becomes an own key, as a YAML or JSON parser makes it.
    Object.defineProperty(target, r.pick(['bogusField', 'status', 'Spec', 'hosts ', '$ref', '__proto__', 'constructor']), { value: r.pick(['x', 1, { a: 1 }]), enumerable: true, writable: true, configurable: true });
  },
  metadata(doc, r) {
    const md = (typeof doc.metadata === 'object' && doc.metadata !== null && !Array.isArray(doc.metadata) ? doc.metadata : (doc.metadata = {})) as Obj;
    switch (r.int(10)) {
      case 0: delete md.name; break;
      case 1: md.name = r.pick(['', 'UPPER', 'a_b', 'a/b', 'a..b', '-a', 'a-', 'x'.repeat(254), '.', '..', '%2F', 'a b', '*']); break;
      case 2: md.namespace = r.pick(['', 'UPPER', 'a/b', 'x'.repeat(64), 'kube system', '..', '-ns', 'ns.with.dots']); break;
      case 3: md.resourceVersion = r.pick(['0', '1', '2', '999999', 'abc', '', '-1']); break;
      case 4: md.resourceVersion = r.pick([0, 1, 5, 999999, -1, true, null]); break;
      case 5: md.creationTimestamp = r.pick(['yesterday', '2024-13-45T99:99:99Z', '2024-05-01T12:00:00Z', '2024-05-01', 0, 1714564800, '', null, '2024-05-01T12:00:00+02:00']); break;
      case 6: md.generation = r.pick([0, -1, 'two', 1e300]); break;
      case 7: md.labels = r.pick([{ app: 1 }, { '': 'x' }, { 'a/b/c': 'x' }, 'notamap', [1], { app: null }]); break;
      case 8: md.annotations = r.pick([{ big: 'y'.repeat(300_000) }, { n: 5 }, 'str']); break;
      default: doc.metadata = r.pick(['str', 5, [], null]);
    }
  },
  deepNesting(doc, r) {
    const spec = (typeof doc.spec === 'object' && doc.spec !== null && !Array.isArray(doc.spec) ? doc.spec : (doc.spec = {})) as Obj;
    spec[r.pick(['http', 'deep', 'hosts', 'rules'])] = nested(r.pick([10, 40, 63, 64, 65, 70, 150, 600]), r);
  },
  emptySpec(doc, r) {
    doc.spec = r.pick([{}, null, [], '', 0]);
  },
  renameToExisting(doc, r) {
    const md = (typeof doc.metadata === 'object' && doc.metadata !== null && !Array.isArray(doc.metadata) ? doc.metadata : (doc.metadata = {})) as Obj;
    md.name = r.pick(['reviews', 'ratings', 'productpage', 'details', 'default', 'httpbin']);
  },
};

/** Text mutations of a document's (or a batch's) YAML. `reject` marks those no loader may accept. */
export const TEXT_MUTATIONS: Record<string, { reject: boolean; apply: (text: string, r: Rng) => string }> = {
  tabIndent: { reject: false, apply: (t, r) => editLine(t, r, (l) => l.replace(/^( +)/, (m) => (r.chance(0.5) ? '\t' : `${m.slice(1)}\t`))) },
  unclosedQuote: { reject: false, apply: (t, r) => editLine(t, r, (l) => l.replace(/: /, r.chance(0.5) ? ': "' : ": '")) },
  unclosedFlow: { reject: false, apply: (t, r) => editLine(t, r, (l) => `${l} [a, {b: c`) },
  dropColon: { reject: false, apply: (t, r) => editLine(t, r, (l) => l.replace(':', '')) },
  duplicateLine: { reject: false, apply: (t, r) => editLine(t, r, (l) => `${l}\n${l}`) },
  shiftIndent: { reject: false, apply: (t, r) => editLine(t, r, (l) => ` ${l}`) },
  truncate: { reject: false, apply: (t, r) => t.slice(0, r.int(t.length)) },
  junk: {
    reject: false,
    apply: (t, r) => {
      const at = r.int(t.length + 1);
      const junk = Array.from({ length: r.range(1, 4) }, () => r.pick(['{', '}', '[', ']', ':', '&', '*', '!', '%', '@', '`', '|', '>', '\t', '#', '"', "'", '- ', '? ', '\r', '\u0085', '\ufeff'])).join('');
      return t.slice(0, at) + junk + t.slice(at);
    },
  },
  separator: { reject: false, apply: (t, r) => editLine(t, r, (l) => `---\n${l}`) },
  directive: { reject: false, apply: (t, r) => `${r.pick(['%YAML 1.1\n---\n', '%YAML 2.0\n---\n', '%TAG ! tag:example.com,2000:\n---\n', '%FOO bar\n---\n', '...\n'])}${t}` },
  tag: { reject: false, apply: (t, r) => editLine(t, r, (l) => l.replace(/: (.*)$/, (_m, v: string) => `: ${r.pick(['!!binary', '!!str', '!!int', '!!float', '!!set', '!foo', '!!map', '!!timestamp', '!<tag:x>'])} ${v}`)) },
  crlf: { reject: false, apply: (t) => t.replace(/\n/g, '\r\n') },
  nul: { reject: true, apply: (t, r) => editLine(t, r, (l) => `${l}\u0000`) },
  aliasBomb: {
    reject: true,
    apply: (t) => {
      const lines = ['lol0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
      for (let i = 1; i < 9; i++) lines.push(`lol${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
      return `${t.trimEnd()}\nbomb:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
    },
  },
  selfAlias: { reject: true, apply: (t) => `${t.trimEnd()}\nloop: &s {http: [*s]}\n` },
  benignAlias: { reject: false, apply: (t) => t.replace(/^(\s*)hosts:\s*$/m, '$1hosts: &h') },
  mergeKey: { reject: false, apply: (t) => `${t.trimEnd()}\nbase: &base {a: 1}\nextended:\n  <<: *base\n  b: 2\n` },
  compactNesting: { reject: false, apply: (t, r) => `${t.trimEnd()}\nnest:\n  ${'- '.repeat(r.pick([20, 66, 300, 2000, 20_000]))}x\n` },
  flowNesting: { reject: true, apply: (t, r) => `${t.trimEnd()}\nnest: ${'['.repeat(r.pick([65, 500, 50_000]))}\n` },
  blockNesting: {
    reject: true,
    apply: (t, r) => {
      const depth = r.pick([130, 400]);
      return `${t.trimEnd()}\nnest:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} v\n`;
    },
  },
  longLine: { reject: false, apply: (t, r) => `# ${'c'.repeat(r.range(10_000, 300_000))}\n${t}` },
  bom: { reject: false, apply: (t) => `\ufeff${t}` },
};

function editLine(text: string, r: Rng, f: (line: string) => string): string {
  const lines = text.split('\n');
  const candidates = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '');
  if (candidates.length === 0) return f(text);
  const [, i] = r.pick(candidates);
  lines[i] = f(lines[i]!);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Cases: one request each.

export interface FuzzCase {
  /** What was done, for the report (`good`, `deleteField`, `text:tabIndent`...). */
  labels: string[];
  contentType: string;
  body: string | Buffer;
  /** `?file=` to send, if any. */
  file?: string | undefined;
  /**
   * The documents as objects, when the body holds exactly these (no text mutation): an
   * accepted batch must store each of them, with this spec.
   */
  docs?: Obj[] | undefined;
  /** A mutation that no correct service accepts (syntax it must refuse, NUL bytes, alias bombs...). */
  mustReject?: string | undefined;
}

/** A unique name for a good document, so batches of good documents do not collide. */
function renamed(doc: Obj, r: Rng): void {
  const md = doc.metadata as Obj | undefined;
  if (md && typeof md === 'object' && typeof md.name === 'string' && r.chance(0.6)) md.name = `${md.name}-f${r.int(40)}`;
}

export function generateCase(corpus: Corpus, r: Rng): FuzzCase {
  const roll = r.next();
  // A few requests outside the batch shapes: content types, empty bodies, whole corpus files, size limits.
  if (roll < 0.01) return { labels: ['contentType'], contentType: r.pick(['text/plain', 'application/xml', '', 'multipart/form-data', 'application/yaml+evil']), body: 'apiVersion: v1\n' };
  if (roll < 0.02) {
    const body = r.pick(['', '\n', '# only a comment\n', '---\n---\n', '...\n', 'just a scalar\n', '- a\n- list\n', '42\n', 'null\n', '~\n', '[]', '{}', '\ufeff']);
    return { labels: ['degenerate'], contentType: 'application/yaml', body };
  }
  if (roll < 0.04) {
    const f = r.pick(corpus.files);
    return { labels: ['corpusFile'], contentType: 'application/yaml', body: f.text, file: r.chance(0.5) ? f.path : undefined };
  }
  if (roll < 0.0412) return { labels: ['tooLarge'], contentType: 'application/yaml', body: Buffer.alloc(4 * 1024 * 1024 + r.range(1, 1000), 0x61), mustReject: 'tooLarge' };

  const n = r.chance(0.5) ? 1 : r.range(2, 6);
  const docs: Obj[] = [];
  const labels: string[] = [];
  let mustReject: string | undefined;
  for (let i = 0; i < n; i++) {
    const doc = structuredClone(r.pick(corpus.docs).raw);
    renamed(doc, r);
    if (r.chance(0.45)) {
      const m = r.pick(Object.keys(OBJECT_MUTATIONS));
      OBJECT_MUTATIONS[m]!(doc, r);
      labels.push(m);
    } else {
      labels.push('good');
    }
    docs.push(doc);
  }
  const json = r.chance(0.15);
  if (json) {
    const shape = r.int(3);
    const value = shape === 0 && docs.length === 1 ? docs[0] : shape === 1 ? { apiVersion: 'v1', items: docs } : docs;
    let body = JSON.stringify(value, null, r.chance(0.7) ? 2 : undefined);
    if (r.chance(0.1)) {
      body = r.chance(0.5) ? body.slice(0, r.int(body.length)) : body.replace(/}(\s*)$/, '},$1');
      labels.push('json:broken');
      return { labels, contentType: 'application/json', body };
    }
    labels.push('json');
    // What was sent: JSON has no NaN or Infinity (they became null).
    const sent = JSON.parse(body) as Obj | Obj[];
    const sentDocs = Array.isArray(sent) ? sent : Array.isArray(sent.items) && !('kind' in sent) ? (sent.items as Obj[]) : [sent];
    return { labels, contentType: r.chance(0.8) ? 'application/json' : 'application/json; charset=utf-8', body, docs: sentDocs };
  }
  let text = docs.map((d) => toYaml(d, r)).join(r.pick(['---\n', '---\n', '\n---\n', '--- \n', '---\n# between\n']));
  let textMutated = false;
  if (r.chance(0.25)) {
    const m = r.pick(Object.keys(TEXT_MUTATIONS));
    const t = TEXT_MUTATIONS[m]!;
    text = t.apply(text, r);
    labels.push(`text:${m}`);
    textMutated = true;
    if (t.reject) mustReject = `text:${m}`;
  }
  return {
    labels,
    contentType: r.pick(['application/yaml', 'application/yaml', 'application/x-yaml', 'text/yaml', 'application/yaml; charset=utf-8']),
    body: text,
    file: r.chance(0.2) ? r.pick(['shop.yaml', 'dir/x.yaml', 'ünï.yaml', 'a b.yaml']) : undefined,
    docs: textMutated ? undefined : docs,
    mustReject,
  };
}
