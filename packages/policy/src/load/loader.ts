/**
 * Reads Istio YAML from files, folders or strings: multi-document, with a line and column for
 * every node, and with hostile input (huge files, alias bombs, deep nesting, binary junk)
 * turned into one clear error instead of a crash or a hang.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, visit, type Node } from 'yaml';
import type { Diagnostic } from '../diagnostics.js';
import { formatPath, resourceKey, type PathSegment, type Resource, type SourceLocation } from './resource.js';

export interface LoadLimits {
  /** Largest file accepted, in bytes (default 8 MiB: the biggest Istio object etcd stores is 1.5 MB). */
  maxFileBytes: number;
  /** Deepest nesting of maps and lists (default 64). */
  maxDepth: number;
  /** Most alias references per document (default 100). */
  maxAliases: number;
  /** Most documents per file (default 10,000). */
  maxDocuments: number;
}

export const DEFAULT_LIMITS: LoadLimits = {
  maxFileBytes: 8 * 1024 * 1024,
  maxDepth: 64,
  maxAliases: 100,
  maxDocuments: 10_000,
};

export interface LoadResult {
  resources: Resource[];
  /** Problems that made a file or document unusable (severity `error`), and skipped kinds (`info`). */
  diagnostics: Diagnostic[];
  /** Files read, in order. */
  files: string[];
}

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Expands files and folders (recursively, sorted) into the list of config files to read. */
export function listConfigFiles(paths: readonly string[]): { files: string[]; diagnostics: Diagnostic[] } {
  const files: string[] = [];
  const diagnostics: Diagnostic[] = [];
  const walk = (p: string, explicit: boolean): void => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      diagnostics.push({ severity: 'error', code: 'load', file: p, message: `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, fix: 'check the path given to -f' });
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        walk(join(p, name), false);
      }
    } else if (explicit || CONFIG_EXTENSIONS.has(extname(p).toLowerCase())) {
      files.push(p);
    }
  };
  for (const p of paths) walk(p, true);
  return { files, diagnostics };
}

/** Loads files and folders. */
export function loadPaths(paths: readonly string[], limits: Partial<LoadLimits> = {}): LoadResult {
  const { files, diagnostics } = listConfigFiles(paths);
  const resources: Resource[] = [];
  for (const file of files) {
    let buf: Buffer;
    try {
      const size = statSync(file).size;
      const max = limits.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes;
      if (size > max) {
        diagnostics.push({ severity: 'error', code: 'load', file, message: `file is ${formatBytes(size)}; the limit is ${formatBytes(max)}`, fix: 'split the configuration into smaller files' });
        continue;
      }
      buf = readFileSync(file);
    } catch (e) {
      diagnostics.push({ severity: 'error', code: 'load', file, message: `cannot read ${file}: ${(e as Error).message}` });
      continue;
    }
    const r = loadBuffer(buf, file, limits, resources.length);
    resources.push(...r.resources);
    diagnostics.push(...r.diagnostics);
  }
  return { resources, diagnostics, files };
}

/** Loads YAML (or JSON) text held in memory. `startOrder` continues the order across files. */
export function loadText(text: string, file = '<input>', limits: Partial<LoadLimits> = {}, startOrder = 0): LoadResult {
  return loadBuffer(Buffer.from(text, 'utf8'), file, limits, startOrder);
}

/**
 * Loads documents that are already plain objects (parsed JSON: a request body, a snapshot
 * from the control service, a registry built in code) through the same path as `loadText`:
 * each document is written as JSON — which is YAML — and read back by the one loader, so it
 * gets the same checks, the same Resource shape and a working `locate()`.
 *
 * Positions read as if the documents were written one per line (JSON Lines): document `i`
 * (0-based) is on line `i + 1` of `file`, and columns count within its JSON text. A
 * document that is not an object (null, a list, a number...) or cannot be written as JSON
 * (a BigInt, a cycle) gets an `error` diagnostic on its line and yields no resource. The
 * load limits (size, depth) apply to each document, not to the whole list.
 *
 * @example
 * const { resources } = loadObjects([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews' }, spec: {} }]);
 */
export function loadObjects(docs: readonly unknown[], file = '<objects>', startOrder = 0): LoadResult {
  const resources: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  docs.forEach((doc, i) => {
    const line = i + 1;
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      const what = doc === null || doc === undefined ? String(doc) : Array.isArray(doc) ? 'a list' : `a ${typeof doc}`;
      diagnostics.push({ severity: 'error', code: 'yaml', file, line, column: 1, message: `document ${line} is ${what}, not a Kubernetes object`, fix: 'each document needs apiVersion, kind, metadata and spec' });
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(doc);
    } catch (e) {
      diagnostics.push({ severity: 'error', code: 'yaml', file, line, column: 1, message: `document ${line} cannot be written as JSON: ${firstLine((e as Error).message)}`, fix: 'pass plain data (objects, lists, strings, numbers, booleans, null)' });
      return;
    }
    const fast = objectResource(text, file, line, startOrder + resources.length);
    if (fast) {
      resources.push(fast);
      return;
    }
    // Anything the fast path does not vouch for (too large, too deep, no apiVersion or kind)
    // goes through the one loader, which says what is wrong and where.
    const r = loadBuffer(Buffer.from(text, 'utf8'), file, {}, startOrder + resources.length, i);
    resources.push(...r.resources);
    for (const d of r.diagnostics) diagnostics.push(d.line === undefined ? { ...d, line, column: 1 } : d);
  });
  return { resources, diagnostics, files: [file] };
}

/**
 * The Resource of one object document without the YAML library: JSON text is what the YAML
 * loader would read, and for plain data it yields the same Resource (the same data, digest,
 * order and start), so only `locate()` needs the YAML tree — built on its first call, which
 * only diagnostics make. Why: loading a control-service snapshot through the YAML parser was
 * most of a workload's cold start (170 of ~220 ms applying its first snapshot, profiled).
 * Undefined when the document needs the full loader's checks and messages.
 */
function objectResource(text: string, file: string, line: number, order: number): Resource | undefined {
  if (Buffer.byteLength(text, 'utf8') > DEFAULT_LIMITS.maxFileBytes) return undefined;
  const data = JSON.parse(text) as Record<string, unknown>;
  if (typeof data.apiVersion !== 'string' || data.apiVersion === '' || typeof data.kind !== 'string' || data.kind === '') return undefined;
  if (pathDeeperThan(data, DEFAULT_LIMITS.maxDepth)) return undefined;
  const start = { line, column: 1 };
  let tree: { doc: Document.Parsed; pos: (offset: number) => { line: number; column: number } } | undefined;
  const yamlTree = () => {
    if (!tree) {
      const lineCounter = new LineCounter();
      const doc = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true }) as unknown as Document.Parsed[];
      tree = { doc: (Array.isArray(doc) ? doc[0] : doc) as Document.Parsed, pos: (offset) => ({ line: lineCounter.linePos(offset).line + line - 1, column: lineCounter.linePos(offset).col }) };
    }
    return tree;
  };
  const digest = createHash('sha1').update(text).digest('base64url');
  const r = toResource(data, undefined, file, start, (offset) => yamlTree().pos(offset), order, digest, () => yamlTree().doc);
  return 'error' in r ? undefined : r;
}

/** `lineOffset`: lines before this text in `file` (loadObjects puts document i on line i + 1). */
function loadBuffer(buf: Buffer, file: string, partial: Partial<LoadLimits>, startOrder: number, lineOffset = 0): LoadResult {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  const diagnostics: Diagnostic[] = [];
  const resources: Resource[] = [];
  const fail = (message: string, fix?: string, line?: number, column?: number): LoadResult => {
    diagnostics.push({ severity: 'error', code: 'yaml', file, line: line === undefined ? undefined : line + lineOffset, column, message, fix });
    return { resources, diagnostics, files: [file] };
  };
  if (buf.length > limits.maxFileBytes) {
    return fail(`input is ${formatBytes(buf.length)}; the limit is ${formatBytes(limits.maxFileBytes)}`, 'split the configuration into smaller files');
  }
  const text = buf.toString('utf8');
  const nul = buf.indexOf(0);
  if (nul >= 0) {
    // A NUL byte is never part of a multi-byte UTF-8 sequence: it is U+0000 in the decoded text.
    const lc = lineCol(text, text.indexOf('\u0000'));
    return fail(`not a text file (NUL byte at offset ${nul})`, 'pass YAML or JSON files only', lc.line, lc.column);
  }
  const bad = text.indexOf('\uFFFD');
  if (bad >= 0 && !buf.includes(Buffer.from('\uFFFD', 'utf8'))) {
    const lc = lineCol(text, bad);
    return fail('not valid UTF-8 text', 'save the file as UTF-8', lc.line, lc.column);
  }
  // A first, generous bound on the raw text before parsing, so a 10,000-deep document is
  // refused without ever building (or recursing through) its tree. The limit itself is
  // measured on the parsed data below, the same way for YAML and JSON.
  const depth = textNestingExceeded(text, 2 * limits.maxDepth);
  if (depth) {
    return fail(`nesting deeper than ${limits.maxDepth} levels`, 'Istio resources nest far less deeply; check for generated or corrupted input', depth.line, depth.column);
  }

  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true }) as Document.Parsed[];
  } catch (e) {
    return fail(`cannot parse YAML: ${(e as Error).message}`);
  }
  if (!Array.isArray(docs)) docs = [docs as unknown as Document.Parsed];
  if (docs.length > limits.maxDocuments) {
    return fail(`${docs.length} documents; the limit is ${limits.maxDocuments}`, 'split the configuration into several files');
  }
  const pos = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line + lineOffset, column: p.col };
  };

  let order = startOrder;
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      const p = pos(err.pos[0]);
      diagnostics.push({ severity: 'error', code: 'yaml', file, ...p, message: `invalid YAML: ${firstLine(err.message)}`, fix: 'correct the YAML syntax at this position' });
      return;
    }
    if (doc.contents === null) return; // empty document between `---` separators
    const start = pos(doc.contents.range?.[0] ?? 0);
    readFlowColonsAsGo(doc, text);
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: limits.maxAliases });
    } catch (e) {
      const msg = (e as Error).message;
      const alias = /alias/i.test(msg);
      diagnostics.push({
        severity: 'error', code: 'yaml', file, ...start,
        message: alias ? `too many YAML alias expansions (limit ${limits.maxAliases}): ${firstLine(msg)}` : `cannot read YAML document: ${firstLine(msg)}`,
        fix: alias ? 'write the repeated values out instead of using anchors and aliases' : undefined,
      });
      return;
    }
    if (data === null || data === undefined) return;
    if (isCyclic(data)) {
      // `spec: &a {http: [*a]}` builds a value that contains itself; Go's YAML reader refuses it.
      diagnostics.push({ severity: 'error', code: 'yaml', file, ...start, message: 'error converting YAML to JSON: yaml: anchor value contains itself', fix: 'an alias may not refer to the node that contains it' });
      return;
    }
    if (typeof data !== 'object' || Array.isArray(data)) {
      diagnostics.push({ severity: 'error', code: 'yaml', file, ...start, message: `document ${index + 1} is a ${Array.isArray(data) ? 'list' : typeof data}, not a Kubernetes object`, fix: 'each document needs apiVersion, kind, metadata and spec' });
      return;
    }
    // Nesting counted on the data itself (aliases expanded), as it is stored and reloaded as
    // JSON: a document accepted here loads again from its JSON form, and the other way round.
    const deep = pathDeeperThan(data, limits.maxDepth);
    if (deep) {
      diagnostics.push({ severity: 'error', code: 'yaml', file, ...pos(locateOffset(doc, deep) ?? 0), path: formatPath(deep), message: `nesting deeper than ${limits.maxDepth} levels`, fix: 'Istio resources nest far less deeply; check for generated or corrupted input' });
      return;
    }
    // YAML's .inf and .nan have no JSON form: Kubernetes refuses them when it converts the document to JSON.
    const bad = nonFiniteNumber(data);
    if (bad) {
      diagnostics.push({
        severity: 'error', code: 'yaml', file, ...pos(locateOffset(doc, bad.path) ?? 0), path: formatPath(bad.path) || undefined,
        message: `error converting YAML to JSON: json: unsupported value: ${Number.isNaN(bad.value) ? 'NaN' : bad.value > 0 ? '+Inf' : '-Inf'}`,
        fix: 'JSON has no infinity or NaN: write a finite number, or quote the value to make it a string',
      });
      return;
    }
    const range = doc.range ?? [0, text.length];
    const digest = createHash('sha1').update(text.slice(range[0], range[2] ?? range[1])).digest('base64url');
    const r = toResource(data as Record<string, unknown>, doc, file, start, pos, order, digest);
    if ('error' in r) {
      diagnostics.push({ severity: 'error', code: 'load', file, ...start, message: r.error, fix: r.fix });
      return;
    }
    order++;
    resources.push(r);
  });
  return { resources, diagnostics, files: [file] };
}

function toResource(
  raw: Record<string, unknown>,
  parsed: Document.Parsed | undefined,
  file: string,
  start: { line: number; column: number },
  pos: (offset: number) => { line: number; column: number },
  order: number,
  digest: string,
  /** The YAML tree when it is built lazily (objectResource): asked for by locate() only. */
  lazyDoc?: () => Document.Parsed,
): Resource | { error: string; fix: string } {
  const apiVersion = raw.apiVersion;
  const kind = raw.kind;
  if (typeof apiVersion !== 'string' || apiVersion === '') return { error: 'apiVersion is missing', fix: 'add apiVersion, e.g. networking.istio.io/v1' };
  if (typeof kind !== 'string' || kind === '') return { error: 'kind is missing', fix: 'add kind, e.g. VirtualService' };
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  const md = (raw.metadata && typeof raw.metadata === 'object' && !Array.isArray(raw.metadata) ? raw.metadata : {}) as Record<string, unknown>;
  const name = typeof md.name === 'string' ? md.name : '';
  const namespace = typeof md.namespace === 'string' && md.namespace !== '' ? md.namespace : 'default';
  // Object.fromEntries defines every key as an own property, `__proto__` included (`out[k] = ...` would set the prototype).
  const strMap = (v: unknown): Record<string, string> =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
  const ts = md.creationTimestamp;
  const locate = (path: readonly PathSegment[]): { file: string; line: number; column: number } => {
    const doc = parsed ?? lazyDoc!();
    const offset = locateOffset(doc, path);
    return { file, ...(offset === undefined ? start : pos(offset)) };
  };
  return {
    apiVersion,
    group,
    version,
    kind,
    metadata: {
      name,
      namespace,
      labels: strMap(md.labels),
      annotations: strMap(md.annotations),
      creationTimestamp: ts instanceof Date ? ts.toISOString() : typeof ts === 'string' ? ts : undefined,
      generation: typeof md.generation === 'number' ? md.generation : undefined,
      resourceVersion: typeof md.resourceVersion === 'string' ? md.resourceVersion : undefined,
    },
    spec: raw.spec ?? {},
    raw,
    key: resourceKey(kind, namespace, name),
    source: { file, ...start },
    order,
    digest,
    locate,
  };
}

/** True when a value reached through aliases contains itself (iterative, no recursion). */
function isCyclic(root: unknown): boolean {
  if (!root || typeof root !== 'object') return false;
  const onPath = new Set<object>();
  const stack: { node: object; children: unknown[]; i: number }[] = [];
  const enter = (node: object) => {
    onPath.add(node);
    stack.push({ node, children: Array.isArray(node) ? node : Object.values(node), i: 0 });
  };
  enter(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.children.length) {
      onPath.delete(top.node);
      stack.pop();
      continue;
    }
    const child = top.children[top.i++];
    if (child && typeof child === 'object') {
      if (onPath.has(child)) return true;
      enter(child);
    }
  }
  return false;
}

type Container = Record<string, unknown> | unknown[];

const isContainer = (v: unknown): v is Container => v !== null && typeof v === 'object' && !(v instanceof Date);

function childEntries(node: Container): [PathSegment, unknown][] {
  return Array.isArray(node) ? node.map((v, i) => [i, v]) : Object.entries(node);
}

/**
 * The path to the first map or list nested deeper than `max` (the document itself is level
 * 1), or undefined. Iterative, and linear in the data even when aliases share subtrees
 * (heights are memoised per object); the data must be acyclic (`isCyclic` first).
 */
function pathDeeperThan(root: unknown, max: number): PathSegment[] | undefined {
  if (!isContainer(root)) return undefined;
  const height = new Map<object, number>();
  const stack: { node: Container; children: [PathSegment, unknown][]; i: number; h: number }[] = [{ node: root, children: childEntries(root), i: 0, h: 1 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i < top.children.length) {
      const child = top.children[top.i++]![1];
      if (!isContainer(child)) continue;
      const known = height.get(child);
      if (known !== undefined) top.h = Math.max(top.h, known + 1);
      else stack.push({ node: child, children: childEntries(child), i: 0, h: 1 });
      continue;
    }
    stack.pop();
    height.set(top.node, top.h);
    const parent = stack[stack.length - 1];
    if (parent) parent.h = Math.max(parent.h, top.h + 1);
  }
  if (height.get(root)! <= max) return undefined;
  // Down the tallest branch to the first level past the limit.
  const path: PathSegment[] = [];
  let node: Container = root;
  for (let level = 1; level <= max; level++) {
    let next: [PathSegment, Container] | undefined;
    for (const [k, v] of childEntries(node)) if (isContainer(v) && (next === undefined || height.get(v)! > height.get(next[1])!)) next = [k, v];
    path.push(next![0]);
    node = next![1];
  }
  return path;
}

/** The first NaN or ±Infinity in the data and its path (iterative; each shared object once). */
function nonFiniteNumber(root: unknown): { path: PathSegment[]; value: number } | undefined {
  if (!isContainer(root)) return undefined;
  const seen = new Set<object>([root]);
  const stack: { children: [PathSegment, unknown][]; i: number; path: PathSegment[] }[] = [{ children: childEntries(root), i: 0, path: [] }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.children.length) {
      stack.pop();
      continue;
    }
    const [k, v] = top.children[top.i++]!;
    if (typeof v === 'number' && !Number.isFinite(v)) return { path: [...top.path, k], value: v };
    if (isContainer(v) && !seen.has(v)) {
      seen.add(v);
      stack.push({ children: childEntries(v), i: 0, path: [...top.path, k] });
    }
  }
  return undefined;
}

/**
 * Go's YAML parser (which Kubernetes and Istio use) reads `[1.2.3.4, 2001:db8::]` as two
 * strings; the YAML 1.2 spec, and so the `yaml` package, reads the second item as the
 * one-pair map `{"2001:db8:": null}` because its last `:` is followed by `]`. Istio's own
 * corpus has such IPv6 addresses, so a flow-sequence item that is a bare `key:` with no
 * space and no value is read back as the plain string it was written as.
 */
function readFlowColonsAsGo(doc: Document.Parsed, text: string): void {
  visit(doc, {
    Seq(_, seq) {
      if (!seq.flow) return;
      seq.items.forEach((item, i) => {
        if (!isMap(item) || item.items.length !== 1) return;
        const pair = item.items[0]!;
        const range = (item as Node).range;
        if (!range || pair.value !== null && !(isScalar(pair.value) && pair.value.value === null && (pair.value as Node).range?.[0] === (pair.value as Node).range?.[1])) return;
        const raw = text.slice(range[0], range[1]);
        if (raw.startsWith('{') || /\s/.test(raw) || !raw.endsWith(':')) return;
        const sc = new Scalar(raw);
        sc.range = [range[0], range[1], range[2]];
        seq.items[i] = sc;
      });
    },
  });
}

/** Offset of the deepest node on `path` that exists: the key of a map entry, or a list item. */
function locateOffset(doc: Document.Parsed, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let best: number | undefined = (doc.contents as Node | null)?.range?.[0];
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      best = keyNode.range?.[0] ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      best = item.range?.[0] ?? best;
      node = item;
    } else {
      break;
    }
  }
  return best;
}

/**
 * A bound on nesting read from the raw text in one pass, before anything is parsed: flow
 * brackets outside quoted strings plus block indentation steps, a compact `- - -` sequence
 * counting one step per `- `. It over-counts (the lines of a block scalar count as steps), so
 * it only guards the parser against pathological input, with a limit well above the real
 * one; the real limit is counted on the parsed data (`pathDeeperThan`). Returns where the
 * bound is first exceeded.
 */
function textNestingExceeded(text: string, max: number): { line: number; column: number } | undefined {
  let depth = 0;
  let quote = '';
  let line = 1;
  let lineStart = 0;
  let comment = false;
  const indents: number[] = [];
  const indent = (col: number): boolean => {
    while (indents.length > 0 && indents[indents.length - 1]! >= col) indents.pop();
    indents.push(col);
    return indents.length > max;
  };
  let atLineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      comment = false;
      atLineStart = true;
      continue;
    }
    if (atLineStart) {
      if (c === ' ' || c === '\t') continue;
      atLineStart = false;
      if (depth === 0 && !quote) {
        // Block nesting: indentation levels of this line, then each compact `- ` entry on it.
        if (indent(i - lineStart)) return { line, column: i - lineStart + 1 };
        while (text[i] === '-' && (text[i + 1] === ' ' || text[i + 1] === '\t')) {
          i += 2;
          while (text[i] === ' ' || text[i] === '\t') i++;
          if (i >= text.length || text[i] === '\n' || text[i] === '\r' || text[i] === '#') break;
          if (indent(i - lineStart)) return { line, column: i - lineStart + 1 };
        }
        if (i >= text.length) break;
        if (text[i] === '\n') {
          i--; // the newline is handled by the next turn
          continue;
        }
      }
    }
    const ch = text[i]!;
    if (comment) continue;
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = '';
      continue;
    }
    if (ch === '#') comment = true;
    else if (ch === '"' || ch === "'") {
      const prev = text[i - 1];
      if (prev === undefined || /[\s,[{:]/.test(prev)) quote = ch;
    } else if (ch === '[' || ch === '{') {
      depth++;
      if (depth + indents.length > max) return { line, column: i - lineStart + 1 };
    } else if (ch === ']' || ch === '}') {
      if (depth > 0) depth--;
    }
  }
  return undefined;
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, column: offset - last };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

export { formatPath };
