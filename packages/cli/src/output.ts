/** `table` for people (upper-case headers, as the seeds show), `json` for scripts. */
export type OutputFormat = 'table' | 'json';

/**
 * Formats rows as a table: each column as wide as its widest cell plus two spaces,
 * the last column unpadded; empty cells print `-`.
 */
export function formatTable(headers: string[], rows: Array<Array<string | undefined | null>>): string {
  const cells = rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === null || r[i] === '' ? '-' : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] as number) + 2))).join('');
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** Pretty JSON with a trailing newline. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** RFC 3339 in UTC without fractional seconds (`2026-03-24T15:00:00Z`), or '' when absent. */
export function rfc3339(d: Date | undefined | null): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
}
