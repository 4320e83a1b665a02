// Runs every test once with jest — the main suite (unit, integration, end-to-end; two
// workers), then the chaos suite (test/chaos: replicas, outages, load; one file at a
// time, so its measurements do not fight the rest for two cores) — and prints ONE
// plain closing line CI reads: `N passed, N failed, N skipped` (both runs summed).
// Extra arguments go to both runs. `--chaos` runs only the chaos suite (pnpm test:chaos).
// Before that line it lists every skipped test with its reason (the helpers of
// @mezite/identity/testing write reasons and property-test case counts to the file named
// by MEZITE_TEST_REPORT). With CI=true every skipped test is a failure: CI has every
// binary and privilege, so a skip there is a guarantee nobody checked.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
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

const ci = process.env.CI === 'true';
const report = join(root, '.jest-report.jsonl');
rmSync(report, { force: true });
const env = { ...process.env, MEZITE_TEST_REPORT: report };
/** Every skipped (pending or todo) test of both runs: `file › full name`. */
const skippedTests = [];

let passed = 0, failed = 0, skipped = 0, ok = true;
for (const run of runs) {
  const out = join(root, `.jest-results.${run.name}.json`);
  rmSync(out, { force: true });
  const started = Date.now();
  const r = spawnSync(jest, [...run.flags, '--json', `--outputFile=${out}`, ...(filtered ? ['--passWithNoTests'] : []), ...extra], { cwd: root, stdio: 'inherit', env });
  let f = 0, suitesFailed = 0;
  try {
    const res = JSON.parse(readFileSync(out, 'utf8'));
    passed += res.numPassedTests; f = res.numFailedTests; skipped += res.numPendingTests + res.numTodoTests;
    suitesFailed = res.numFailedTestSuites;
    for (const file of res.testResults ?? []) {
      for (const t of file.assertionResults ?? []) {
        if (t.status === 'pending' || t.status === 'todo') skippedTests.push({ file: file.name.slice(root.length + 1), name: t.fullName });
      }
    }
  } catch {
    f = 1;
  }
  // A suite that fails to load counts no failed test; count it so the line never hides it.
  if (f === 0 && (suitesFailed > 0 || r.status !== 0)) f = Math.max(1, suitesFailed);
  failed += f;
  if (r.status !== 0 || f > 0) ok = false;
  console.log(`(${run.name} suite: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
const entries = existsSync(report) ? readFileSync(report, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const reasons = entries.filter((e) => e.kind === 'skip');
if (skippedTests.length > 0) {
  console.log(`\nSkipped (${skippedTests.length})${ci ? ' — CI=true, so each is a failure' : ''}:`);
  for (const t of skippedTests) {
    const why = reasons.find((r) => t.name === r.name || t.name.startsWith(`${r.name} `) || t.name.endsWith(` ${r.name}`));
    console.log(`  ${t.file} › ${t.name} — ${why ? why.reason : 'no reason recorded (a bare test.skip)'}`);
  }
}
const properties = entries.filter((e) => e.kind === 'property');
if (properties.length > 0) {
  const low = properties.filter((e) => e.ran < e.floor);
  console.log(`property tests: ${properties.length} properties, ${properties.reduce((n, e) => n + e.ran, 0)} cases${low.length ? `, ${low.length} below their floor` : ', each at or above its floor'}`);
}
if (ci && skipped > 0) {
  failed += skipped;
  skipped = 0;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok && failed === 0 ? 0 : 1);
