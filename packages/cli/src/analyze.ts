import { analyzeResources, countBySeverity, formatDiagnostic, validateResources, type Diagnostic, type LoadResult } from '@meshwork/policy';
import { parse } from './main.js';
import { SOURCE_OPTIONS, withSource } from './source.js';
import type { Io } from './io.js';

export async function analyzeCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...SOURCE_OPTIONS, json: { type: 'boolean' } });
  return withSource(values, io, 'analyze', (source) => {
    const report = analyzeLoaded(source.loaded);
    const diagnostics = report.diagnostics.map(source.present);
    const c = countBySeverity(diagnostics);
    if (values.json) {
      const origin = source.control ? { control: source.control.url, revision: source.control.revision } : {};
      io.out(JSON.stringify({ exitCode: report.exitCode, files: source.control ? 0 : report.files, ...origin, documents: report.documents, accepted: report.accepted, counts: c, diagnostics }, null, 2) + '\n');
      return report.exitCode;
    }
    io.out(renderHuman(diagnostics));
    const verdict = report.exitCode === 2 ? 'rejected: Istio would refuse this input' : report.exitCode === 1 ? 'accepted, with findings' : 'clean';
    const from = source.control ? `${report.documents} document(s) from ${source.control.url} (revision ${source.control.revision})` : `${report.files} file(s), ${report.documents} document(s)`;
    io.out(`\n${from}, ${report.accepted} accepted: ${c.error} error(s), ${c.warning} warning(s), ${c.info} note(s) — ${verdict}\n`);
    return report.exitCode;
  });
}

/** What policy's `analyzePaths` does after loading: validate, analyze, and the exit code. */
export function analyzeLoaded(loaded: LoadResult): { files: number; documents: number; accepted: number; diagnostics: Diagnostic[]; exitCode: 0 | 1 | 2 } {
  const v = validateResources(loaded.resources);
  const diagnostics = [...loaded.diagnostics, ...v.diagnostics, ...analyzeResources(v.valid)];
  const exitCode = diagnostics.some((d) => d.severity === 'error') ? 2 : diagnostics.some((d) => d.severity === 'warning') ? 1 : 0;
  return { files: loaded.files.length, documents: loaded.resources.length, accepted: v.valid.length, diagnostics, exitCode };
}

/** Errors and warnings one per line; skipped non-Istio kinds summarised on one line. */
export function renderHuman(ds: readonly Diagnostic[]): string {
  const lines: string[] = [];
  const skipped = new Map<string, number>();
  for (const d of ds) {
    if (d.code === 'skipped') {
      const kind = /\b(\S+) is not an Istio kind/.exec(d.message)?.[1] ?? 'other';
      skipped.set(kind, (skipped.get(kind) ?? 0) + 1);
      continue;
    }
    lines.push(formatDiagnostic(d));
  }
  if (skipped.size > 0) lines.push(`note: skipped non-Istio documents: ${[...skipped].map(([k, n]) => `${k} ×${n}`).join(', ')} (Kubernetes Services are read for names and ports)`);
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}
