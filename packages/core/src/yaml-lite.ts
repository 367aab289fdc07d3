/** JSON is YAML: documents built in code are written as JSON, one per YAML document. */
export function stringify(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}
