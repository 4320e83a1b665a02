import { parseDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

const botJson = (b: authv1.Bot) => ({ id: b.id, name: b.name, roles: b.roles, created_at: rfc3339(b.createTime) });

/** `mezctl bots …`: create, list, show and remove bots (seed 002). */
export function botsCommand(ctx: CliContext) {
  return {
    command: 'bots <command>',
    describe: 'Manage bots: machine identities that renew SSH certificates',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'add',
          'Create a bot and print its one-time join token',
          (a) =>
            a
              .option('name', { type: 'string', demandOption: true, describe: 'Bot name (lower-case letters, digits, -)' })
              .option('roles', { type: 'string', demandOption: true, describe: 'Comma-separated roles the bot gets' })
              .option('token-ttl', { type: 'string', default: '1h', describe: 'How long the join token stays valid (e.g. 30m, 1h)' }),
          async (argv) => {
            const ttlMs = parseDuration(argv.tokenTtl, '--token-ttl');
            const roles = argv.roles.split(',').map((r) => r.trim()).filter(Boolean);
            await ctx.withClients(argv, async (c, target) => {
              const r = await c.bots.createBot({ name: argv.name, roles, tokenTtlSeconds: Math.ceil(ttlMs / 1000) }, c.auth());
              const bot = r.bot as authv1.Bot;
              const expires = rfc3339(r.joinTokenExpireTime);
              if (argv.output === 'json') {
                ctx.printJson({ bot: botJson(bot), join_token: r.joinToken, expires_at: expires });
                return;
              }
              ctx.print(
                `Bot created: ${bot.name} (roles: ${bot.roles.join(', ')})\n` +
                  `Join token: ${r.joinToken} (expires: ${expires})\n` +
                  `\n` +
                  `Use this token with mezd identity:\n` +
                  `mezd identity start --auth-server=${target.address} --join-token=${r.joinToken}\n`,
              );
            });
          },
        )
        .command(
          ['ls', 'list'],
          'List bots',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const bots: authv1.Bot[] = [];
              let pageToken = '';
              do {
                const r = await c.bots.listBots({ pageSize: 500, pageToken }, c.auth());
                bots.push(...r.bots);
                pageToken = r.nextPageToken;
              } while (pageToken);
              ctx.printList(argv.output, bots, ['NAME', 'ROLES', 'CREATED_AT'], (b) => [b.name, b.roles.join(','), rfc3339(b.createTime)], (items) => ({ items: items.map(botJson) }));
            });
          },
        )
        .command(
          'show <name>',
          'Show one bot',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const b = await c.bots.getBot({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson(botJson(b));
              ctx.print(`name:        ${b.name}\nid:          ${b.id}\nroles:       ${b.roles.join(', ')}\ncreated_at:  ${rfc3339(b.createTime)}\n`);
            });
          },
        )
        .command(
          ['rm <name>', 'remove <name>'],
          'Remove a bot and revoke its join tokens',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              await c.bots.deleteBot({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
              ctx.print(`Bot removed: ${argv.name}\n`);
            });
          },
        )
        .demandCommand(1, 'name a bots command: add, ls, show, rm'),
    handler: () => undefined,
  };
}
