import type { CliContext } from '../cli-context';
import { UsageError } from '../errors';
import { readTextFile } from '../input-file';

/** Where `issue-service` may find the client secret. */
export interface ClientSecretOptions {
  clientSecret?: string | undefined;
  clientSecretFile?: string | undefined;
}

/**
 * The client secret, from `--client-secret`, else `--client-secret-file` (`-` is
 * standard input), else `MEZITE_CLIENT_SECRET` — flags before the environment
 * (STYLE §19). Surrounding whitespace is dropped, so a file written by `echo` works.
 * No secret, or an empty one, is a usage error: there is nothing to sign in with.
 */
export async function readClientSecret(o: ClientSecretOptions, ctx: CliContext): Promise<string> {
  let secret: string;
  let from: string;
  if (o.clientSecret !== undefined) {
    [secret, from] = [o.clientSecret, '--client-secret'];
  } else if (o.clientSecretFile !== undefined) {
    const path = o.clientSecretFile;
    [secret, from] = [path === '-' ? await ctx.readStdin() : await readTextFile(path, '--client-secret-file'), path === '-' ? 'standard input' : `--client-secret-file ${path}`];
  } else if (ctx.env.MEZITE_CLIENT_SECRET !== undefined) {
    [secret, from] = [ctx.env.MEZITE_CLIENT_SECRET, 'MEZITE_CLIENT_SECRET'];
  } else {
    throw new UsageError('no client secret: pass --client-secret-file FILE, set MEZITE_CLIENT_SECRET, or pass --client-secret');
  }
  secret = secret.trim();
  if (!secret) throw new UsageError(`the client secret from ${from} is empty`);
  return secret;
}
