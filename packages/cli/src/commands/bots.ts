import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';
import { botDetailJson, botJson, formatBot, joinTokenLines } from './bot-format';
import { botInstancesCommand } from './bot-instances';
import { lockedColumn } from './lock-format';
import { durationSeconds as seconds } from './usage';

type Opts = GlobalOptions & { output: OutputFormat };

const nameArg = (a: Argv<Opts>) => a.positional('name', { type: 'string', demandOption: true, describe: 'Bot name' });

/**
 * `mezctl bots …`: create, list, show, rotate, lock, unlock and remove bots (seed 002),
 * and `bots instances …`, the machines each bot runs on.
 */
export function botsCommand(ctx: CliContext) {
  return {
    command: 'bots',
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
              .option('token-ttl', { type: 'string', default: '1h', describe: 'How long the join token stays valid (e.g. 30m, 1h)' })
              .option('max-ttl', { type: 'string', describe: "Longest certificate the bot may get (e.g. 4h), within its roles' max_session_ttl; default: the server's (1h)" }),
          async (argv) => {
            const tokenTtlSeconds = seconds(argv.tokenTtl, '--token-ttl');
            const maxCertificateTtlSeconds = argv.maxTtl === undefined ? 0 : seconds(argv.maxTtl, '--max-ttl');
            const roles = argv.roles.split(',').map((r) => r.trim()).filter(Boolean);
            await ctx.withClients(argv, async (c, target) => {
              const r = await c.bots.createBot({ name: argv.name, roles, tokenTtlSeconds, maxCertificateTtlSeconds }, c.auth());
              const bot = r.bot as authv1.Bot;
              if (argv.output === 'json') {
                ctx.printJson({ bot: botJson(bot), join_token: r.joinToken, expires_at: rfc3339(r.joinTokenExpireTime) });
                return;
              }
              ctx.print(`Bot created: ${bot.name} (roles: ${bot.roles.join(', ')})\n` + joinTokenLines(r.joinToken, r.joinTokenExpireTime, target.address));
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
              ctx.printList(
                argv.output,
                bots,
                ['NAME', 'ROLES', 'LOCKED', 'GENERATION', 'CREATED_AT'],
                (b) => [b.name, b.roles.join(','), lockedColumn(b), String(b.generation), rfc3339(b.createTime)],
                (items) => ({ items: items.map(botJson) }),
              );
            });
          },
        )
        .command('show <name>', 'Show one bot: lock, generation, last seen, certificate expiry, its instances', nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            const b = await c.bots.getBot({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson(botDetailJson(b));
            ctx.print(formatBot(b, ctx.prog));
          });
        })
        .command(
          'rotate-token <name>',
          "Replace a bot's join token (the old one stops working) and print the new one",
          (a) => nameArg(a).option('token-ttl', { type: 'string', default: '1h', describe: 'How long the new join token stays valid (e.g. 30m, 1h)' }),
          async (argv) => {
            const tokenTtlSeconds = seconds(argv.tokenTtl, '--token-ttl');
            await ctx.withClients(argv, async (c, target) => {
              const r = await c.bots.rotateBotToken({ name: argv.name, tokenTtlSeconds }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ name: argv.name, join_token: r.joinToken, expires_at: rfc3339(r.expireTime) });
              ctx.print(joinTokenLines(r.joinToken, r.expireTime, target.address));
            });
          },
        )
        .command(
          'lock <name>',
          'Stop a bot from joining and renewing until unlocked',
          (a) =>
            nameArg(a)
              .option('reason', { type: 'string', default: '', describe: 'Why, shown in bots show and to the daemon' })
              .option('expires', { type: 'string', describe: 'Lift the lock by itself after this long (e.g. 24h); default: never' }),
          async (argv) => {
            const ttlSeconds = argv.expires === undefined ? 0 : seconds(argv.expires, '--expires');
            await ctx.withClients(argv, async (c) => {
              const b = await c.bots.lockBot({ name: argv.name, reason: argv.reason, ttlSeconds }, c.auth());
              if (argv.output === 'json') return ctx.printJson(botJson(b));
              ctx.print(`Bot locked: ${b.name || argv.name}\n`);
            });
          },
        )
        .command('unlock <name>', "Lift a bot's lock", nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            const b = await c.bots.unlockBot({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson(botJson(b));
            ctx.print(`Bot unlocked: ${b.name || argv.name}\n`);
          });
        })
        .command(['rm <name>', 'remove <name>'], 'Remove a bot and revoke its join tokens', nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            await c.bots.deleteBot({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
            ctx.print(`Bot removed: ${argv.name}\n`);
          });
        })
        .command(botInstancesCommand(ctx))
        .demandCommand(1, 'name a bots command: add, ls, show, rotate-token, lock, unlock, rm, instances'),
    handler: () => undefined,
  };
}
