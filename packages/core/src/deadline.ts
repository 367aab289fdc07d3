/**
 * Deadline propagation: when an outbound call happens while serving a meshed inbound
 * request, the remaining budget of that request caps the call's timeout (as gRPC deadlines
 * do across hops). The server pipeline enters the context; the data plane reads it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

interface DeadlineStore {
  /** Absolute time (performance.now() clock) by which the inbound request must be answered. */
  deadline: number;
}

const storage = new AsyncLocalStorage<DeadlineStore>();

/** Runs `fn` with a deadline `ms` from now (nested deadlines keep the earlier one). */
export function withDeadline<T>(ms: number, fn: () => T): T {
  const now = performance.now();
  const outer = storage.getStore()?.deadline ?? Infinity;
  return storage.run({ deadline: Math.min(outer, now + ms) }, fn);
}

/** Milliseconds left of the current deadline, or undefined outside any. */
export function remainingBudget(now = performance.now()): number | undefined {
  const d = storage.getStore()?.deadline;
  return d === undefined ? undefined : Math.max(0, d - now);
}
