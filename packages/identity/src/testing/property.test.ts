import * as fc from 'fast-check';
import { assertAsyncProperty, assertProperty, checkRunDetails } from './property';
import { TEST_REPORT_ENV } from './report';

// These runs fail on purpose: keep them out of pnpm test's property report.
delete process.env[TEST_REPORT_ENV];

describe('assertProperty', () => {
  test('passes when every requested case ran, and returns how many', () => {
    expect(assertProperty(fc.property(fc.integer(), (n) => n + 0 === n), { numRuns: 50 }).numRuns).toBe(50);
  });

  test('fails with the counterexample when the property fails', () => {
    expect(() => assertProperty(fc.property(fc.nat(), (n) => n < 10), { numRuns: 200, seed: 1 })).toThrow(/Counterexample/);
  });

  test('fails when fc.pre rejects so many inputs that fewer than the floor ran', () => {
    const rare = fc.property(fc.nat(), (n) => { fc.pre(n % 50 === 0); return true; });
    expect(() => assertProperty(rare, { numRuns: 100, seed: 7, maxSkipsPerRun: 1 })).toThrow(/too many pre-condition failures|floor of 100/);
  });

  test('fails when the run is cut short by a time limit (an interrupted property has not passed)', () => {
    const slow = fc.property(fc.nat(), () => { const end = Date.now() + 5; while (Date.now() < end); return true; });
    expect(() => assertProperty(slow, { numRuns: 1000, interruptAfterTimeLimit: 20 })).toThrow(/of 1000 cases.*interrupted/);
  });

  test('a lower floor is honoured for a property with a precondition', () => {
    const details = { failed: false, interrupted: false, numRuns: 60, numSkips: 40 } as fc.RunDetails<[number]>;
    expect(() => checkRunDetails(details, { numRuns: 100, floor: 50 }, 'x')).not.toThrow();
    expect(() => checkRunDetails(details, { numRuns: 100 }, 'x')).toThrow(/ran 60 of 100/);
  });

  test('async properties are held to the same floor', async () => {
    await expect(assertAsyncProperty(fc.asyncProperty(fc.nat(), async () => true), { numRuns: 30 })).resolves.toMatchObject({ numRuns: 30 });
    await expect(assertAsyncProperty(fc.asyncProperty(fc.nat(), async (n) => { fc.pre(n === 3); return true; }), { numRuns: 30, seed: 3 })).rejects.toThrow(/too many pre-condition failures|floor of 30/);
  });
});
