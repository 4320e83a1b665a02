import { systemClock } from '@mezite/identity';
import { CliContext } from './cli-context';
import { FakeAuthServer } from './fake-auth-server';
import { addMezctlCommands } from './mezctl';

/** A command as the tree walk finds it: its words, its positionals, its subcommands. */
interface Command {
  path: string[];
  /** The positionals of its declaration (`show <name>` → `<name>`). */
  positionals: string[];
  subcommands: Command[];
}

type Builder = unknown;

/**
 * The commands a yargs builder declares, found by running it on a recorder that plays
 * every Argv method (option, positional, demandCommand, …) and notes `command` calls,
 * in both forms (a module object, or command, description, builder, handler), then
 * recursing into each one's builder. It reads the real builders, so a group added
 * later is walked without touching this test.
 */
function commandsOf(path: string[], builder: Builder): Command[] {
  const found: Command[] = [];
  const recorder: object = new Proxy(
    {},
    {
      get: (_t, prop) =>
        prop === 'command'
          ? (cmd: unknown, _describe?: unknown, b?: Builder) => {
              const m = typeof cmd === 'object' && cmd !== null && !Array.isArray(cmd) ? (cmd as { command: string | string[]; builder?: Builder }) : { command: cmd as string | string[], builder: b };
              const [name = '', ...positionals] = (Array.isArray(m.command) ? (m.command[0] as string) : m.command).split(' ');
              found.push({ path: [...path, name], positionals, subcommands: commandsOf([...path, name], m.builder) });
              return recorder;
            }
          : () => recorder,
    },
  );
  if (typeof builder === 'function') (builder as (y: object) => unknown)(recorder);
  return found;
}

const flatten = (cs: Command[]): Command[] => cs.flatMap((c) => [c, ...flatten(c.subcommands)]);

describe('mezctl command tree', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
  });
  afterAll(async () => server.stop());
  beforeEach(() => void (server.calls.length = 0));

  const ctx = new CliContext('mezctl', {}, undefined, () => undefined, async () => '', systemClock);
  const top = commandsOf([], (y: never) => addMezctlCommands(y, ctx));
  const root: Command = { path: [], positionals: [], subcommands: top };
  const all = flatten(top);
  const groups = [root, ...all.filter((c) => c.subcommands.length > 0)];
  const leaves = all.filter((c) => c.subcommands.length === 0);
  const show = (argv: string[]) => argv.join(' ') || '(root)';

  test('the walk finds every group and its commands', () => {
    expect(groups.map((g) => show(g.path))).toEqual(['(root)', 'roles', 'join-tokens', 'bots', 'bots instances', 'nodes', 'ca', 'access', 'audit', 'sessions', 'identity-tokens', 'service-identities']);
    expect(all.find((c) => show(c.path) === 'bots instances')?.subcommands.map((c) => c.path.at(-1))).toEqual(['ls', 'show', 'add']);
    expect(leaves.length).toBeGreaterThan(30);
  });

  // Groups take no positionals: a group declared `bots <command>` swallowed the unknown
  // word, and with a known one after it (`bots instances ls` before instances existed)
  // ran nothing and exited 0.
  test.each(groups.map((g) => [show(g.path), g] as const))('%s: declared without positionals', (_name, g) => {
    expect(g.positionals).toEqual([]);
  });

  test.each(groups.map((g) => [show(g.path), g] as const))('%s: an unknown word, alone or before a known command, is a usage error', async (_name, g) => {
    const known = g.subcommands[0]?.path.at(-1) as string;
    for (const argv of [[...g.path, 'frobnicate'], [...g.path, 'frobnicate', known], [...g.path, 'frobnicate', '-o', 'json']]) {
      expect({ argv, ...(await server.run(argv)) }).toEqual({ argv, code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Unknown argument: frobnicate\n' });
    }
    expect(server.calls).toEqual([]);
  });

  test.each(groups.map((g) => [show(g.path), g] as const))('%s: no command is a usage error naming them all', async (_name, g) => {
    const r = await server.run(g.path);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^mezctl: Invalid argument: name an? ([a-z-]+ )*command/);
    if (g !== root) for (const c of g.subcommands) expect(r.stderr).toContain(c.path.at(-1));
    expect(server.calls).toEqual([]);
  });

  // Every leaf, its positionals filled, refuses one word more before calling anything
  // (some first for the options they require: still exit 2).
  test.each(leaves.map((c) => [show(c.path), c] as const))('%s: a word too many is a usage error', async (_name, c) => {
    const argv = [...c.path, ...c.positionals.map(() => 'x'), 'frobnicate'];
    const r = await server.run(argv);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^mezctl: Invalid argument: [^\n]+\n$/);
    expect(server.calls).toEqual([]);
  });
});
