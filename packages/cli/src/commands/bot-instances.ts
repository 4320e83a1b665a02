import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';
import { joinTokenLines } from './bot-format';
import { BOT_INSTANCE_HEADERS, botInstanceDetailJson, botInstanceJson, botInstanceRow, formatBotInstance } from './bot-instance-format';
import { durationSeconds } from './usage';

type Opts = GlobalOptions & { output: OutputFormat };

/**
 * `mezctl bots instances …`: the machines a bot runs on. Each successful join creates
 * an instance; each renewal moves its generation on; a copied credential locks it.
 */
export function botInstancesCommand(ctx: CliContext) {
  return {
    command: 'instances',
    describe: "A bot's instances: one per machine that joined, with its heartbeat and lineage",
    builder: (y: Argv<Opts>) =>
      y
        .command(
          ['ls [bot]', 'list [bot]'],
          'List instances, newest first: of one bot, or of every bot',
          (a) => a.positional('bot', { type: 'string', describe: 'Bot name; default: every bot' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const instances: authv1.BotInstance[] = [];
              let pageToken = '';
              do {
                const r = await c.bots.listBotInstances({ botName: argv.bot ?? '', pageSize: 500, pageToken }, c.auth());
                instances.push(...r.instances);
                pageToken = r.nextPageToken;
              } while (pageToken);
              ctx.printList(argv.output, instances, BOT_INSTANCE_HEADERS, botInstanceRow, (items) => ({ items: items.map(botInstanceJson) }));
            });
          },
        )
        .command(
          'show <id>',
          'Show one instance: heartbeat, destinations, lock, and the key certified at each generation',
          (a) => a.positional('id', { type: 'string', demandOption: true, describe: 'Instance id (bots instances ls)' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const i = await c.bots.getBotInstance({ id: argv.id }, c.auth());
              if (argv.output === 'json') return ctx.printJson(botInstanceDetailJson(i));
              ctx.print(formatBotInstance(i));
            });
          },
        )
        .command(
          'add <bot>',
          "Print another one-time join token for a bot, for another machine (unlike rotate-token, the bot's other tokens keep working)",
          (a) =>
            a
              .positional('bot', { type: 'string', demandOption: true, describe: 'Bot name' })
              .option('token-ttl', { type: 'string', default: '1h', describe: 'How long the join token stays valid (e.g. 30m, 1h)' }),
          async (argv) => {
            const tokenTtlSeconds = durationSeconds(argv.tokenTtl, '--token-ttl');
            await ctx.withClients(argv, async (c, target) => {
              const r = await c.bots.addBotInstance({ name: argv.bot, tokenTtlSeconds }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ name: argv.bot, join_token: r.joinToken, expires_at: rfc3339(r.expireTime) });
              ctx.print(joinTokenLines(r.joinToken, r.expireTime, target.address));
            });
          },
        )
        .demandCommand(1, 'name a bots instances command: ls, show, add'),
    handler: () => undefined,
  };
}
