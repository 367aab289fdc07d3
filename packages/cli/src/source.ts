/**
 * Where `analyze` and `explain` read resources: files and folders (`-f`), or the live
 * control service (`--control`: `GET /v1/resources`, every namespace, so an admin token).
 * Both give the loader's `LoadResult`, so everything after loading is the same code path.
 */
import { loadPaths, loadText, type Diagnostic, type LoadResult } from '@meshwork/policy';
import { CONNECTION_OPTIONS, withControl, type ConnectionFlags } from './client.js';
import { UsageError, type Io } from './io.js';

export const SOURCE_OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  control: { type: 'boolean' },
  ...CONNECTION_OPTIONS,
} as const;

export interface SourceFlags extends ConnectionFlags {
  file?: string[] | undefined;
  control?: boolean | undefined;
  json?: boolean | undefined;
}

export interface Source {
  loaded: LoadResult;
  /** Set when the resources came from a control service. */
  control?: { url: string; revision: number } | undefined;
  /** A diagnostic as the user should see it. */
  present(d: Diagnostic): Diagnostic;
}

/**
 * Stored objects (JSON) as policy Resources, through policy's own loader: one JSON document
 * per YAML document. The one place to switch to policy's `loadObjects(docs, file)` once it
 * exists.
 */
export function loadObjects(docs: readonly unknown[], file: string): LoadResult {
  const out: LoadResult = { resources: [], diagnostics: [], files: [file] };
  for (const doc of docs) {
    const r = loadText(JSON.stringify(doc), file, {}, out.resources.length);
    out.resources.push(...r.resources);
    out.diagnostics.push(...r.diagnostics);
  }
  return out;
}

/** Loads the resources a command was pointed at and runs it on them. */
export async function withSource(flags: SourceFlags, io: Io, command: string, run: (source: Source) => number | Promise<number>): Promise<number> {
  const files = flags.file ?? [];
  if (flags.control && files.length > 0) throw new UsageError(`${command}: give -f <path>... or --control, not both`);
  if (!flags.control) {
    if (files.length === 0) throw new UsageError(`${command} needs at least one -f <file or folder>, or --control`);
    const stray = Object.keys(CONNECTION_OPTIONS).find((k) => flags[k as keyof ConnectionFlags] !== undefined);
    if (stray) throw new UsageError(`--${stray} is for --control; ${command} -f reads files only`);
    return run({ loaded: loadPaths(files), present: (d) => d });
  }
  return withControl(flags, io, async (client) => {
    const reply = await client.request<{ revision: number; items: unknown[] }>('GET', '/v1/resources');
    const url = client.display;
    // Positions in the JSON the CLI built mean nothing to the user: the resource and field path say where.
    const present = (d: Diagnostic): Diagnostic => (d.file === url ? { ...d, line: undefined, column: undefined } : d);
    return run({ loaded: loadObjects(reply.items, url), control: { url, revision: reply.revision }, present });
  });
}
