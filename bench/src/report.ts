/** One side of a row: what was measured. */
export interface Measured {
  /** What this side is, e.g. `join (token + certificate)` or `grpc-js echo, same TLS`. */
  name: string;
  /** Operations per second; undefined for memory and derived rows. */
  rate?: number;
  /** A figure other than a rate (memory, a derived count), with its unit. */
  value?: number;
  unit?: string;
  p50Ms?: number;
  p99Ms?: number;
  /** Peak VmRSS of the process under test (MiB). */
  peakRssMb?: number;
  errors?: number;
}

/** One line of the results table. */
export interface Row {
  id: string;
  title: string;
  ours: Measured;
  reference?: Measured;
  /** ours / reference (rate), or for memory rows MiB / MiB. */
  ratio?: number;
  target: string;
  /** undefined: nothing to meet (informational). */
  met?: boolean;
  note?: string;
}

const num = (v: number | undefined, digits = 0): string => {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 100 || digits === 0) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
};
const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '—' : v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'));

const COLUMNS = ['#', 'benchmark', 'ours', 'p50 ms', 'p99 ms', 'RSS MiB', 'reference', 'ref', 'ref p50', 'ref p99', 'ref RSS', 'ratio', 'target', 'met'] as const;

/** A rate as `1,234/s`, or a value with its unit. */
const figure = (m: Measured | undefined): string => {
  if (!m) return '—';
  if (m.rate !== undefined) return Number.isFinite(m.rate) ? `${num(m.rate)}/s` : '—';
  if (m.value !== undefined) return Number.isFinite(m.value) ? `${num(m.value, 1)}${m.unit ? ` ${m.unit}` : ''}` : '—';
  return '—';
};

function cells(r: Row): string[] {
  const ref = r.reference;
  return [
    r.id,
    r.title,
    figure(r.ours),
    ms(r.ours.p50Ms),
    ms(r.ours.p99Ms),
    num(r.ours.peakRssMb, 1),
    ref?.name ?? '—',
    figure(ref),
    ms(ref?.p50Ms),
    ms(ref?.p99Ms),
    num(ref?.peakRssMb, 1),
    r.ratio === undefined || !Number.isFinite(r.ratio) ? '—' : r.ratio.toFixed(2),
    r.target,
    r.met === undefined ? '·' : r.met ? 'yes' : 'NO',
  ];
}

/** The table for a terminal: aligned columns, numbers right-aligned. */
export function textTable(rows: Row[]): string {
  const data = [COLUMNS as readonly string[], ...rows.map(cells)];
  const widths = COLUMNS.map((_, i) => Math.max(...data.map((r) => (r[i] ?? '').length)));
  const right = new Set([2, 3, 4, 5, 7, 8, 9, 10, 11]);
  const line = (r: readonly string[]) => r.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(data[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...data.slice(1).map(line)].join('\n');
}

/** The same table in Markdown, for docs/PERFORMANCE.md. */
export function markdownTable(rows: Row[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const head = `| ${COLUMNS.join(' | ')} |`;
  const sep = `| ${COLUMNS.map((_, i) => ([2, 3, 4, 5, 7, 8, 9, 10, 11].includes(i) ? '---:' : '---')).join(' | ')} |`;
  return [head, sep, ...rows.map((r) => `| ${cells(r).map(esc).join(' | ')} |`)].join('\n');
}

/** A small generic table (breakdowns, memory) as text and Markdown. */
export function simpleTable(head: string[], rows: string[][], markdown: boolean): string {
  if (markdown) return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export const mib = (bytes: number | undefined): number | undefined => (bytes === undefined ? undefined : bytes / 2 ** 20);
export { ms as formatMs, num as formatNum };
