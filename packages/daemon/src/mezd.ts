import yargs from 'yargs';

/**
 * `mezd`: the machine-side daemon. `mezd identity start` (join, write, renew SSH
 * certificates) arrives with the bots issue; until then the command tree is here so
 * `bin/mezd` is on PATH as the seeds expect and says clearly what it can do.
 */
export async function runMezd(argv: string[]): Promise<number> {
  let failure: string | undefined;
  await yargs(argv)
    .scriptName('mezd')
    .demandCommand(1, 'name a command')
    .strict()
    .version(false)
    .fail((msg, err) => {
      failure = err?.message ?? msg;
    })
    .parseAsync()
    .catch((err: unknown) => {
      failure = (err as Error).message;
    });
  if (failure) {
    process.stderr.write(`mezd: Invalid argument: ${failure}\n`);
    return 2;
  }
  return 0;
}
