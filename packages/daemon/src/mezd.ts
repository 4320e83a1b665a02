import yargs, { type Argv } from 'yargs';
import { reportError, UsageError } from './errors';
import { CONFIG_KEYS, type ConfigKey, loadIdentityConfig, processEnvironment, ROOT_DATA_DIR, type ConfigEnvironment } from './identity-config';
import { identityStart, type IdentityStartIo } from './identity-start';

/** Options of runMezd; tests pass their own streams, environment and signals. */
export interface RunMezdOptions extends Partial<IdentityStartIo> {
  env?: NodeJS.ProcessEnv;
  /** Overrides the user/home used for defaults (tests). */
  environment?: ConfigEnvironment;
}

const START_OPTIONS = {
  config: { type: 'string', describe: 'YAML or JSON file with the same keys as these flags (flags win)' },
  'auth-server': { type: 'string', describe: 'gRPC address of the auth server, host:port (port 3025); required here, in MEZITE_AUTH_SERVER or in --config' },
  'join-token': { type: 'string', describe: 'One-time join token from `mezctl bots add`; needed on the first start only, not while --data-dir holds a valid identity; MEZITE_JOIN_TOKEN keeps it out of ps' },
  destination: { type: 'string', describe: 'Directory to write ssh_key (0600), ssh_key-cert.pub and known_hosts to; required here or in --config' },
  'renewal-interval': { type: 'string', defaultDescription: '20m', describe: 'Time between renewals (±10 % jitter, and never later than 2/3 of the certificate\'s life); must be shorter than --certificate-ttl' },
  'certificate-ttl': { type: 'string', defaultDescription: '1h', describe: 'Certificate lifetime to ask for; the bot\'s roles may shorten it' },
  'one-shot': { type: 'boolean', describe: 'Join (or renew), write the files and exit' },
  'data-dir': { type: 'string', defaultDescription: `${ROOT_DATA_DIR} as root, else ~/.local/state/mezite/identity ($XDG_STATE_HOME)`, describe: 'Where mezd keeps its state between runs (0700): current key, certificate, generation, pinned CA' },
  'ca-pin': { type: 'string', describe: 'sha256:<hex> pin of the auth server\'s CA (ca_pin in /.well-known/mezite), checked on first contact; without it the CA is trusted on first use, with a warning; env MEZITE_CA_PIN' },
} as const;

/**
 * `mezd`: the machine-side daemon. `mezd identity start` joins with a one-time token,
 * writes an SSH key, certificate and known_hosts for other tools, and keeps the
 * certificate renewed (seed 002). Resolves to the exit code; failures end in one
 * `mezd: Reason: message` line on stderr (2 for usage mistakes, 1 otherwise).
 */
export async function runMezd(argv: string[], o: RunMezdOptions = {}): Promise<number> {
  const stdout = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const stderr = o.stderr ?? ((s: string) => void process.stderr.write(s));
  const environment = o.environment ?? processEnvironment(o.env ?? process.env);
  let failure: unknown;
  let code = 0;
  const parser = yargs(argv)
    .scriptName('mezd')
    .env(false)
    .command('identity <command>', 'Machine identity: short-lived SSH certificates for a bot, renewed automatically', (y: Argv) =>
      y
        .command(
          'start',
          'Join (first start) or renew, write the certificate files, and keep them renewed',
          (a: Argv) => a.options(START_OPTIONS).strictOptions(),
          async (args) => {
            const flags: Partial<Record<ConfigKey, string | boolean>> = {};
            for (const key of CONFIG_KEYS) {
              const v = (args as Record<string, unknown>)[key];
              if (typeof v === 'string' || typeof v === 'boolean') flags[key] = v;
            }
            const config = loadIdentityConfig(flags, args.config as string | undefined, environment);
            code = await identityStart(config, { stdout, stderr, signals: o.signals ?? process, ...(o.clock ? { clock: o.clock } : {}), ...(o.timers ? { timers: o.timers } : {}), ...(o.onLoop ? { onLoop: o.onLoop } : {}) });
          },
        )
        .demandCommand(1, 'name an identity command: start'),
    )
    .demandCommand(1, 'name a command: identity')
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      failure = err ?? new UsageError(msg ?? 'invalid usage');
    });
  try {
    await parser.parseAsync();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) return reportError(failure, stderr);
  return code;
}
