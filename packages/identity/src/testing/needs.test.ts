import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding, type JestApi, needsVerdict, testNeeding } from './needs';
import { recordTestReport, TEST_REPORT_ENV, type TestReportEntry } from './report';

/** A fake jest that runs what is registered and says what ran, skipped or failed. */
function fakeJest(env: NodeJS.ProcessEnv) {
  const events: string[] = [];
  const recorded: TestReportEntry[] = [];
  const run = (name: string, fn: jest.ProvidesCallback) => {
    try {
      (fn as () => unknown)();
      events.push(`pass ${name}`);
    } catch (err) {
      events.push(`fail ${name}: ${(err as Error).message}`);
    }
  };
  const describe = Object.assign((name: string, fn: () => void) => { events.push(`describe ${name}`); fn(); }, { skip: (name: string) => { events.push(`skip ${name}`); } });
  const test = Object.assign((name: string, fn: jest.ProvidesCallback) => run(name, fn), { skip: (name: string) => { events.push(`skip ${name}`); } });
  const api: JestApi = { describe, test, env, record: (e) => recorded.push(e) };
  return { api, events, recorded };
}

describe('needsVerdict', () => {
  test.each([
    [undefined, {}, 'run'],
    [undefined, { CI: 'true' }, 'run'],
    ['sshd is not installed', {}, 'skip'],
    ['sshd is not installed', { CI: 'false' }, 'skip'],
    ['sshd is not installed', { CI: 'true' }, 'fail'],
  ] as const)('missing=%s env=%j → %s', (missing, env, verdict) => {
    expect(needsVerdict(missing, env)).toBe(verdict);
  });
});

describe.each([
  ['describeNeeding', (api: JestApi, missing: string | undefined) => describeNeeding(missing, 'ssh suite', () => api.test('logs in', () => undefined), api)],
  ['testNeeding', (api: JestApi, missing: string | undefined) => testNeeding(missing, 'logs in', () => undefined, undefined, api)],
] as const)('%s', (_, register) => {
  test('with everything there, the tests run (CI or not) and nothing is recorded', () => {
    for (const env of [{}, { CI: 'true' }]) {
      const j = fakeJest(env);
      register(j.api, undefined);
      expect(j.events).toContain('pass logs in');
      expect(j.events.some((e) => e.startsWith('fail') || e.startsWith('skip'))).toBe(false);
      expect(j.recorded).toEqual([]);
    }
  });

  test('outside CI, a missing binary skips the tests and records the reason', () => {
    const j = fakeJest({});
    register(j.api, 'stock sshd is not installed');
    expect(j.events.filter((e) => !e.startsWith('describe'))).toEqual([expect.stringMatching(/^skip (ssh suite|logs in)$/)]);
    expect(j.recorded).toEqual([{ kind: 'skip', name: expect.stringMatching(/^(ssh suite|logs in)$/), reason: 'stock sshd is not installed' }]);
  });

  test('with CI=true, a missing binary is a failing test that names it, never a skip', () => {
    const j = fakeJest({ CI: 'true' });
    register(j.api, 'stock sshd is not installed');
    const outcomes = j.events.filter((e) => !e.startsWith('describe'));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatch(/^fail .*: (ssh suite|logs in) cannot run: stock sshd is not installed\. CI=true/);
    expect(j.recorded).toEqual([]);
  });
});

test('the report is JSON lines in the file MEZITE_TEST_REPORT names, and nothing without it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-report-'));
  try {
    const file = join(dir, 'report.jsonl');
    recordTestReport({ kind: 'skip', name: 'a', reason: 'r' }, { [TEST_REPORT_ENV]: file });
    recordTestReport({ kind: 'property', name: 'b', ran: 10, floor: 10 }, { [TEST_REPORT_ENV]: file });
    recordTestReport({ kind: 'skip', name: 'c', reason: 'r' }, {});
    expect(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([
      { kind: 'skip', name: 'a', reason: 'r' },
      { kind: 'property', name: 'b', ran: 10, floor: 10 },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
