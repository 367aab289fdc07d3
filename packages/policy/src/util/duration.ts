/**
 * Durations as Istio accepts them. The CRDs validate duration fields with CEL's `duration()`,
 * which takes Go's `time.ParseDuration` syntax (`1.5s`, `300ms`, `1h30m`), and Istio's own
 * docs use forms such as `3m`; protobuf's `"1.5s"` form is a subset.
 */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TOKEN = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Parses a duration into milliseconds; returns `undefined` when the text is not a duration. */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return undefined;
  let s = text;
  let sign = 1;
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s.length === 0) return undefined;
  let total = 0;
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? NaN);
    pos = TOKEN.lastIndex;
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/** Formats milliseconds back into the shortest Istio-style string (`1.5s`, `250ms`). */
export function formatDuration(ms: number): string {
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
