import { recordTestReport, type TestReportEntry } from './report';

/** The jest globals the helpers register with (injected by their own tests). */
export interface JestApi {
  describe: { (name: string, fn: () => void): void; skip(name: string, fn: () => void): void };
  test: { (name: string, fn: jest.ProvidesCallback, timeout?: number): void; skip(name: string, fn: jest.ProvidesCallback, timeout?: number): void };
  env: NodeJS.ProcessEnv;
  record: (entry: TestReportEntry, env: NodeJS.ProcessEnv) => void;
}

/** What to do with tests whose binary or privilege may be missing. */
export type NeedsVerdict = 'run' | 'skip' | 'fail';

/**
 * `run` when nothing is missing; otherwise `skip` on a developer's machine and `fail`
 * in CI (`CI=true`), where .ci/run installs everything and a skip would hide a
 * guarantee that was never checked.
 */
export function needsVerdict(missing: string | undefined, env: NodeJS.ProcessEnv = process.env): NeedsVerdict {
  if (!missing) return 'run';
  return env.CI === 'true' ? 'fail' : 'skip';
}

function jestApi(): JestApi {
  return { describe: globalThis.describe, test: globalThis.test, env: process.env, record: recordTestReport };
}

function ciFailure(name: string, missing: string): Error {
  return new Error(`${name} cannot run: ${missing}. CI=true, where a missing binary or privilege is a failure, not a skip (.ci/run installs them)`);
}

/**
 * `describe(name, fn)` for tests that need a binary or privilege; `missing` says what
 * is missing (undefined when all is there). Missing outside CI: the tests are skipped
 * and the reason recorded for `pnpm test`'s skip list. Missing with `CI=true`: one test
 * that fails with the reason takes their place.
 */
export function describeNeeding(missing: string | undefined, name: string, fn: () => void, api: JestApi = jestApi()): void {
  const verdict = needsVerdict(missing, api.env);
  if (verdict === 'run' || !missing) {
    api.describe(name, fn);
  } else if (verdict === 'fail') {
    api.describe(name, () => api.test(`needs what is missing: ${missing}`, () => { throw ciFailure(name, missing); }));
  } else {
    api.record({ kind: 'skip', name, reason: missing }, api.env);
    api.describe.skip(name, fn);
  }
}

/** As {@link describeNeeding}, for one test. */
export function testNeeding(missing: string | undefined, name: string, fn: jest.ProvidesCallback, timeout?: number, api: JestApi = jestApi()): void {
  const verdict = needsVerdict(missing, api.env);
  if (verdict === 'run' || !missing) {
    api.test(name, fn, timeout);
  } else if (verdict === 'fail') {
    api.test(name, () => { throw ciFailure(name, missing); });
  } else {
    api.record({ kind: 'skip', name, reason: missing }, api.env);
    api.test.skip(name, fn, timeout);
  }
}
