import { formatDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { Clients, GlobalOptions } from '../connection';
import type { OutputFormat } from '../output';
import { roleDocument, roleYaml } from '../role-document';

type Opts = GlobalOptions & { output: OutputFormat };

/** Every role of the tenant, all pages. */
async function listAllRoles(c: Clients): Promise<authv1.Role[]> {
  const roles: authv1.Role[] = [];
  let pageToken = '';
  do {
    const r = await c.roles.listRoles({ pageSize: 500, pageToken }, c.auth());
    roles.push(...r.roles);
    pageToken = r.nextPageToken;
  } while (pageToken);
  return roles;
}

/**
 * `mezctl roles …`: list, show and remove roles. Roles are created and replaced with
 * `mezctl create -f role.yaml [--force]`; `roles show` prints the document back in the
 * same format, so show → edit → create --force is a round trip.
 */
export function rolesCommand(ctx: CliContext) {
  return {
    command: 'roles',
    describe: 'Manage roles (create them with: create -f role.yaml)',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          ['ls', 'list'],
          'List roles',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              ctx.printList(
                argv.output,
                await listAllRoles(c),
                ['NAME', 'DESCRIPTION', 'MAX_SESSION_TTL', 'LOGINS', 'DENY_LOGINS'],
                (r) => [r.name, r.description, formatDuration(r.maxSessionTtlSeconds * 1000), r.allow?.logins.join(','), r.deny?.logins.join(',')],
                (items) => ({ items: items.map(roleDocument) }),
              );
            });
          },
        )
        .command(
          'show <name>',
          'Show one role as YAML (JSON with --output json)',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.roles.getRole({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson(roleDocument(r));
              ctx.print(roleYaml(r));
            });
          },
        )
        .command(
          ['rm <name>', 'remove <name>'],
          'Remove a role that no bot uses',
          (a) => a.positional('name', { type: 'string', demandOption: true }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              await c.roles.deleteRole({ name: argv.name }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
              ctx.print(`role "${argv.name}" has been deleted\n`);
            });
          },
        )
        .demandCommand(1, 'name a roles command: ls, show, rm'),
    handler: () => undefined,
  };
}
