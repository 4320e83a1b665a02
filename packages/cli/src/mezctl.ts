import { systemClock, type Clock } from '@mezite/identity';
import yargs, { type Argv } from 'yargs';
import { CliContext } from './cli-context';
import { accessCommand } from './commands/access';
import { auditCommand } from './commands/audit';
import { botsCommand } from './commands/bots';
import { caCommand } from './commands/ca';
import { nodesCommand } from './commands/nodes';
import { createCommand } from './commands/create';
import { identityTokensCommand } from './commands/identity-tokens';
import { loginCommand, logoutCommand } from './commands/login';
import { rolesCommand } from './commands/roles';
import { joinTokensCommand } from './commands/join-tokens';
import { serviceIdentitiesCommand } from './commands/service-identities';
import { whoamiCommand } from './commands/whoami';
import { sessionsCommand } from './commands/sessions';
import { reportError, UsageError } from './errors';
import { readAll } from './input-file';

/** Options of runMezctl; tests pass their own streams and environment. */
export interface RunOptions {
  prog: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  repoRoot?: string;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
  /** Standard input for `create -f -`; default process.stdin. */
  stdin?: string | NodeJS.ReadableStream;
  /** The clock relative times (`--since 1h`) count back from; default the system clock. */
  clock?: Clock;
}

/** The options every command takes; `mezctl bots ls -o json` as well as `mezctl -o json bots ls`. */
function globalOptions(y: Argv) {
  return y
    .option('auth-server', { type: 'string', describe: 'gRPC address of the auth server (host:3025); env MEZITE_AUTH_SERVER' })
    .option('identity-file', { alias: 'i', type: 'string', describe: 'Identity file to act as; env MEZITE_IDENTITY' })
    .option('token-file', { type: 'string', describe: 'File holding a bearer token (API token or session) to act as' })
    .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'Output format' });
}

/**
 * Adds the top-level commands, in the order help lists them. A command group (`bots`,
 * `bots instances`) is a command without positionals whose builder adds subcommands
 * and demands one; `strict()` then refuses a word that names none of them wherever it
 * stands (`bots frobnicate`, `bots frobnicate ls`: "Unknown argument"). Declared as
 * `bots <command>`, a group took the unknown word as its positional and, with a known
 * word after it, ran nothing and exited 0. mezctl.test.ts walks the whole tree.
 */
export function addMezctlCommands(y: ReturnType<typeof globalOptions>, ctx: CliContext) {
  return y
    .command(createCommand(ctx))
    .command(rolesCommand(ctx))
    .command(joinTokensCommand(ctx))
    .command(botsCommand(ctx))
    .command(nodesCommand(ctx))
    .command(caCommand(ctx))
    .command(accessCommand(ctx))
    .command(auditCommand(ctx))
    .command(whoamiCommand(ctx))
    .command(sessionsCommand(ctx))
    .command(identityTokensCommand(ctx))
    .command(serviceIdentitiesCommand(ctx))
    .command(loginCommand(ctx))
    .command(logoutCommand(ctx));
}

/**
 * Runs `mezctl` (or `plexctl`, the same CLI under another name) and resolves to the
 * exit code. Errors end in one `NAME: Reason: message` line on stderr.
 */
export async function runMezctl(o: RunOptions): Promise<number> {
  const stdout = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const stderr = o.stderr ?? ((s: string) => void process.stderr.write(s));
  const stdin = o.stdin ?? process.stdin;
  const readStdin = () => (typeof stdin === 'string' ? Promise.resolve(stdin) : readAll(stdin));
  const ctx = new CliContext(o.prog, o.env ?? process.env, o.repoRoot, stdout, readStdin, o.clock ?? systemClock, stderr);
  const parser = addMezctlCommands(globalOptions(yargs(o.argv).scriptName(o.prog).env(false)), ctx)
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    // Throwing stops yargs: a validation failure (missing option, bad choice) must not
    // go on to run the handler. yargs' own errors (YError, e.g. "Not enough arguments
    // following: f") are usage errors; a handler's error passes through as it is.
    .fail((msg, err) => {
      if (err && err.name !== 'YError') throw err;
      throw new UsageError((msg || err?.message || 'invalid usage').replace(/\s*\n\s*/g, ' '));
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    return reportError(o.prog, err, stderr);
  }
  return 0;
}
