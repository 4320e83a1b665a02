import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../harness/cli';
import { createRole } from '../harness/roles';
import { TestStack } from '../harness/test-stack';

const role = (name: string, spec: string) => `kind: role\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const ROLES = [
  role('web-deploy', '  allow:\n    logins: [deploy]\n    node_labels:\n      env: [staging, prod]\n'),
  role('no-pci', '  deny:\n    node_labels:\n      pci: ["*"]\n'),
  role('ops', '  allow:\n    logins: [deploy, root]\n    node_labels:\n      team: [ops]\n'),
  role('no-root', '  deny:\n    logins: [root]\n'),
  role('lockdown', '  deny:\n    logins: ["*"]\n'),
];
const BOTS: Record<string, string[]> = { web: ['web-deploy'], 'web-pci': ['web-deploy', 'no-pci'], ops: ['ops'], 'ops-no-root': ['ops', 'no-root'], multi: ['web-deploy', 'ops', 'no-root'] };
const NODES: Record<string, Record<string, string>> = { 'staging-1': { env: 'staging' }, 'prod-pci': { env: 'prod', pci: 'yes' }, 'ops-1': { team: 'ops', env: 'dev' } };
const LOGINS = ['deploy', 'root'];

/**
 * Issue 16, explained decisions: `mezctl access explain` says allowed exactly when the
 * node would let the bot in — asked of `mezd authorized-principals`, the command stock
 * sshd runs (AuthorizedPrincipalsCommand), with the bot's real certificate and the node
 * file mezd node writes — over roles with allow, deny, label and wildcard rules.
 */
describe('mezctl access explain agrees with the node', () => {
  let stack: TestStack;
  let work: string;
  let tenant: string;
  const certs: Record<string, [string, string]> = {};
  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mezite-explain-'));
    stack = await TestStack.start();
    for (const r of ROLES) await createRole(stack.cliEnv, r);
    tenant = (JSON.parse((await mezctl(['whoami', '--output', 'json'])).stdout) as { domain: string }).domain;
    for (const [name, labels] of Object.entries(NODES)) {
      const r = await mezctl(['nodes', 'add', `--name=${name}`, '--addr=127.0.0.1:22', `--labels=${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}`]);
      expect(r.stderr).toBe('');
      // The node file mezd node writes from the auth server's answer (name, labels, tenant).
      writeFileSync(join(work, `${name}.json`), JSON.stringify({ name, labels, tenant }));
    }
    for (const [bot, roles] of Object.entries(BOTS)) {
      const added = await mezctl(['bots', 'add', `--name=${bot}`, `--roles=${roles.join(',')}`, '--token-ttl=1h', '--output', 'json']);
      const token = (JSON.parse(added.stdout) as { join_token: string }).join_token;
      const dest = join(work, bot);
      const joined = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--destination=${dest}`, `--data-dir=${join(work, `${bot}-state`)}`, '--one-shot'], { env: { HOME: work } });
      expect({ bot, code: joined.code }).toEqual({ bot, code: 0 });
      certs[bot] = readFileSync(join(dest, 'ssh_key-cert.pub'), 'utf8').trim().split(' ').slice(0, 2) as [string, string];
    }
  }, 180_000);
  afterAll(async () => stack?.destroy());

  const cases = Object.keys(BOTS).flatMap((bot) => Object.keys(NODES).flatMap((node) => LOGINS.map((login) => [bot, node, login] as const)));
  test.each(cases)('bot %s on %s as %s', async (bot, node, login) => {
    const explained = JSON.parse((await mezctl(['access', 'explain', `--bot=${bot}`, `--node=${node}`, `--login=${login}`, '--output', 'json'])).stdout) as { allowed: boolean; reason: string; decided_by: { role: string | null; rule: string } | null };
    const [type, blob] = certs[bot] as [string, string];
    const atNode = await runBin('mezd', ['authorized-principals', `--node-file=${join(work, `${node}.json`)}`, login, type, blob]);
    expect({ allowed: explained.allowed, reason: explained.reason }).toEqual({ allowed: atNode.stdout === `${login}\n`, reason: expect.any(String) });
    if (explained.decided_by?.role) expect(BOTS[bot]).toContain(explained.decided_by.role);
  });

  test('the text form names the decision, the rule and each role; a lock decides before any role', async () => {
    const denied = await mezctl(['access', 'explain', '--bot=web-pci', '--node=prod-pci', '--login=deploy']);
    expect(denied.stdout).toMatch(/^DENIED: deploy on prod-pci for bot web-pci\n {2}role no-pci denies every login on nodes matching \{pci: \[\*\]\}, and this node matches\n\nROLE +ALLOW SELECTS NODE +DENY SELECTS NODE +ALLOWS deploy +DENIES deploy\nweb-deploy +yes +no +yes +no\nno-pci +no +yes +no +no\n$/);
    expect((await mezctl(['bots', 'lock', 'web'])).code).toBe(0);
    const locked = JSON.parse((await mezctl(['access', 'explain', '--bot=web', '--node=staging-1', '--login=deploy', '--output', 'json'])).stdout) as { allowed: boolean; reason: string; decided_by: unknown };
    expect(locked).toMatchObject({ allowed: false, reason: expect.stringMatching(/^the bot is locked/), decided_by: { role: null, rule: 'lock' } });
  });

  test('a deny of every login decides before any allow (a bot holding it gets no certificate at all)', async () => {
    await mezctl(['bots', 'add', '--name=frozen', '--roles=ops,lockdown', '--token-ttl=1h']);
    const e = JSON.parse((await mezctl(['access', 'explain', '--bot=frozen', '--node=ops-1', '--login=deploy', '--output', 'json'])).stdout) as { allowed: boolean; reason: string; decided_by: unknown };
    expect(e).toMatchObject({ allowed: false, reason: "role lockdown denies every login (deny.logins: ['*'])", decided_by: { role: 'lockdown', rule: 'deny.logins' } });
  });

  test('unknown bot or node is NotFound', async () => {
    expect((await mezctl(['access', 'explain', '--bot=nobody', '--node=staging-1', '--login=deploy'])).stderr).toMatch(/^mezctl: Not found: bot "nobody" not found/);
    expect((await mezctl(['access', 'explain', '--bot=web', '--node=nowhere', '--login=deploy'])).stderr).toMatch(/^mezctl: Not found: node "nowhere" not found/);
  });
});
