import { readFileSync, writeFileSync } from 'node:fs';
import { renderReport } from './render';
import { buildRows, type RunData } from './rows';

/**
 * `node bench/dist/rerender.js bench/results/<run>.json`: builds the table again from a
 * saved run's measurements (after a change to how rows are derived or worded), writes
 * the rows back into the JSON and the Markdown next to it, and prints the table.
 */
function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node bench/dist/rerender.js <results.json>');
  const saved = JSON.parse(readFileSync(file, 'utf8')) as RunData & { options: RunData['opts'] & { only: string[] }; machine: RunData['machine'] & { loadAvgEnd: number[] }; rows: unknown };
  const data: RunData = { ...saved, opts: { ...saved.options, only: new Set(saved.options.only) as RunData['opts']['only'] } };
  const rows = buildRows(data);
  writeFileSync(file, JSON.stringify({ ...saved, rows }, null, 2) + '\n');
  writeFileSync(file.replace(/\.json$/, '.md'), renderReport(rows, data, saved.machine, true) + '\n');
  process.stdout.write(renderReport(rows, data, saved.machine, false) + '\n');
}

main();
