/** Where a command writes; tests pass their own to capture output without a subprocess. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
}

/** Unusable invocation or input: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
