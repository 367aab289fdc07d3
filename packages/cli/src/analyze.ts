import { analyzePaths, countBySeverity, formatDiagnostic, type Diagnostic } from '@meshwork/policy';
import { parse } from './main.js';
import { UsageError, type Io } from './io.js';

export function analyzeCommand(args: string[], io: Io): number {
  const { values } = parse(args, {
    file: { type: 'string', short: 'f', multiple: true },
    json: { type: 'boolean' },
  });
  const files = values.file ?? [];
  if (files.length === 0) throw new UsageError('analyze needs at least one -f <file or folder>');
  const report = analyzePaths(files);
  if (values.json) {
    io.out(JSON.stringify({ exitCode: report.exitCode, files: report.files.length, documents: report.documents, accepted: report.valid.length, counts: countBySeverity(report.diagnostics), diagnostics: report.diagnostics }, null, 2) + '\n');
    return report.exitCode;
  }
  io.out(renderHuman(report.diagnostics));
  const c = countBySeverity(report.diagnostics);
  const verdict = report.exitCode === 2 ? 'rejected: Istio would refuse this input' : report.exitCode === 1 ? 'accepted, with findings' : 'clean';
  io.out(`\n${report.files.length} file(s), ${report.documents} document(s), ${report.valid.length} accepted: ${c.error} error(s), ${c.warning} warning(s), ${c.info} note(s) — ${verdict}\n`);
  return report.exitCode;
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
