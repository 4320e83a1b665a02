import { isMeziteError, reasonOf } from '@mezite/identity';

/**
 * Writes the one error line every CLI failure ends in — `NAME: Reason: message`,
 * NAME being what the user typed (`plexctl` or `mezctl`) — and never a stack trace.
 * Returns the exit code.
 */
export function reportError(prog: string, err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (isMeziteError(err)) {
    write(`${prog}: ${err.reason}: ${err.message}\n`);
    return 1;
  }
  if (err instanceof UsageError) {
    write(`${prog}: ${reasonOf('InvalidArgument')}: ${err.message}\n`);
    return 2;
  }
  if (err instanceof NotImplementedError) {
    write(`${prog}: Not implemented: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`${prog}: ${reasonOf('Internal')}: ${message}\n`);
  return 1;
}

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * The server has no such RPC (gRPC UNIMPLEMENTED): an auth server older than the
 * CLI. Not a domain error — no server-side code ever means it — so it lives here.
 */
export class NotImplementedError extends Error {
  override readonly name = 'NotImplementedError';
}
