import yargs from 'yargs';
import { CliContext } from './cli-context';
import { botsCommand } from './commands/bots';
import { whoamiCommand } from './commands/whoami';
import { reportError, UsageError } from './errors';

/** Options of runMezctl; tests pass their own streams and environment. */
export interface RunOptions {
  prog: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  repoRoot?: string;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

/**
 * Runs `mezctl` (or `plexctl`, the same CLI under another name) and resolves to the
 * exit code. Errors end in one `NAME: Reason: message` line on stderr.
 */
export async function runMezctl(o: RunOptions): Promise<number> {
  const stdout = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const stderr = o.stderr ?? ((s: string) => void process.stderr.write(s));
  const ctx = new CliContext(o.prog, o.env ?? process.env, o.repoRoot, stdout);
  let failure: unknown;
  const parser = yargs(o.argv)
    .scriptName(o.prog)
    .env(false)
    .option('auth-server', { type: 'string', describe: 'gRPC address of the auth server (host:3025); env MEZITE_AUTH_SERVER' })
    .option('identity-file', { alias: 'i', type: 'string', describe: 'Identity file to act as; env MEZITE_IDENTITY' })
    .option('token-file', { type: 'string', describe: 'File holding a bearer token (API token or session) to act as' })
    .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'Output format' })
    .command(botsCommand(ctx))
    .command(whoamiCommand(ctx))
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      failure = err ?? new UsageError(msg ?? 'invalid usage');
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    failure = err;
  }
  if (failure !== undefined) return reportError(o.prog, failure, stderr);
  return 0;
}
