/**
 * Heap settings for a process whose job is the control service (`meshwork control`). An
 * application that embeds `startControlService` keeps its own settings: nothing here runs
 * unless called.
 */
import v8 from 'node:v8';

/**
 * The V8 flags `tuneControlServiceProcess` sets.
 *
 * `--semi-space-growth-factor=1`: the young generation keeps its starting size (1 MB
 * semi-spaces) instead of doubling up to V8's maximum (two 64 MB semi-spaces on a machine with
 * a large heap limit). A configuration push to 1,000 watchers allocates in bursts of tens of
 * megabytes, short-lived almost all of it: the young generation grew to its maximum in every
 * run and stayed resident. V8 reads this flag each time it would grow the young generation, so
 * it takes effect after start-up (`--max-semi-space-size` is read once, when the heap is made,
 * and would need the node command line).
 *
 * `--no-maglev`: no mid-tier optimizing compiler; hot functions go from the baseline tier
 * straight to TurboFan. Maglev compiles on V8's worker threads, and the compile memory they
 * free stays in those threads' malloc arenas: with 1,000 watchers, anonymous memory after the
 * pushes was 71-88 MB with Maglev and 59-75 MB without, the RSS 209-226 MB (median 218) vs
 * 195-213 MB (median 199) in quick runs of `npm run bench:control` (2026-11-24), with no
 * measurable change in push latency (p99 190-223 ms vs 183-223 ms). V8 checks it at each
 * tier-up decision, so it too works after start-up.
 */
export const CONTROL_SERVICE_V8_FLAGS = '--semi-space-growth-factor=1 --no-maglev';

/**
 * Applies CONTROL_SERVICE_V8_FLAGS to this process (what each flag saves is said there and in
 * the README's "Heap tuning"); `meshwork control` calls it before starting the service. Returns
 * false where this Node refuses runtime flags (the service then runs with V8's defaults).
 */
export function tuneControlServiceProcess(): boolean {
  try {
    v8.setFlagsFromString(CONTROL_SERVICE_V8_FLAGS);
    return true;
  } catch {
    return false;
  }
}
