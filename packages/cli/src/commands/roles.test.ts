import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';

const seedRole = readFileSync(join(__dirname, '..', 'testdata', 'ci-deployer.yaml'), 'utf8');
const monitoring = `kind: role
metadata:
  name: monitoring
spec:
  options:
    max_session_ttl: 90m
    ssh_extensions: [permit-pty, permit-port-forwarding]
  allow:
    node_labels:
      '*': '*'
    logins: [prometheus, nagios]
`;

describe('mezctl roles', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 1 });
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.roles.clear();
    server.bots.clear();
    server.addRole(seedRole);
    server.addRole(monitoring);
  });

  test('show prints the role back exactly as seed 002 writes it', async () => {
    const r = await server.run(['roles', 'show', 'ci-deployer']);
    expect(r).toEqual({ code: 0, stdout: seedRole, stderr: '' });
  });

  test('show writes non-default extensions and TTLs in units create -f reads back', async () => {
    const r = await server.run(['roles', 'show', 'monitoring']);
    expect(r.stdout).toBe(
      [
        'kind: role',
        'metadata:',
        '  name: monitoring',
        'spec:',
        '  options:',
        '    max_session_ttl: 1h30m',
        '    ssh_extensions:',
        '      - permit-port-forwarding',
        '      - permit-pty',
        '  allow:',
        '    node_labels:',
        '      "*":',
        '        - "*"',
        '    logins:',
        '      - prometheus',
        '      - nagios',
        '',
      ].join('\n'),
    );
  });

  test('show → create -f --force is a round trip', async () => {
    for (const name of ['ci-deployer', 'monitoring']) {
      const before = server.roles.get(name)?.role;
      const shown = await server.run(['roles', 'show', name]);
      const again = await server.run(['create', '-f', '-', '--force'], { stdin: shown.stdout });
      expect(again.stdout).toBe(`role "${name}" has been updated\n`);
      expect(server.roles.get(name)?.role).toEqual(before);
    }
  });

  test('show --output json is the same document, which create -f also reads', async () => {
    const r = await server.run(['roles', 'show', 'ci-deployer', '--output', 'json']);
    const doc = JSON.parse(r.stdout);
    expect(doc).toEqual({
      kind: 'role',
      metadata: { name: 'ci-deployer', description: 'CI/CD deploy pipeline SSH access' },
      spec: { options: { max_session_ttl: '1h' }, allow: { node_labels: { env: ['staging', 'production'] }, logins: ['deploy'] }, deny: { logins: ['root'] } },
    });
    const again = await server.run(['create', '-f', '-', '--force'], { stdin: r.stdout });
    expect(again.stdout).toBe('role "ci-deployer" has been updated\n');
  });

  test('ls is a table with every page, by name', async () => {
    const r = await server.run(['roles', 'ls']);
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'NAME         DESCRIPTION                       MAX_SESSION_TTL  LOGINS             DENY_LOGINS\n' +
        'ci-deployer  CI/CD deploy pipeline SSH access  1h               deploy             root\n' +
        'monitoring   -                                 1h30m            prometheus,nagios  -\n',
    });
    expect(server.methods()).toContain('RoleService.ListRoles');
  });

  test('ls --output json lists the documents under items', async () => {
    const r = await server.run(['roles', 'list', '-o', 'json']);
    const out = JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string } }> };
    expect(out.items.map((i) => i.metadata.name)).toEqual(['ci-deployer', 'monitoring']);
  });

  test('rm removes a role; a missing or used role is one error line', async () => {
    expect(await server.run(['roles', 'rm', 'monitoring'])).toEqual({ code: 0, stdout: 'role "monitoring" has been deleted\n', stderr: '' });
    expect(await server.run(['roles', 'show', 'monitoring'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: role "monitoring" not found\n' });
    server.addBot({ name: 'github-deploy', roles: ['ci-deployer'] });
    const used = await server.run(['roles', 'rm', 'ci-deployer']);
    expect(used).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Failed precondition: role "ci-deployer" is used by at least one bot; remove it from those bots first\n' });
  });

  test('usage mistakes exit 2', async () => {
    const r = await server.run(['roles', 'show']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mezctl: Invalid argument: [^\n]+\n$/);
    expect((await server.run(['roles', 'frobnicate'])).code).toBe(2);
  });

  test('a wrong credential is Unauthenticated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mezctl-token-'));
    try {
      writeFileSync(join(dir, 't'), 'mzs_not_the_right_one\n');
      const r = await server.run(['roles', 'ls', '--token-file', join(dir, 't')]);
      expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Unauthenticated: invalid or expired credential\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
