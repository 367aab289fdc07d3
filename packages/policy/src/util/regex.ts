/**
 * Regular expressions in Istio config are RE2 (Envoy's engine), applied as full matches.
 * JavaScript's RegExp differs in syntax (lookarounds, backreferences, `\Z`...) and can
 * backtrack catastrophically, so user patterns never reach it: they compile with the `re2`
 * native binding, once, when a snapshot is compiled.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// re2 is a CommonJS native addon; loading it through createRequire keeps this module ESM.
const RE2 = require('re2') as Re2Constructor;

interface Re2Instance {
  test(s: string): boolean;
  exec(s: string): RegExpExecArray | null;
  source: string;
  lastIndex: number;
}
interface Re2Constructor {
  new (pattern: string, flags?: string): Re2Instance;
}

/** A compiled RE2 pattern. */
export interface Re2Pattern {
  readonly source: string;
  /** True when the whole input matches (Envoy's `safe_regex` semantics). */
  fullMatch(input: string): boolean;
  /** True when the pattern matches anywhere in the input. */
  search(input: string): boolean;
  /** Replaces every match (Envoy `regex_rewrite`); `\1`..`\9` in `replacement` refer to groups. */
  replaceAll(input: string, replacement: string): string;
}

/** Compiles `pattern` with RE2, or returns the RE2 error text. */
export function compileRe2(pattern: string): Re2Pattern | { error: string } {
  let full: Re2Instance;
  let anywhere: Re2Instance;
  try {
    full = new RE2(`^(?:${pattern})$`, 'u');
    anywhere = new RE2(pattern, 'gu');
  } catch (e) {
    return { error: (e as Error).message };
  }
  return {
    source: pattern,
    fullMatch: (input) => full.test(input),
    search: (input) => {
      anywhere.lastIndex = 0;
      return anywhere.test(input);
    },
    replaceAll: (input, replacement) => {
      // Envoy's substitution uses \N for groups; JS String.replace with an RE2 object uses $N.
      const js = replacement.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
      anywhere.lastIndex = 0;
      return (input as string).replace(anywhere as unknown as RegExp, js);
    },
  };
}

/** Returns the RE2 error for `pattern`, or `undefined` when it is valid RE2. */
export function re2Error(pattern: string): string | undefined {
  const r = compileRe2(pattern);
  return 'error' in r ? r.error : undefined;
}

export function isRe2Error(r: Re2Pattern | { error: string }): r is { error: string } {
  return 'error' in r;
}
