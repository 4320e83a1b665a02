import { isMeziteError, reasonOf } from '@mezite/identity';

/** A mistake in how mezd was called or configured (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Writes the one line every mezd failure ends in — `mezd: Reason: message` — and
 * returns the exit code: 2 for usage mistakes, 1 for everything else. Never a stack.
 */
export function reportError(err: unknown, write: (s: string) => void): number {
  if (err instanceof UsageError) {
    write(`mezd: ${reasonOf('InvalidArgument')}: ${err.message}\n`);
    return 2;
  }
  if (isMeziteError(err)) {
    write(`mezd: ${err.reason}: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`mezd: ${reasonOf('Internal')}: ${message}\n`);
  return 1;
}
