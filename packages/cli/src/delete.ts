/**
 * `meshwork delete -f <file|dir>...`: deletes the objects the files name, one
 * `DELETE /v1/resources/{kind}/{namespace}/{name}` each, in file order. An object that is
 * already gone is reported `not found` and is not an error (kubectl's
 * `--ignore-not-found`, but said out loud). The API has no batch delete, so this is not
 * all-or-nothing: on a refusal it stops and reports what it had deleted.
 */
import { formatDiagnostic } from '@meshwork/policy';
import { CONNECTION_OPTIONS, ControlError, reportControlError, withControl } from './client.js';
import { displayKind, kindInfo } from './kinds.js';
import { readManifests } from './manifests.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

interface DeleteResult {
  kind: string;
  namespace: string;
  name: string;
  status: 'deleted' | 'not-found';
  file: string;
  line: number;
}

export async function deleteCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    file: { type: 'string', short: 'f', multiple: true },
    json: { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  });
  const paths = values.file ?? [];
  if (paths.length === 0) throw new UsageError('delete needs at least one -f <file or folder>');
  if (positionals.length > 0) throw new UsageError(`delete takes no arguments besides -f; got "${positionals[0]}"`);
  const json = values.json === true;

  const local = readManifests(paths);
  const errors = local.diagnostics.filter((d) => d.severity === 'error');
  const resources = local.manifests.flatMap((m) => m.resources);
  for (const r of resources) {
    if (!r.metadata.name) errors.push({ severity: 'error', code: 'load', file: r.source.file, line: r.source.line, column: r.source.column, message: 'metadata.name is missing', fix: 'name the object to delete' });
  }
  if (errors.length > 0) {
    for (const d of errors) io.err(formatDiagnostic(d) + '\n');
    const message = `${errors.length} error(s) in the files; nothing was deleted`;
    io.err(`meshwork: ${message}\n`);
    if (json) io.out(JSON.stringify({ error: { status: null, code: 'invalid', message }, diagnostics: errors }, null, 2) + '\n');
    return EXIT.invalid;
  }
  if (resources.length === 0) throw new UsageError(`no documents in ${paths.join(', ')}; nothing to delete`);

  // Kinds the control service does not keep (Deployments next to Services in a manifest) cannot be there.
  const skipped = new Map<string, number>();
  const seen = new Set<string>();
  const targets = resources.filter((r) => {
    if (!kindInfo(r.kind)) {
      skipped.set(r.kind, (skipped.get(r.kind) ?? 0) + 1);
      return false;
    }
    if (seen.has(r.key)) return false;
    seen.add(r.key);
    return true;
  });
  if (skipped.size > 0) io.err(`note: skipped kinds the control service does not keep: ${[...skipped].map(([k, n]) => `${k} ×${n}`).join(', ')}\n`);

  return withControl({ ...values, json }, io, async (client) => {
    const results: DeleteResult[] = [];
    let revision: number | undefined;
    for (const r of targets) {
      const { kind, metadata: { namespace, name } } = r;
      const at = { file: r.source.file, line: r.source.line };
      try {
        const reply = await client.request<{ revision: number }>('DELETE', `/v1/resources/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
        revision = reply.revision;
        results.push({ kind, namespace, name, status: 'deleted', ...at });
      } catch (e) {
        // A 404 naming the resource means it is gone; a 404 without one is a wrong URL.
        if (e instanceof ControlError && e.status === 404 && e.body?.resource !== undefined) {
          results.push({ kind, namespace, name, status: 'not-found', ...at });
        } else if (e instanceof ControlError) {
          return reportControlError(e, io, json, { revision: revision ?? null, results });
        } else {
          throw e;
        }
      }
      if (!json) printResult(io, results[results.length - 1]!);
    }
    if (json) io.out(JSON.stringify({ revision: revision ?? null, results }, null, 2) + '\n');
    return EXIT.ok;
  });
}

function printResult(io: Io, r: DeleteResult): void {
  io.out(`${displayKind(r.kind)} "${r.name}" ${r.status === 'deleted' ? 'deleted' : 'not found'}\n`);
}
