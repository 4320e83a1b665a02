import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBin } from '../harness/cli';
import { TestStack } from '../harness/test-stack';

/**
 * Nothing crosses tenants: a service of tenant `default` and one of `svc-demo` cannot
 * see, rotate, delete or mint for each other, and the admin of `default` cannot mint
 * for a service of `svc-demo`.
 */
describe('tenant isolation', () => {
  let stack: TestStack;
  let work: string;
  const tokens: Record<'a' | 'b', { file: string; id: string; subject: string }> = {} as never;

  const asMachine = (args: string[]) => runBin('plexctl', args, { env: { PLEXSPHERE_URL: stack.httpUrl, MEZITE_IDENTITY: '', MEZITE_DATA_DIR: work, MEZITE_AUTH_SERVER: '' }, cwd: work });
  const signIn = async (clientId: string, secret: string, name: 'a' | 'b') => {
    const r = await asMachine(['identity-tokens', 'issue-service', '--client-id', clientId, '--grant-type', 'client_credentials', '--client-secret', secret, '--output', 'json']);
    expect(r.stderr).toBe('');
    const t = JSON.parse(r.stdout) as { access_token: string; id: string };
    const file = join(work, `${name}.token`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, t.access_token);
    const who = JSON.parse((await asMachine(['whoami', '--token-file', file, '--output', 'json'])).stdout) as { subject: string; domain: string };
    tokens[name] = { file, id: t.id, subject: who.subject };
    return who.domain;
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'mezite-tenants-'));
    stack = await TestStack.start();
    const add = await runBin('mezctl', ['service-identities', 'add', '--name', 'reporter', '--output', 'json'], { env: stack.cliEnv });
    expect(add.stderr).toBe('');
    const secret = (JSON.parse(add.stdout) as { client_secret: string }).client_secret;
    const domainA = await signIn('reporter', secret, 'a');
    const domainB = await signIn('svc-deployer', 'svc-deployer-demo-secret', 'b');
    expect(domainA).not.toBe(domainB);
  }, 120_000);
  afterAll(async () => stack?.destroy());

  test('a machine lists only its own tokens', async () => {
    const r = await asMachine(['identity-tokens', 'list', '--token-file', tokens.a.file, '--output', 'json']);
    const ids = (JSON.parse(r.stdout) as { items: Array<{ id: string }> }).items.map((i) => i.id);
    expect(ids).toContain(tokens.a.id);
    expect(ids).not.toContain(tokens.b.id);
  });

  test("a machine cannot rotate or delete another tenant's token", async () => {
    // A token caller may rotate only the token it presents (issue 14): refused before any lookup.
    const rot = await asMachine(['identity-tokens', 'rotate', '--id', tokens.b.id, '--token-file', tokens.a.file]);
    expect(rot.code).toBe(1);
    expect(rot.stderr).toMatch(/^plexctl: Forbidden: a caller authenticated via an API token may rotate only the token it presents/);
    const del = await asMachine(['identity-tokens', 'delete', '--id', tokens.b.id, '--token-file', tokens.a.file]);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(/^plexctl: Not found: /);
    const still = await asMachine(['whoami', '--token-file', tokens.b.file]);
    expect(still.code).toBe(0);
  });

  test("the admin of one tenant cannot mint for a service of another, nor see its identities", async () => {
    const r = await runBin('mezctl', ['identity-tokens', 'issue', '--identity-ref', `service:${tokens.b.subject}`, '--env-prefix', 'dev'], { env: stack.cliEnv });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mezctl: Not found: identity service:[0-9a-f-]+ not found/);
    const ls = await runBin('mezctl', ['service-identities', 'ls', '--output', 'json'], { env: stack.cliEnv });
    const names = (JSON.parse(ls.stdout) as { items: Array<{ name: string }> }).items.map((i) => i.name);
    expect(names).toEqual(['reporter']);
  });

  test('the admin can mint for a service of its own tenant, and the minted token works', async () => {
    const r = await runBin('mezctl', ['identity-tokens', 'issue', '--identity-ref', `service:${tokens.a.subject}`, '--env-prefix', 'dev', '--output', 'json'], { env: stack.cliEnv });
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as { access_token: string }).access_token).toMatch(/^psk_dev_[A-Za-z0-9]{28}$/);
  });
});
