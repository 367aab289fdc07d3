/**
 * Findings about configuration, shaped like a compiler's: where (file:line:col), which
 * resource, which field, what is wrong, and how to fix it.
 *
 * `error` is what Istio's admission webhook rejects (the control service refuses the
 * document); `warning` is accepted but suspicious, as `istioctl analyze` reports it;
 * `info` names things Meshwork reads but does not apply in-process.
 */
export type Severity = 'error' | 'warning' | 'info';

/**
 * How messages show values from the input (one helper for every message builder): `quoteValue`
 * (Go's `%q`, escaped, cut after 200 characters), `showValue` (bare when short and printable),
 * and `boundMessage`, a backstop for a whole message (one line, at most 1,000 characters).
 */
export { boundMessage, MAX_MESSAGE_LENGTH, MAX_SHOWN_VALUE, quoteValue, showValue } from './validate/go-compat.js';

export interface Diagnostic {
  severity: Severity;
  /** Stable code: `schema`, `cel`, `semantic`, `yaml`, `load`, `ignored`, or an analyzer's name. */
  code: string;
  /** What is wrong, in the words users know from kubectl / istioctl where there are such words. */
  message: string;
  /** How to fix it, when there is a clear fix. */
  fix?: string | undefined;
  file?: string | undefined;
  line?: number | undefined;
  column?: number | undefined;
  /** `Kind/namespace/name` of the resource. */
  resource?: string | undefined;
  /** Field path inside the resource, e.g. `spec.http[0].route[1].weight`. */
  path?: string | undefined;
}

/** Formats one diagnostic as a single line: `file:line:col: error: Kind/ns/name: path: message (fix: ...)`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}: ` : '';
  const res = d.resource ? `${d.resource}: ` : '';
  // Kubernetes-style messages already start with the field path; do not print it twice.
  const path = d.path && !d.message.startsWith(d.path) ? `${d.path}: ` : '';
  const fix = d.fix ? ` (fix: ${d.fix})` : '';
  return `${where}${d.severity}: ${res}${path}${d.message}${fix} [${d.code}]`;
}

/** Error thrown when input cannot be used at all (bad YAML, unreadable file, hostile input). */
export class ConfigError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'ConfigError';
    this.diagnostics = diagnostics;
  }
}

export function countBySeverity(ds: readonly Diagnostic[]): Record<Severity, number> {
  const out: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const d of ds) out[d.severity]++;
  return out;
}
