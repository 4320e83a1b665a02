import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

/**
 * `mezctl sessions bootstrap` lists the bootstrap admin session (the one behind each
 * auth-server's admin-identity.json; at most one is live); `mezctl sessions
 * revoke-bootstrap` revokes it once people sign in with `mezctl login`.
 */
export function sessionsCommand(ctx: CliContext) {
  return {
    command: 'sessions',
    describe: 'The bootstrap admin session',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'bootstrap',
          'Show the bootstrap admin session (behind admin-identity.json)',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.sessions.listBootstrapSessions({}, c.auth());
              ctx.printList(
                argv.output,
                r.sessions,
                ['ID', 'PRINCIPAL', 'CREATED', 'EXPIRES'],
                (s) => [s.id, s.principal, rfc3339(s.createTime), rfc3339(s.expireTime)],
                (items) => ({ items: items.map((s) => ({ id: s.id, principal: s.principal, create_time: rfc3339(s.createTime), expire_time: rfc3339(s.expireTime) })) }),
              );
            });
          },
        )
        .command(
          'revoke-bootstrap',
          'Revoke the bootstrap admin session: every admin-identity.json stops working (an auth-server start with MEZITE_BOOTSTRAP_ADMIN on mints a new one)',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.sessions.revokeBootstrapSessions({}, c.auth());
              if (argv.output === 'json') ctx.printJson({ revoked: r.revoked });
              else ctx.print(`Revoked ${r.revoked} bootstrap session${r.revoked === 1 ? '' : 's'}\n`);
            });
          },
        )
        .demandCommand(1, 'name a sessions command: bootstrap, revoke-bootstrap'),
    handler: () => undefined,
  };
}
