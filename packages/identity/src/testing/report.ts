import { appendFileSync } from 'node:fs';

/**
 * One line of the test report `scripts/test.mjs` reads: a test skipped for a missing
 * binary or privilege (with its reason), or how many cases a property test ran.
 */
export type TestReportEntry =
  | { kind: 'skip'; name: string; reason: string }
  | { kind: 'property'; name: string; ran: number; floor: number };

/** The environment variable naming the report file (JSON lines); unset, nothing is written. */
export const TEST_REPORT_ENV = 'MEZITE_TEST_REPORT';

/**
 * Appends one entry to the report file `scripts/test.mjs` names in `MEZITE_TEST_REPORT`.
 * Appends of one short line are atomic, so jest workers may write at once.
 */
export function recordTestReport(entry: TestReportEntry, env: NodeJS.ProcessEnv = process.env): void {
  const file = env[TEST_REPORT_ENV];
  if (file) appendFileSync(file, `${JSON.stringify(entry)}\n`);
}
