import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { formatTable, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/**
 * `mezctl access explain --bot=NAME --node=NODE --login=LOGIN`: whether the bot may log
 * in there, and which rule of which role (or a lock) decides — the decision the node's
 * sshd makes through `mezd authorized-principals`. Exit 0 either way: the answer is the
 * output (`--output json` for scripts).
 */
export function accessCommand(ctx: CliContext) {
  return {
    command: 'access',
    describe: 'Explain access decisions',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'explain',
          'Whether a bot may log in as LOGIN on NODE, and which rule of which role decides',
          (a) =>
            a
              .option('bot', { type: 'string', demandOption: true, describe: 'The bot' })
              .option('node', { type: 'string', demandOption: true, describe: 'The node (mezctl nodes ls)' })
              .option('login', { type: 'string', demandOption: true, describe: 'The remote user, e.g. deploy' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.nodes.explainAccess({ bot: argv.bot, node: argv.node, login: argv.login }, c.auth());
              if (argv.output === 'json') {
                ctx.printJson({
                  allowed: r.allowed,
                  reason: r.reason,
                  decided_by: r.decidedByRule ? { role: r.decidedByRole || null, rule: r.decidedByRule } : null,
                  roles: r.roles.map((v) => ({ role: v.role, allow_selects_node: v.allowSelectsNode, deny_selects_node: v.denySelectsNode, allows_login: v.allowsLogin, denies_login: v.deniesLogin })),
                });
                return;
              }
              ctx.print(`${r.allowed ? 'ALLOWED' : 'DENIED'}: ${argv.login} on ${argv.node} for bot ${argv.bot}\n  ${r.reason}\n\n`);
              ctx.print(formatTable(['ROLE', 'ALLOW SELECTS NODE', 'DENY SELECTS NODE', `ALLOWS ${argv.login}`, `DENIES ${argv.login}`], r.roles.map((v) => [v.role, yesNo(v.allowSelectsNode), yesNo(v.denySelectsNode), yesNo(v.allowsLogin), yesNo(v.deniesLogin)])));
            });
          },
        )
        .demandCommand(1, 'name an access command: explain'),
    handler: () => undefined,
  };
}
