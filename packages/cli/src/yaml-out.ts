/**
 * Plain JSON data as block YAML, the way kubectl prints `-o yaml` (lists at their key's
 * indentation). Strings that YAML would read as something else are double-quoted with JSON
 * escapes, which YAML reads back unchanged; so the output can be applied again.
 */

/** Strings safe to write unquoted: no indicator first, no `: ` or ` #`, not a number or keyword. */
const PLAIN = /^[A-Za-z_/][\w./@+=-]*(?: [\w./@+=-]+)*$/;
const KEYWORD = /^(?:true|false|null|yes|no|on|off|y|n)$/i;

function str(s: string): string {
  return PLAIN.test(s) && !KEYWORD.test(s) ? s : JSON.stringify(s);
}

/** The inline form of a scalar or an empty container; undefined for anything that needs lines. */
function inline(v: unknown): string | undefined {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  if (typeof v === 'object') return Object.values(v).some((x) => x !== undefined) ? undefined : '{}';
  return JSON.stringify(String(v));
}

function emit(v: unknown, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = inline(item);
      if (s !== undefined) {
        out.push(`${indent}- ${s}`);
        continue;
      }
      const sub: string[] = [];
      emit(item, indent + '  ', sub);
      sub[0] = `${indent}- ${sub[0]!.slice(indent.length + 2)}`;
      out.push(...sub);
    }
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined) continue;
    const s = inline(x);
    if (s !== undefined) out.push(`${indent}${str(k)}: ${s}`);
    else {
      out.push(`${indent}${str(k)}:`);
      emit(x, Array.isArray(x) ? indent : indent + '  ', out);
    }
  }
}

/** One YAML document (without a `---` line), ending in a newline. */
export function toYaml(value: unknown): string {
  const s = inline(value);
  if (s !== undefined) return s + '\n';
  const out: string[] = [];
  emit(value, '', out);
  return out.join('\n') + '\n';
}
