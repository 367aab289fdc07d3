/**
 * Istio StringMatch (`{exact}`, `{prefix}`, `{regex}`), compiled once into a predicate.
 * Regex is RE2 and a full match (Envoy `safe_regex`); `{}` and the special `regex: "*"`
 * mean "present" (route.go: canBeConvertedToPresentMatch).
 */
import { compileRe2, isRe2Error } from '../util/regex.js';

export type StringPredicate = (value: string) => boolean;

export interface CompiledStringMatch {
  /** True when the matcher only requires presence. */
  present: boolean;
  test: StringPredicate;
  /** For reports: `exact:/foo`, `prefix:/`, `regex:...`, `present`. */
}

const always: StringPredicate = () => true;

export function compileStringMatch(m: unknown, ignoreCase = false): CompiledStringMatch {
  const sm = (m && typeof m === 'object' ? m : {}) as { exact?: string; prefix?: string; regex?: string };
  if (typeof sm.exact === 'string') {
    const want = ignoreCase ? sm.exact.toLowerCase() : sm.exact;
    return { present: false, test: ignoreCase ? (v) => v.toLowerCase() === want : (v) => v === want };
  }
  if (typeof sm.prefix === 'string') {
    const want = ignoreCase ? sm.prefix.toLowerCase() : sm.prefix;
    return { present: false, test: ignoreCase ? (v) => v.toLowerCase().startsWith(want) : (v) => v.startsWith(want) };
  }
  if (typeof sm.regex === 'string') {
    if (sm.regex === '*') return { present: true, test: always };
    const re = compileRe2(sm.regex);
    // Validation rejects bad RE2 before compile; if one slips through, it matches nothing, as
    // Envoy would refuse the route.
    if (isRe2Error(re)) return { present: false, test: () => false };
    return { present: false, test: (v) => re.fullMatch(v) };
  }
  return { present: true, test: always };
}
