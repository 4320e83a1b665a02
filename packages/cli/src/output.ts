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

/**
 * Formats `key: value` lines with the values aligned three columns after the longest
 * key (`bots show`, `bots instances show`). Empty values print `-`, as in tables; a
 * value of several lines continues under its first line.
 */
export function formatFields(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 3;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${(v || '-').split('\n').join(`\n${' '.repeat(width)}`)}\n`).join('');
}

/**
 * Text a machine reported about itself (host names, OS, errors), made safe for a
 * terminal: control characters (C0, DEL, C1) and bidirectional overrides become `?`,
 * so a hostile daemon cannot move the cursor, recolour or reorder what an admin reads.
 * JSON output keeps the exact text.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

/** Pretty JSON with a trailing newline. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** RFC 3339 in UTC without fractional seconds (`2026-03-24T15:00:00Z`), or '' when absent. */
export function rfc3339(d: Date | undefined | null): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '';
}
