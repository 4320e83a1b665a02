import { isMeziteError, parseDuration } from '@mezite/identity';
import { UsageError } from '../errors';

/**
 * Runs a flag parser (parseDuration, parseIdentityRef) and turns its InvalidArgument
 * into a UsageError, so a malformed flag value exits 2 like any other usage mistake,
 * with the parser's message unchanged.
 */
export function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (isMeziteError(err, 'InvalidArgument')) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

/**
 * Whole seconds of a duration flag (`--token-ttl=30m`); a part of a second counts as
 * one. A malformed value is the parser's InvalidArgument (exit 1), as `bots` commands
 * have always answered it (test/e2e/foundation pins `--token-ttl=60` to exit 1).
 */
export function durationSeconds(text: string, flag: string): number {
  return Math.ceil(parseDuration(text, flag) / 1000);
}
