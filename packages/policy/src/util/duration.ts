/**
 * Durations as Istio accepts them: Go's `time.ParseDuration` syntax (`1.5s`, `300ms`,
 * `1h30m`), which is what the CRDs' CEL `duration()` and Istio's jsonpb decoding take.
 * One parser serves validation and run time: go-compat's exact port of Go's.
 */
import { parseGoDuration } from '../validate/go-compat.js';

/** Parses a duration into milliseconds; returns `undefined` when the text is not a duration. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length === 0) return undefined;
  const ns = parseGoDuration(text);
  return typeof ns === 'bigint' ? Number(ns) / 1e6 : undefined;
}
