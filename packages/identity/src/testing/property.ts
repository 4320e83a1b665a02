import * as fc from 'fast-check';
import { recordTestReport } from './report';

/** fast-check parameters with the number of cases stated, and the floor below which the property has not passed. */
export type PropertyParams<Ts> = fc.Parameters<Ts> & {
  numRuns: number;
  /** The fewest cases that must run (default `numRuns`; lower it only for properties with `fc.pre`). */
  floor?: number;
};

function name(): string {
  const state = (globalThis as { expect?: { getState(): { currentTestName?: string } } }).expect?.getState();
  return state?.currentTestName ?? 'property';
}

/** Throws unless the run passed and ran at least the floor; records how many cases ran. */
export function checkRunDetails<Ts>(details: fc.RunDetails<Ts>, params: PropertyParams<Ts>, testName = name()): void {
  const floor = params.floor ?? params.numRuns;
  recordTestReport({ kind: 'property', name: testName, ran: details.numRuns, floor });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? `property failed after ${details.numRuns} cases`);
  if (details.interrupted || details.numRuns < floor) {
    throw new Error(`property ran ${details.numRuns} of ${params.numRuns} cases (${details.numSkips} skipped by fc.pre${details.interrupted ? ', interrupted' : ''}); it has not passed below the floor of ${floor}`);
  }
}

/**
 * `fc.assert` that also fails when fewer than the floor of cases ran (a run cut short by
 * `interruptAfterTimeLimit`, or a precondition that rejects most inputs, has not shown
 * anything), and records the count for `pnpm test`'s report.
 */
export function assertProperty<Ts>(property: fc.IProperty<Ts>, params: PropertyParams<Ts>): fc.RunDetails<Ts> {
  const details = fc.check(property, params);
  checkRunDetails(details, params);
  return details;
}

/** {@link assertProperty} for an `fc.asyncProperty`. */
export async function assertAsyncProperty<Ts>(property: fc.IAsyncProperty<Ts>, params: PropertyParams<Ts>): Promise<fc.RunDetails<Ts>> {
  const details = await fc.check(property, params);
  checkRunDetails(details, params);
  return details;
}
