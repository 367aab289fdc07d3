/**
 * `meshwork apply -f <file|dir>...`: every file in one all-or-nothing batch
 * (`POST /v1/resources:apply`), printed as kubectl prints an apply, with the service's
 * diagnostics pointed back at each file's own lines.
 */
import { formatDiagnostic, type Diagnostic } from '@meshwork/policy';
import { CONNECTION_OPTIONS, ControlError, reportControlError, withControl } from './client.js';
import { displayKind } from './kinds.js';
import { buildBatch, mapDiagnostic, readManifests, type Batch } from './manifests.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

interface ApplyReply {
  revision: number;
  results: Array<{ kind: string; namespace: string; name: string; status: 'created' | 'configured' | 'unchanged'; resourceVersion: string; generation: number }>;
  warnings: Diagnostic[];
}

/** Names the batch in the service's diagnostics (`?file=`): the file itself when there is one. */
function batchName(files: readonly string[]): string {
  const only = files.length === 1 ? files[0]! : undefined;
  return only && only.length <= 256 && !/[\u0000-\u001f]/.test(only) ? only : 'meshwork-apply-batch';
}

export async function applyCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    file: { type: 'string', short: 'f', multiple: true },
    json: { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  });
  const paths = values.file ?? [];
  if (paths.length === 0) throw new UsageError('apply needs at least one -f <file or folder>');
  if (positionals.length > 0) throw new UsageError(`apply takes no arguments besides -f; got "${positionals[0]}"`);
  const json = values.json === true;

  // Each file is parsed here first: a file that cannot be read is never sent, and the
  // service's line numbers can be mapped back only for files that parse on their own.
  const local = readManifests(paths);
  const errors = local.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return invalid(io, json, errors, `${errors.length} error(s) in the files; nothing was sent`);
  const batch = buildBatch(local.manifests);
  if (batch.sources.size === 0) throw new UsageError(`no documents in ${paths.join(', ')}; nothing to apply`);
  const sent = batchName(local.manifests.map((m) => m.file));

  return withControl({ ...values, json }, io, async (client) => {
    let reply: ApplyReply;
    try {
      reply = await client.request<ApplyReply>('POST', '/v1/resources:apply', { query: { file: sent }, body: batch.text, contentType: 'application/yaml' });
    } catch (e) {
      if (e instanceof ControlError && e.status === 400 && Array.isArray(e.body?.diagnostics)) {
        const diagnostics = (e.body.diagnostics as Diagnostic[]).map((d) => mapDiagnostic(d, sent, batch));
        for (const d of diagnostics) io.err(formatDiagnostic(d) + '\n');
        return reportControlError(e, io, json, { diagnostics });
      }
      throw e;
    }
    const warnings = (reply.warnings ?? []).map((d) => mapDiagnostic(d, sent, batch));
    if (json) {
      const results = reply.results.map((r) => ({ ...r, ...where(batch, `${r.kind}/${r.namespace}/${r.name}`) }));
      io.out(JSON.stringify({ revision: reply.revision, results, warnings }, null, 2) + '\n');
      return EXIT.ok;
    }
    for (const r of reply.results) io.out(`${displayKind(r.kind)}/${r.name} ${r.status}\n`);
    for (const d of warnings) io.err(formatDiagnostic(d) + '\n');
    return EXIT.ok;
  });
}

function where(batch: Batch, key: string): { file?: string; line?: number } {
  const src = batch.sources.get(key);
  return src ? { file: src.file, line: src.line } : {};
}

function invalid(io: Io, json: boolean, diagnostics: Diagnostic[], summary: string): number {
  for (const d of diagnostics) io.err(formatDiagnostic(d) + '\n');
  io.err(`meshwork: ${summary}\n`);
  if (json) io.out(JSON.stringify({ error: { status: null, code: 'invalid', message: summary }, diagnostics }, null, 2) + '\n');
  return EXIT.invalid;
}
