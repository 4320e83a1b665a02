import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import type { OutputFormat } from '../output';

/** `mezctl whoami`: who the current credential is (seed 000, step 2). */
export function whoamiCommand(ctx: CliContext) {
  return {
    command: 'whoami',
    describe: 'Show the principal behind the current credential',
    builder: (y: Argv<GlobalOptions & { output: OutputFormat }>) => y,
    handler: async (argv: GlobalOptions & { output: OutputFormat }) => {
      await ctx.withClients(argv, async (c) => {
        const r = await c.identity.whoAmI({}, c.auth());
        ctx.printList(
          argv.output,
          [r],
          ['PRINCIPAL', 'SUBJECT', 'DOMAIN', 'ACR', 'AMR'],
          (w) => [w.principal, w.subject, w.domain, w.acr, w.amr.join(',')],
          ([w]) => ({ principal: w?.principal, subject: w?.subject, domain: w?.domain, acr: w?.acr ?? '', amr: w?.amr ?? [] }),
        );
      });
    },
  };
}
