/**
 * The files given to `apply -f` and `delete -f`: read and parsed locally, each on its own
 * (so one file's broken YAML never bleeds into the next), then joined into one batch whose
 * line numbers map back to each file.
 */
import { readFileSync, statSync } from 'node:fs';
import { DEFAULT_LIMITS, listConfigFiles, loadText, type Diagnostic, type Resource, type SourceLocation } from '@meshwork/policy';

export interface Manifest {
  file: string;
  /** The file's text (BOM removed), ending in a newline unless empty. */
  text: string;
  resources: Resource[];
}

export interface Manifests {
  manifests: Manifest[];
  /** Everything the local loader reported: errors (unreadable, bad YAML, no kind) and notes. */
  diagnostics: Diagnostic[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readManifests(paths: readonly string[]): Manifests {
  const listed = listConfigFiles(paths);
  const diagnostics = [...listed.diagnostics];
  const manifests: Manifest[] = [];
  let order = 0;
  for (const file of listed.files) {
    let text: string;
    try {
      const size = statSync(file).size;
      if (size > DEFAULT_LIMITS.maxFileBytes) {
        diagnostics.push({ severity: 'error', code: 'load', file, message: `file is ${size} bytes; the limit is ${DEFAULT_LIMITS.maxFileBytes}`, fix: 'split the configuration into smaller files' });
        continue;
      }
      text = utf8.decode(readFileSync(file));
    } catch (e) {
      const message = e instanceof TypeError ? 'not valid UTF-8 text' : `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      diagnostics.push({ severity: 'error', code: 'load', file, message, fix: e instanceof TypeError ? 'save the file as UTF-8' : undefined });
      continue;
    }
    if (text.startsWith('\uFEFF')) text = text.slice(1);
    if (text !== '' && !text.endsWith('\n')) text += '\n';
    const loaded = loadText(text, file, {}, order);
    order += loaded.resources.length;
    diagnostics.push(...loaded.diagnostics);
    manifests.push({ file, text, resources: loaded.resources });
  }
  if (listed.files.length === 0 && listed.diagnostics.length === 0) {
    diagnostics.push({ severity: 'error', code: 'load', message: `no .yaml, .yml or .json files in ${paths.join(', ')}`, fix: 'give files, or folders that hold them' });
  }
  return { manifests, diagnostics };
}

export interface Batch {
  /** The files' texts joined by YAML document-end markers (`...`), one multi-document stream. */
  text: string;
  /** The file and line of a line of `text`. */
  locate(line: number): { file: string; line: number } | undefined;
  /** Where each object (`Kind/namespace/name`) was written, first occurrence. */
  sources: ReadonlyMap<string, SourceLocation>;
}

/**
 * One batch for all files, so the control service applies them all-or-nothing. Files are
 * joined with `...` (document end) rather than `---`: after it a file may start with its own
 * `---` or `%YAML` directive, as it could on its own. Each file keeps its lines, shifted by a
 * known offset, so the service's `line` maps back to the file.
 */
export function buildBatch(manifests: readonly Manifest[]): Batch {
  const starts: number[] = [];
  const parts: string[] = [];
  let line = 1;
  for (const m of manifests) {
    starts.push(line);
    parts.push(m.text);
    line += countLines(m.text) + 1; // the file's lines, then the `...` line
  }
  const sources = new Map<string, SourceLocation>();
  for (const m of manifests) for (const r of m.resources) if (!sources.has(r.key)) sources.set(r.key, r.source);
  return {
    text: parts.join('...\n'),
    sources,
    locate(l: number) {
      for (let i = manifests.length - 1; i >= 0; i--) {
        if (l >= starts[i]!) return { file: manifests[i]!.file, line: l - starts[i]! + 1 };
      }
      return undefined;
    },
  };
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * A diagnostic of the service about the batch, pointed back at the file: by line when it
 * has one in the batch (`sent` is the `?file=` name; the service says `request` when it did
 * not take it), else by the object it names.
 */
export function mapDiagnostic(diagnostic: Diagnostic, sent: string, batch: Batch): Diagnostic {
  const d = { ...diagnostic, message: mapPositions(diagnostic.message, sent, batch) };
  const ours = d.file === sent || d.file === 'request' || d.file === undefined;
  if (ours && d.line) {
    const at = batch.locate(d.line);
    if (at) return { ...d, file: at.file, line: at.line };
  }
  const src = d.resource ? batch.sources.get(d.resource) : undefined;
  if (ours && src) return { ...d, file: src.file, line: src.line, column: src.column };
  return ours ? { ...d, file: undefined } : d;
}

/** Positions quoted inside a message (`defined again (first at <batch>:81)`) mapped too. */
function mapPositions(message: string, sent: string, batch: Batch): string {
  const names = [sent, 'request'].map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return message.replace(new RegExp(`(?:${names}):(\\d+)`, 'g'), (whole, line: string) => {
    const at = batch.locate(Number(line));
    return at ? `${at.file}:${at.line}` : whole;
  });
}
