/** Where a command writes; tests pass their own to capture output without a subprocess. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  /**
   * Stops a long-running command (`meshwork control`) when aborted. Without it, SIGINT and
   * SIGTERM do: tests and programs embedding the CLI pass their own.
   */
  signal?: AbortSignal | undefined;
}

/** Unusable invocation or input: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The CLI's exit codes (a contract: scripts branch on them; see README). */
export const EXIT = {
  ok: 0,
  /** analyze: everything validates, but there are findings (warnings). */
  findings: 1,
  /** Usage error, or input the analyzer (local or the control service's) rejects. */
  invalid: 2,
  /** The control service could not be reached, or refused the request (401, 403, 404, 409, 413, 429, 5xx). */
  control: 3,
} as const;
