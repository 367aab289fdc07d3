/**
 * Heap settings for a process whose job is the control service (`meshwork control`). An
 * application that embeds `startControlService` keeps its own settings: nothing here runs
 * unless called.
 */
import v8 from 'node:v8';

/**
 * The V8 flag `tuneControlServiceProcess` sets: the young generation keeps its starting size
 * (1 MB semi-spaces) instead of doubling up to V8's maximum (two 64 MB semi-spaces on a machine
 * with a large heap limit). A configuration push to 1,000 watchers allocates in bursts of tens
 * of megabytes, short-lived almost all of it: the young generation grew to its maximum in every
 * run and stayed resident. V8 reads this flag each time it would grow the young generation, so
 * it takes effect after start-up (`--max-semi-space-size` is read once, when the heap is made,
 * and would need the node command line).
 */
export const CONTROL_SERVICE_V8_FLAGS = '--semi-space-growth-factor=1';

/**
 * Applies CONTROL_SERVICE_V8_FLAGS to this process; `meshwork control` calls it before starting
 * the service. Measured by `npm run bench:control -- --quick` (1,000 TLS watchers, 10,000
 * workloads): RSS after the pushes 345 -> 222-224 MB, push p99 201-205 -> 183-185 ms (smaller
 * scavenges, and the pushes' garbage stays in cache). Returns false where this Node refuses
 * runtime flags (the service then runs with V8's defaults).
 */
export function tuneControlServiceProcess(): boolean {
  try {
    v8.setFlagsFromString(CONTROL_SERVICE_V8_FLAGS);
    return true;
  } catch {
    return false;
  }
}
