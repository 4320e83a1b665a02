// Runs every test once with jest, then prints the plain closing line CI reads:
// `N passed, N failed, N skipped`. Extra arguments go to jest.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.jest-results.json');
rmSync(out, { force: true });
const jest = join(root, 'node_modules', '.bin', 'jest');
const r = spawnSync(jest, ['--json', `--outputFile=${out}`, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
let passed = 0, failed = 0, skipped = 0, suitesFailed = 0;
try {
  const res = JSON.parse(readFileSync(out, 'utf8'));
  passed = res.numPassedTests; failed = res.numFailedTests; skipped = res.numPendingTests + res.numTodoTests;
  suitesFailed = res.numFailedTestSuites;
} catch {
  failed = 1;
}
// A suite that fails to load counts no failed test; count it so the line never hides it.
if (failed === 0 && (suitesFailed > 0 || r.status !== 0)) failed = Math.max(1, suitesFailed);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
