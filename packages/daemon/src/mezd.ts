import { parseArgs } from 'node:util';
import type { Argv } from 'yargs';
import { reportError, UsageError } from './errors';
import { CONFIG_KEYS, type ConfigKey, loadIdentityConfig, processEnvironment, ROOT_DATA_DIR, type ConfigEnvironment } from './identity-config';
import { identityStart, type IdentityStartIo } from './identity-start';
import { authorizedPrincipals } from './authorized-principals';
import { nodeConfig, nodeStart } from './node-agent';

/** Options of runMezd; tests pass their own streams, environment and signals. */
export interface RunMezdOptions extends Partial<IdentityStartIo> {
  env?: NodeJS.ProcessEnv;
  /** Overrides the user/home used for defaults (tests). */
  environment?: ConfigEnvironment;
}

const START_OPTIONS = {
  config: { type: 'string', describe: 'YAML or JSON file with the same keys as these flags (flags win)' },
  'auth-server': { type: 'string', describe: 'gRPC address of the auth server, host:port (port 3025); required here, in MEZITE_AUTH_SERVER or in --config' },
  'join-token': { type: 'string', describe: 'One-time join token from `mezctl bots add`: joined with on the first start and whenever it is not the token the identity in --data-dir was obtained with (the same token again just renews); MEZITE_JOIN_TOKEN keeps it out of ps' },
  'join-method': { type: 'string', defaultDescription: 'token', describe: 'token (a one-time secret in --join-token), or github, gitlab, kubernetes: --join-token names a join-token resource and the platform\'s ID token proves the machine (no secret); or bound-keypair: the join key in <data-dir>/join-key (made on first start) proves it, and recovers an expired identity' },
  'join-audience': { type: 'string', defaultDescription: 'mezite:TENANT/NAME', describe: 'With --join-method=github: the audience to request, when the join-token resource sets spec.audience' },
  'id-token-env': { type: 'string', defaultDescription: 'MEZITE_ID_TOKEN', describe: 'With --join-method=gitlab: the environment variable the job\'s id_tokens puts the JWT in' },
  'id-token-file': { type: 'string', defaultDescription: '/var/run/secrets/kubernetes.io/serviceaccount/token', describe: 'With --join-method=kubernetes: the projected service-account token (audience: the resource\'s)' },
  destination: { type: 'string', defaultDescription: '<data-dir>/certs', describe: 'Directory to write ssh_key (0600), ssh_key-cert.pub and known_hosts to, or kubernetes-secret://NAMESPACE/NAME (kubernetes-secret:///NAME: the pod\'s namespace) to write them as one Secret from inside a pod' },
  'renewal-interval': { type: 'string', defaultDescription: '20m', describe: 'Time between renewals (±10 % jitter, and never later than 2/3 of the certificate\'s life); must be shorter than --certificate-ttl (unused with --one-shot)' },
  'certificate-ttl': { type: 'string', defaultDescription: '1h', describe: 'Certificate lifetime to ask for; the bot\'s roles may shorten it' },
  'one-shot': { type: 'boolean', describe: 'Join (or renew), write the files and exit' },
  'data-dir': { type: 'string', defaultDescription: `${ROOT_DATA_DIR} as root, else ~/.local/state/mezite/identity ($XDG_STATE_HOME)`, describe: 'Where mezd keeps its state between runs (0700): current key, certificate, generation, pinned CA' },
  'registration-secret': { type: 'string', describe: 'With --join-method=bound-keypair: the one-time secret from mezctl create -f (registration_secret: generate), traded for registering this machine\'s join key; MEZITE_REGISTRATION_SECRET keeps it out of ps' },
  'ca-pin': { type: 'string', describe: 'sha256:<hex> pin of the auth server\'s CA (ca_pin in /.well-known/mezite), checked on first contact; without it the CA is trusted on first use, with a warning; env MEZITE_CA_PIN' },
} as const;

const NODE_OPTIONS = {
  'auth-server': { type: 'string', describe: 'gRPC address of the auth server, host:port (port 3025); or MEZITE_AUTH_SERVER' },
  'join-token': { type: 'string', describe: 'One-time node join token from `mezctl nodes add` (first start only); MEZITE_JOIN_TOKEN keeps it out of ps' },
  'host-key': { type: 'string', default: '/etc/ssh/ssh_host_ed25519_key.pub', describe: "The host's public key file; its private key (next to it) proves the node's identity at renewal and never leaves the node" },
  destination: { type: 'string', default: '/etc/ssh/mezite', describe: 'Directory for the host certificate, user_ca.pub, revoked_keys.krl, node.json and the sshd_config snippet' },
  'data-dir': { type: 'string', defaultDescription: '/var/lib/mezite/node as root', describe: 'Where mezd keeps the node state (0700)' },
  'ca-pin': { type: 'string', describe: "sha256:<hex> pin of the auth server's CA; without it the CA is trusted on first use, with a warning; env MEZITE_CA_PIN" },
  'refresh-interval': { type: 'string', default: '1m', describe: 'How often the KRL and the trusted User CAs are fetched: a lock reaches sshd within this' },
  'certificate-ttl': { type: 'string', default: '24h', describe: 'Host certificate lifetime to ask for (renewed at 2/3 of it)' },
  'one-shot': { type: 'boolean', describe: 'Join (or renew), write the files and exit' },
  'principals-command': { type: 'string', describe: 'AuthorizedPrincipalsCommand to write into the snippet (absolute paths; default: this node and mezd)' },
  'principals-command-user': { type: 'string', default: 'nobody', describe: 'AuthorizedPrincipalsCommandUser to write into the snippet' },
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
  const startIdentity = (args: Record<string, unknown>): Promise<number> => {
    const flags: Partial<Record<ConfigKey, string | boolean>> = {};
    for (const key of CONFIG_KEYS) {
      const v = args[key];
      if (typeof v === 'string' || typeof v === 'boolean') flags[key] = v;
    }
    const config = loadIdentityConfig(flags, args.config as string | undefined, environment);
    return identityStart(config, { stdout, stderr, signals: o.signals ?? process, ...(o.env ? { env: o.env } : {}), ...(o.clock ? { clock: o.clock } : {}), ...(o.timers ? { timers: o.timers } : {}), ...(o.onLoop ? { onLoop: o.onLoop } : {}) });
  };
  const startNode = (args: Record<string, unknown>): Promise<number> => {
    const cfg = nodeConfig(args, o.env ?? process.env, environment.isRoot, environment.home);
    return nodeStart(cfg, { stdout, stderr, signals: o.signals ?? process, ...(o.clock ? { clock: o.clock } : {}), ...(o.timers ? { timers: o.timers } : {}) });
  };
  const daemon = parseDaemonStart(argv);
  if (daemon) {
    try {
      return await (daemon.command === 'identity' ? startIdentity(daemon.args) : startNode(daemon.args));
    } catch (err) {
      return reportError(err, stderr);
    }
  }
  let failure: unknown;
  let code = 0;
  const parser = loadYargs()(argv)
    .scriptName('mezd')
    .env(false)
    .command('identity <command>', 'Machine identity: short-lived SSH certificates for a bot, renewed automatically', (y: Argv) =>
      y
        .command(
          'start',
          'Join (first start) or renew, write the certificate files, and keep them renewed',
          (a: Argv) => a.options(START_OPTIONS).strictOptions(),
          async (args) => {
            code = await startIdentity(args as Record<string, unknown>);
          },
        )
        .demandCommand(1, 'name an identity command: start'),
    )
    .command('node <command>', 'Node enrollment: a host certificate for this OpenSSH server, the User CAs, the KRL and label-based access', (y: Argv) =>
      y
        .command(
          'start',
          'Join (first start) or renew, write the files sshd reads, and keep them fresh',
          (a: Argv) => a.options(NODE_OPTIONS).strictOptions(),
          async (args) => {
            code = await startNode(args as Record<string, unknown>);
          },
        )
        .demandCommand(1, 'name a node command: start'),
    )
    .command(
      'authorized-principals <user> <key-type> <key>',
      "sshd's AuthorizedPrincipalsCommand (%u %t %k): prints the login if the certificate's roles allow it on this node",
      (a: Argv) =>
        a
          .positional('user', { type: 'string', demandOption: true })
          .positional('key-type', { type: 'string', demandOption: true })
          .positional('key', { type: 'string', demandOption: true })
          .option('node-file', { type: 'string', default: '/etc/ssh/mezite/node.json', describe: 'The node file mezd node writes' })
          .strictOptions(),
      (args) => {
        const r = authorizedPrincipals({ nodeFile: args['node-file'] as string, user: String(args.user), keyType: String(args['key-type']), key: String(args.key) });
        for (const p of r.principals) stdout(`${p}\n`);
        if (r.principals.length === 0) stderr(`mezd authorized-principals: refused ${String(args.user)}: ${r.reason}\n`);
      },
    )
    .demandCommand(1, 'name a command: identity, node, authorized-principals')
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

/**
 * `identity start` or `node start` followed only by their own long options, each at
 * most once, parsed with `node:util` instead of yargs: yargs and the ES modules it
 * pulls in stay resident for the daemon's whole life (~5 MiB, docs/PERFORMANCE.md row
 * 7). Values are what yargs would give for the same words. Anything else — `--help`, an
 * unknown or repeated option, a missing value, another command — returns undefined,
 * and yargs parses it, reports it and prints help exactly as before.
 */
export function parseDaemonStart(argv: readonly string[]): { command: 'identity' | 'node'; args: Record<string, unknown> } | undefined {
  const [command, sub, ...rest] = argv;
  if (sub !== 'start' || (command !== 'identity' && command !== 'node')) return undefined;
  const table = command === 'identity' ? START_OPTIONS : NODE_OPTIONS;
  const options = Object.fromEntries(Object.entries(table).map(([name, o]) => [name, { type: o.type }]));
  try {
    const { values, tokens } = parseArgs({ args: rest, options, strict: true, allowPositionals: false, tokens: true });
    const names = tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : []));
    if (new Set(names).size !== names.length) return undefined;
    return { command, args: values };
  } catch {
    return undefined;
  }
}

/** yargs, loaded only when {@link parseDaemonStart} declines (see there why). */
function loadYargs(): typeof import('yargs') {
  // Node's require(esm) returns yargs itself (it exports 'module.exports'); jest's
  // CommonJS transform gives a namespace with `default`.
  const m = require('yargs') as typeof import('yargs') & { default?: typeof import('yargs') };
  return m.default ?? m;
}
