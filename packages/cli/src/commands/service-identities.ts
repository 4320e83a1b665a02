import type { authv1 } from '@mezite/proto';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { rfc3339, type OutputFormat } from '../output';
import { onceSecret } from './once-secret';

type Opts = GlobalOptions & { output: OutputFormat };

const nameArg = (a: Argv<Opts>) => a.positional('name', { type: 'string', demandOption: true, describe: 'Service identity name' });

/** A service identity for JSON output. */
function serviceJson(s: authv1.ServiceIdentity) {
  return { name: s.name, id: s.id, client_id: s.clientId, tenant: s.tenant, created_at: rfc3339(s.createTime) || null };
}

/**
 * Prints a service identity with its new client secret: the secret once, under the
 * banner identity-tokens uses, then the identity. `hint` adds how to sign in with it.
 */
function printWithSecret(ctx: CliContext, output: OutputFormat, r: authv1.CreateServiceIdentityResponse, hint: boolean): void {
  const s = r.serviceIdentity;
  if (output === 'json') {
    ctx.printJson({ ...(s ? serviceJson(s) : {}), client_secret: r.clientSecret });
    return;
  }
  const lines = onceSecret(r.clientSecret, [['name', s?.name], ['client_id', s?.clientId], ['id', s?.id], ['tenant', s?.tenant], ['created_at', rfc3339(s?.createTime)]]);
  const signIn = `\nSign it in with:\n${ctx.prog} identity-tokens issue-service --client-id ${s?.clientId ?? ''} --grant-type client_credentials --client-secret-file FILE\n`;
  ctx.print(lines + (hint ? signIn : ''));
}

/** `mezctl service-identities …`: machine principals that sign in with client_credentials (seed 000). */
export function serviceIdentitiesCommand(ctx: CliContext) {
  return {
    command: 'service-identities',
    describe: 'Manage service identities: machines that sign in with a client id and secret',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'add',
          'Create a service identity and print its client secret (shown once)',
          (a) =>
            a
              .option('name', { type: 'string', demandOption: true, describe: 'Name, unique in the tenant (lower-case letters, digits, -)' })
              .option('client-id', { type: 'string', describe: 'Client id, unique in the cluster; default the name' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.serviceIdentities.createServiceIdentity({ name: argv.name, clientId: argv.clientId ?? '' }, c.auth());
              printWithSecret(ctx, argv.output, r, true);
            });
          },
        )
        .command(
          ['ls', 'list'],
          'List service identities',
          (a) => a,
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const items: authv1.ServiceIdentity[] = [];
              let pageToken = '';
              do {
                const r = await c.serviceIdentities.listServiceIdentities({ pageSize: 500, pageToken }, c.auth());
                items.push(...r.serviceIdentities);
                pageToken = r.nextPageToken;
              } while (pageToken);
              ctx.printList(
                argv.output,
                items,
                ['NAME', 'CLIENT_ID', 'ID', 'CREATED_AT'],
                (s) => [s.name, s.clientId, s.id, rfc3339(s.createTime)],
                (all) => ({ items: all.map(serviceJson) }),
              );
            });
          },
        )
        .command(['rm <name>', 'remove <name>'], 'Remove a service identity: its client secret and every API token it holds stop working', nameArg, async (argv) => {
          await ctx.withClients(argv, async (c) => {
            await c.serviceIdentities.deleteServiceIdentity({ name: argv.name }, c.auth());
            if (argv.output === 'json') return ctx.printJson({ removed: argv.name });
            ctx.print(`Service identity removed: ${argv.name}\n`);
          });
        })
        .command(
          'rotate-secret <name>',
          'Replace the client secret (the old one stops working) and print the new one; --revoke-tokens also revokes every API token the identity holds',
          (a) => nameArg(a).option('revoke-tokens', { type: 'boolean', default: false, describe: 'Also revoke every API token of the identity, on every replica, before returning (a leaked secret may have minted them)' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              printWithSecret(ctx, argv.output, await c.serviceIdentities.rotateServiceIdentitySecret({ name: argv.name, revokeTokens: argv.revokeTokens }, c.auth()), false);
              // On stderr, so the secret on stdout stays the only thing a script reads.
              if (argv.revokeTokens) ctx.note(`every API token of ${argv.name} is revoked`);
              else ctx.note(`API tokens already issued to ${argv.name} stay valid until they expire; add --revoke-tokens to revoke them`);
            });
          },
        )
        .demandCommand(1, 'name a service-identities command: add, ls, rm, rotate-secret'),
    handler: () => undefined,
  };
}
