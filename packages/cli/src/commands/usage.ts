import { isMeziteError } from '@mezite/identity';
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
