/**
 * Turns the body of `POST /v1/resources:apply` into resources with source positions that
 * point into the request body: YAML as multi-document text, JSON as one object, an array,
 * or a `{ items: [...] }` list. Each JSON element is handed to the loader padded so that its
 * line and column stay those of the original body.
 */
import { loadText, type Diagnostic, type Resource } from '@meshwork/policy';

export interface ParsedBody {
  resources: Resource[];
  diagnostics: Diagnostic[];
}

export function parseYamlBody(text: string, file: string): ParsedBody {
  const r = loadText(text, file);
  return { resources: r.resources, diagnostics: r.diagnostics };
}

export function parseJsonBody(text: string, file: string): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    // V8 names the position for most errors, but not for "Unexpected end of JSON input" nor
    // "Unexpected token 'x', ..." : then the offset is found by scanning (the end, for a cut body).
    const at = /position (\d+)/.exec(msg);
    const where = lineCol(text, at ? Number(at[1]) : jsonErrorOffset(text));
    return { resources: [], diagnostics: [{ severity: 'error', code: 'json', file, ...where, message: `invalid JSON: ${msg.replace(/\s*\(line \d+ column \d+\)$/, '')}`, fix: 'correct the JSON syntax at this position' }] };
  }
  const start = skipWs(text, 0);
  let spans: Array<[number, number]>;
  if (Array.isArray(value)) {
    spans = arrayElementSpans(text, start);
  } else if (value !== null && typeof value === 'object' && !('kind' in value) && Array.isArray((value as { items?: unknown }).items)) {
    const items = objectValueSpan(text, start, 'items');
    spans = items ? arrayElementSpans(text, items[0]) : [];
  } else {
    spans = [[start, skipValue(text, start)]];
  }
  const out: ParsedBody = { resources: [], diagnostics: [] };
  for (const [s, e] of spans) {
    if (text[s] !== '{') {
      out.diagnostics.push({ severity: 'error', code: 'load', file, ...lineCol(text, s), message: 'a list item is not an object', fix: 'each item needs apiVersion, kind, metadata and spec' });
      continue;
    }
    // Blank out everything before the element (keeping newlines) so positions match the body.
    const padded = text.slice(0, s).replace(/[^\n]/g, ' ') + text.slice(s, e);
    const r = loadText(padded, file, {}, out.resources.length);
    out.resources.push(...r.resources);
    out.diagnostics.push(...r.diagnostics);
  }
  return out;
}

/** 1-based line and column of an offset. */
export function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The offset of the first JSON syntax error in `text` (`text.length` when the text ends too
 * early), for a text JSON.parse refused. Iterative: nesting depth costs no stack.
 */
export function jsonErrorOffset(text: string): number {
  const n = text.length;
  const closers: string[] = [];
  let i = 0;
  // What may come next: a value, a value or `]` (just after `[`), a key, a key or `}` (just after `{`), `:`, or what follows a value.
  let want: 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'after' = 'value';
  const LITERAL = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
  /** Past the string starting at `i`, or -(offset of its error) - 1. */
  const string = (): number => {
    let j = i + 1;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 0x22) return j + 1;
      if (c < 0x20) return -j - 1;
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === undefined) return -n - 1;
        if (e === 'u') {
          for (let k = j + 2; k < j + 6; k++) if (k >= n ? true : !/[0-9a-fA-F]/.test(text[k]!)) return -Math.min(k, n) - 1;
          j += 6;
        } else if ('"\\/bfnrt'.includes(e)) j += 2;
        else return -(j + 1) - 1;
        continue;
      }
      j++;
    }
    return -n - 1;
  };
  for (;;) {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= n) return n;
    const c = text[i]!;
    if ((want === 'valueOrEnd' && c === ']') || (want === 'keyOrEnd' && c === '}')) {
      closers.pop();
      i++;
      want = 'after';
    } else if (want === 'value' || want === 'valueOrEnd') {
      if (c === '{' || c === '[') {
        closers.push(c === '{' ? '}' : ']');
        i++;
        want = c === '{' ? 'keyOrEnd' : 'valueOrEnd';
      } else if (c === '"') {
        const end = string();
        if (end < 0) return -end - 1;
        i = end;
        want = 'after';
      } else {
        LITERAL.lastIndex = i;
        const m = LITERAL.exec(text);
        if (!m) return i;
        i += m[0].length;
        want = 'after';
      }
    } else if (want === 'key' || want === 'keyOrEnd') {
      if (c !== '"') return i;
      const end = string();
      if (end < 0) return -end - 1;
      i = end;
      want = 'colon';
    } else if (want === 'colon') {
      if (c !== ':') return i;
      i++;
      want = 'value';
    } else {
      const close = closers[closers.length - 1];
      if (close === undefined) return i; // something after the whole value
      if (c === ',') want = close === '}' ? 'key' : 'value';
      else if (c === close) closers.pop();
      else return i;
      i++;
    }
  }
}

// A minimal scanner over text that JSON.parse has already accepted.

function skipWs(text: string, i: number): number {
  while (i < text.length && ' \t\r\n\uFEFF'.includes(text[i]!)) i++;
  return i;
}

function skipString(text: string, i: number): number {
  i++; // opening quote
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Offset just past the value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return skipString(text, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < text.length) {
      const ch = text[i]!;
      if (ch === '"') {
        i = skipString(text, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < text.length && !',]} \t\r\n'.includes(text[i]!)) i++;
  return i;
}

function arrayElementSpans(text: string, open: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = skipWs(text, open + 1);
  while (i < text.length && text[i] !== ']') {
    const end = skipValue(text, i);
    spans.push([i, end]);
    i = skipWs(text, end);
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return spans;
}

/** The span of the value of a top-level key of the object starting at `open` (the last one wins, as in JSON.parse). */
function objectValueSpan(text: string, open: number, key: string): [number, number] | undefined {
  let found: [number, number] | undefined;
  let i = skipWs(text, open + 1);
  while (i < text.length && text[i] === '"') {
    const keyEnd = skipString(text, i);
    const k = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, skipWs(text, keyEnd) + 1); // past ':'
    const end = skipValue(text, i);
    if (k === key) found = [i, end];
    i = skipWs(text, end);
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  return found;
}
