import { invalidArgument, parseApiToken, parseDuration, parseIdentityRef } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { UsageError } from '../errors';
import { rfc3339, type OutputFormat } from '../output';
import { readClientSecret } from './client-secret';
import { jsonTime, onceSecret } from './once-secret';
import { asUsageError } from './usage';

type Opts = GlobalOptions & { output: OutputFormat };

/** The only OAuth2 grant a machine signs in with. */
const GRANT_TYPE = 'client_credentials';

const idOption = (a: Argv<Opts>) => a.option('id', { type: 'string', demandOption: true, describe: 'Token id (the ID column of identity-tokens list)' });

/** Prints a freshly issued token: the plaintext once, or OAuth2's token response as JSON. */
function printIssued(ctx: CliContext, output: OutputFormat, r: authv1.IssuedToken): void {
  if (output === 'json') {
    ctx.printJson({ access_token: r.accessToken, token_type: r.tokenType, expires_in: r.expiresIn, id: r.id, expires_at: rfc3339(r.expireTime) });
    return;
  }
  ctx.print(onceSecret(r.accessToken, [['id', r.id], ['env_prefix', r.envPrefix], ['expires_at', rfc3339(r.expireTime)]]));
}

/** One usage row for JSON output. */
function usageJson(u: authv1.TokenUsage) {
  return { hour: jsonTime(u.hour), source: u.source, client: u.client, count: u.count, first_seen: jsonTime(u.firstSeen), last_seen: jsonTime(u.lastSeen) };
}

/** "used 214 times in the last hour from 10.2.0.7 (deploy-bot/1.4), …" for a token's recent users. */
export function usedBy(users: authv1.TokenUsage[]): string {
  const n = users.reduce((a, u) => a + u.count, 0);
  const who = users.slice(0, 3).map((u) => (u.client ? `${u.source} (${u.client})` : u.source));
  if (users.length > 3) who.push(`${users.length - 3} more`);
  return `used ${n} ${n === 1 ? 'time' : 'times'} in the last hour from ${who.join(', ')}`;
}

/** An API token's metadata for JSON output; unset times are null. */
function tokenJson(t: authv1.ApiToken) {
  return {
    id: t.id,
    env: t.envPrefix,
    created_at: jsonTime(t.createTime),
    expires_at: jsonTime(t.expireTime),
    last_used_at: jsonTime(t.lastUsedTime),
    rotated_at: jsonTime(t.rotateTime),
    rotation_deadline: jsonTime(t.rotationDeadline),
    identity_ref: t.identityRef,
    ...(t.recentUsers.length > 0 ? { recent_users: t.recentUsers.map(usageJson) } : {}),
  };
}

/**
 * `mezctl identity-tokens …` (seed 000): a machine signs in with client_credentials
 * (`issue-service`), then lists, rotates and deletes the API tokens it holds; people
 * mint tokens with `issue`.
 */
export function identityTokensCommand(ctx: CliContext) {
  return {
    command: 'identity-tokens',
    describe: 'Issue, list, rotate and revoke API tokens (psk_live_…, psk_dev_…)',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'issue-service',
          'Sign a service identity in with its client id and secret (OAuth2 client_credentials) and print its API token',
          (a) =>
            a
              .option('client-id', { type: 'string', demandOption: true, describe: 'Client id of the service identity' })
              .option('grant-type', { type: 'string', demandOption: true, describe: `OAuth2 grant type; only ${GRANT_TYPE}` })
              .option('client-secret', { type: 'string', nargs: 1, describe: 'Client secret (visible in ps and shell history; prefer the file or MEZITE_CLIENT_SECRET)' })
              .option('client-secret-file', { type: 'string', requiresArg: true, describe: 'File holding the client secret; - reads standard input' })
              .conflicts('client-secret', 'client-secret-file')
              .epilogue(
                'The client id and secret are the credential: no identity file or --token-file is sent. ' +
                  'The secret is read from --client-secret, else --client-secret-file, else the environment variable MEZITE_CLIENT_SECRET. ' +
                  'Prefer the file (- reads standard input) or the variable: other users can see --client-secret in the process list, and it stays in your shell history.',
              ),
          async (argv) => {
            if (argv.grantType !== GRANT_TYPE) throw new UsageError(`--grant-type: unsupported grant type "${argv.grantType}"; only ${GRANT_TYPE} is allowed`);
            const clientSecret = await readClientSecret(argv, ctx);
            await ctx.withClients(
              argv,
              async (c) => printIssued(ctx, argv.output, await c.tokens.issueServiceToken({ clientId: argv.clientId, clientSecret, grantType: GRANT_TYPE })),
              // The client id and secret are the credential: never add the identity's.
              { anonymous: true },
            );
          },
        )
        .command(
          'issue',
          'Mint an API token for yourself or (admins) a service identity; needs an interactive session, not an API token',
          (a) =>
            a
              .option('identity-ref', { type: 'string', demandOption: true, describe: 'Who the token authenticates as: service:<uuid> or user:<uuid>' })
              .option('env-prefix', { choices: ['live', 'dev'] as const, demandOption: true, describe: 'Token prefix: psk_live_… or psk_dev_…' })
              .option('ttl', { type: 'string', describe: "Lifetime (e.g. 30d, 12h); default the server's (90d)" }),
          async (argv) => {
            const identityRef = asUsageError(() => parseIdentityRef(argv.identityRef));
            const ttlSeconds = argv.ttl === undefined ? 0 : Math.ceil(asUsageError(() => parseDuration(argv.ttl as string, '--ttl')) / 1000);
            await ctx.withClients(argv, async (c) => {
              const r = await c.tokens.issueToken({ identityRef: `${identityRef.kind}:${identityRef.id}`, envPrefix: argv.envPrefix, ttlSeconds }, c.auth());
              printIssued(ctx, argv.output, r);
            });
          },
        )
        .command(
          ['list', 'ls'],
          'List your API tokens, newest first',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const tokens: authv1.ApiToken[] = [];
              let pageToken = '';
              do {
                const r = await c.tokens.listTokens({ pageSize: 500, pageToken }, c.auth());
                tokens.push(...r.tokens);
                pageToken = r.nextPageToken;
              } while (pageToken);
              ctx.printList(
                argv.output,
                tokens,
                ['ID', 'ENV', 'CREATED_AT', 'EXPIRES_AT', 'LAST_USED_AT', 'ROTATED_AT'],
                (t) => [t.id, t.envPrefix, rfc3339(t.createTime), rfc3339(t.expireTime), rfc3339(t.lastUsedTime), rfc3339(t.rotateTime)],
                (items) => ({ items: items.map(tokenJson) }),
              );
              // During an overlap: is the predecessor still presented, and by whom.
              if (argv.output !== 'json') for (const t of tokens) if (t.recentUsers.length > 0) ctx.print(`\nold token ${t.id} ${usedBy(t.recentUsers)}\n`);
            });
          },
        )
        .command(
          'rotate',
          'Replace a token with a new plaintext; the old one keeps working until the rotation deadline (--finish ends that overlap now)',
          (a) =>
            idOption(a)
              .option('finish', { type: 'boolean', default: false, describe: 'End the rotation overlap of token --id (the old token) now: it stops working at once' })
              .option('force', { type: 'boolean', default: false, describe: 'With --finish: finish even though the old token was presented in the last minutes' }),
          async (argv) => {
          if (argv.force && !argv.finish) throw new UsageError('--force goes with --finish');
          await ctx.withClients(argv, async (c) => {
            if (argv.finish) {
              await c.tokens.finishRotation({ id: argv.id, force: argv.force }, c.auth());
              if (argv.output === 'json') ctx.printJson({ id: argv.id, finished: true });
              else ctx.print(`rotation finished: token ${argv.id} no longer works\n`);
              return;
            }
            const r = await c.tokens.rotateToken({ id: argv.id }, c.auth());
            const t = r.token;
            const expires = rfc3339(t?.expireTime);
            const deadline = rfc3339(r.rotationDeadline);
            if (argv.output === 'json') {
              ctx.printJson({ plaintext: r.plaintext, id: t?.id ?? '', env_prefix: t?.envPrefix ?? '', expires_at: expires || null, rotation_deadline: deadline || null, old_token_users: r.oldTokenUsers.map(usageJson) });
              return;
            }
            ctx.print(onceSecret(r.plaintext, [['id', t?.id], ['env_prefix', t?.envPrefix], ['expires_at', expires], ['rotation_deadline', deadline]]));
            // Only when someone else still presents the old token (the seed's machine, which rotates its own, sees nothing more).
            if (r.oldTokenUsers.length > 0) ctx.print(`\nold token ${usedBy(r.oldTokenUsers)}\n`);
          });
          },
        )
        .command(
          'usage',
          'Who presented a token, per hour: source address, client, count, first and last seen',
          (a) => idOption(a).option('identity-ref', { type: 'string', default: '', describe: "Admins: the token's owner, service:<uuid>, when not yourself" }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.tokens.getTokenUsage({ id: argv.id, identityRef: argv.identityRef }, c.auth());
              ctx.printList(
                argv.output,
                r.usage,
                ['HOUR', 'SOURCE', 'CLIENT', 'COUNT', 'FIRST_SEEN', 'LAST_SEEN'],
                (u) => [rfc3339(u.hour), u.source, u.client || '-', String(u.count), rfc3339(u.firstSeen), rfc3339(u.lastSeen)],
                (items) => ({ id: argv.id, last_used_at: jsonTime(r.lastUsedTime), items: items.map(usageJson) }),
              );
            });
          },
        )
        .command(['delete', 'rm'], 'Revoke a token at once; prints nothing on success', idOption, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            await c.tokens.deleteToken({ id: argv.id }, c.auth());
          });
        })
        .command(
          'check <token>',
          'Check offline whether a string is a well-formed Mezite API token (its checksum matches); nothing is sent anywhere',
          (a) => a.positional('token', { type: 'string', demandOption: true, describe: 'The candidate, e.g. one a secret scanner found' }),
          (argv) => {
            const token = String(argv.token).trim();
            const parsed = parseApiToken(token);
            if (!parsed) {
              const why = !/^psk_(live|dev)_/.test(token) ? 'it does not start with psk_live_ or psk_dev_' : token.length !== `psk_${token.startsWith('psk_dev_') ? 'dev' : 'live'}_`.length + 28 ? 'it is not 28 characters after the prefix' : /[^0-9A-Za-z]/.test(token.slice(token.indexOf('_', 4) + 1)) ? 'it holds characters other than 0-9, A-Z and a-z after the prefix' : 'its checksum does not match (a mistyped or made-up token)';
              throw invalidArgument(`not a Mezite API token: ${why}`);
            }
            if (argv.output === 'json') ctx.printJson({ valid: true, env: parsed.env });
            else ctx.print(`A well-formed Mezite API token (${parsed.env}): its checksum matches. If it leaked, revoke it: identity-tokens delete, or POST /v1/secret-scanning/revoke (docs/token-format.md).\n`);
          },
        )
        .demandCommand(1, 'name an identity-tokens command: issue-service, issue, list, rotate, usage, delete, check'),
    handler: () => undefined,
  };
}
