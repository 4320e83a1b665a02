import { alreadyExists, invalidArgument, isMeziteError, parseJoinTokenYaml, parseRoleYaml } from '@mezite/identity';
import type { Argv } from 'yargs';
import { isMap, isScalar, parseDocument } from 'yaml';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { readInputDocument, type InputDocument } from '../input-file';
import type { OutputFormat } from '../output';
import { roleDocument } from '../role-document';
import { joinTokenDocument } from './join-tokens';

type Opts = GlobalOptions & { output: OutputFormat };

/** The kinds `create -f` knows. */
const KINDS = ['role', 'join_token'] as const;

/**
 * The document's `kind`, when it is a string at the top of a well-formed mapping.
 * Anything less (bad YAML, no kind) is left to the kind's own parser, which names the
 * file, line and field.
 */
function kindOf(text: string): string | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
  const kind = doc.contents.get('kind', true);
  return isScalar(kind) && typeof kind.value === 'string' ? kind.value : undefined;
}

/** `mezctl create -f FILE [--force]`: creates a resource from its YAML document (seed 002, step 1). */
export function createCommand(ctx: CliContext) {
  return {
    command: 'create',
    describe: 'Create a resource (a role or a join_token) from a YAML file',
    builder: (y: Argv<Opts>) =>
      y
        .option('filename', { alias: 'f', type: 'string', demandOption: true, requiresArg: true, describe: 'The YAML document; - reads standard input' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace the resource if one of that name exists' }),
    handler: async (argv: Opts & { filename: string; force: boolean }) => {
      const input = await readInputDocument(argv.filename, ctx.readStdin);
      const kind = kindOf(input.text) ?? 'role';
      if (!(KINDS as readonly string[]).includes(kind)) {
        throw invalidArgument(`${input.name}: kind "${kind}" is not supported; expected ${KINDS.join(', ')}`);
      }
      if (kind === 'join_token') await createJoinToken(ctx, argv, input);
      else await createRole(ctx, argv, input);
    },
  };
}

async function createRole(ctx: CliContext, argv: Opts & { force: boolean }, input: InputDocument): Promise<void> {
  // The server parses the same text with the same function; parsing here first gives
  // the file:line:field error without a round trip, and without credentials.
  const local = parseRoleYaml(input.text, input.name);
  await ctx.withClients(argv, async (c) => {
    let role;
    try {
      role = await c.roles.upsertRole({ yaml: input.text, fileName: input.name, force: argv.force }, c.auth());
    } catch (err) {
      if (isMeziteError(err, 'AlreadyExists') && !err.message.includes('--force')) {
        throw alreadyExists(`${err.message}; use --force to replace it`, { cause: err });
      }
      throw err;
    }
    // Without --force a success is a creation; with it, the first revision is one.
    const created = !argv.force || role.revision <= 1;
    const verb = created ? 'created' : 'updated';
    if (argv.output === 'json') return ctx.printJson({ result: verb, role: roleDocument(role) });
    ctx.print(`role "${role.name || local.name}" has been ${verb}\n`);
  });
}

async function createJoinToken(ctx: CliContext, argv: Opts & { force: boolean }, input: InputDocument): Promise<void> {
  // Checked here first for the file:line:field error; the server checks it again, with the method's own rules.
  const local = parseJoinTokenYaml(input.text, input.name);
  await ctx.withClients(argv, async (c) => {
    let r;
    try {
      r = await c.joinTokens.upsertJoinToken({ yaml: input.text, fileName: input.name, force: argv.force }, c.auth());
    } catch (err) {
      if (isMeziteError(err, 'AlreadyExists') && !err.message.includes('--force')) throw alreadyExists(`${err.message}; use --force to replace it`, { cause: err });
      throw err;
    }
    const verb = !argv.force || r.revision <= 1 ? 'created' : 'updated';
    if (argv.output === 'json') return ctx.printJson({ result: verb, join_token: joinTokenDocument(r) });
    ctx.print(`join token "${r.name || local.name}" has been ${verb} (bot ${r.bot}, method ${r.joinMethod}, audience ${r.audience})\n`);
  });
}
