// Runs every test once with jest — the main suite (unit, integration, end-to-end; two
// workers), then the chaos suite (test/chaos: replicas, outages, load; one file at a
// time, so its measurements do not fight the rest for two cores) — and prints ONE
// plain closing line CI reads: `N passed, N failed, N skipped` (both runs summed).
// Extra arguments go to both runs. `--chaos` runs only the chaos suite (pnpm test:chaos).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const jest = join(root, 'node_modules', '.bin', 'jest');
const args = process.argv.slice(2);
const chaosOnly = args.includes('--chaos');
const extra = args.filter((a) => a !== '--chaos');
// With a path filter, one of the two runs may have nothing to run; that is not a failure.
const filtered = extra.some((a) => !a.startsWith('-'));

const runs = [
  ...(chaosOnly ? [] : [{ name: 'main', flags: ['--selectProjects', 'main'] }]),
  { name: 'chaos', flags: ['--selectProjects', 'chaos', '--runInBand'] },
];

let passed = 0, failed = 0, skipped = 0, ok = true;
for (const run of runs) {
  const out = join(root, `.jest-results.${run.name}.json`);
  rmSync(out, { force: true });
  const started = Date.now();
  const r = spawnSync(jest, [...run.flags, '--json', `--outputFile=${out}`, ...(filtered ? ['--passWithNoTests'] : []), ...extra], { cwd: root, stdio: 'inherit' });
  let f = 0, suitesFailed = 0;
  try {
    const res = JSON.parse(readFileSync(out, 'utf8'));
    passed += res.numPassedTests; f = res.numFailedTests; skipped += res.numPendingTests + res.numTodoTests;
    suitesFailed = res.numFailedTestSuites;
  } catch {
    f = 1;
  }
  // A suite that fails to load counts no failed test; count it so the line never hides it.
  if (f === 0 && (suitesFailed > 0 || r.status !== 0)) f = Math.max(1, suitesFailed);
  failed += f;
  if (r.status !== 0 || f > 0) ok = false;
  console.log(`(${run.name} suite: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok && failed === 0 ? 0 : 1);
