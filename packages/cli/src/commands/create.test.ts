import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';

const testdata = (f: string) => join(__dirname, '..', 'testdata', f);
const seedRole = readFileSync(testdata('ci-deployer.yaml'), 'utf8');

describe('mezctl create -f', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.roles.clear();
    server.calls.length = 0;
  });

  test("creates the seed's role, sending the text and the file's base name", async () => {
    const r = await server.run(['create', '-f', testdata('ci-deployer.yaml')]);
    expect(r).toEqual({ code: 0, stdout: 'role "ci-deployer" has been created\n', stderr: '' });
    expect(server.calls).toEqual([{ method: 'RoleService.UpsertRole', request: { yaml: seedRole, fileName: 'ci-deployer.yaml', force: false } }]);
  });

  test('an existing role is refused without --force, with the hint once; --force replaces it', async () => {
    await server.run(['create', '-f', testdata('ci-deployer.yaml')]);
    const again = await server.run(['create', '-f', testdata('ci-deployer.yaml')]);
    expect(again).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Already exists: role "ci-deployer" already exists; use --force to replace it\n' });

    const forced = await server.run(['create', '--filename', testdata('ci-deployer.yaml'), '--force']);
    expect(forced).toEqual({ code: 0, stdout: 'role "ci-deployer" has been updated\n', stderr: '' });
    expect(server.roles.get('ci-deployer')?.revision).toBe(2);
  });

  test('--force on a new role says created', async () => {
    const r = await server.run(['create', '-f', testdata('ci-deployer.yaml'), '--force']);
    expect(r.stdout).toBe('role "ci-deployer" has been created\n');
  });

  test('-f - reads standard input and names it stdin', async () => {
    const r = await server.run(['create', '-f', '-'], { stdin: seedRole });
    expect(r).toEqual({ code: 0, stdout: 'role "ci-deployer" has been created\n', stderr: '' });
    expect(server.calls[0]?.request).toMatchObject({ fileName: 'stdin' });
  });

  test('--output json prints the result and the role document', async () => {
    const r = await server.run(['create', '-f', testdata('ci-deployer.yaml'), '--output', 'json']);
    expect(JSON.parse(r.stdout)).toEqual({
      result: 'created',
      role: {
        kind: 'role',
        metadata: { name: 'ci-deployer', description: 'CI/CD deploy pipeline SSH access' },
        spec: { options: { max_session_ttl: '1h' }, allow: { node_labels: { env: ['staging', 'production'] }, logins: ['deploy'] }, deny: { logins: ['root'] } },
      },
    });
  });

  test('a bad file shows file:line:field and never reaches the server, not even for credentials', async () => {
    const r = await server.run(['create', '-f', testdata('bad-ttl.yaml')]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: bad-ttl.yaml:7: spec.options.max_session_ttl: invalid duration "forever"; use e.g. 30m or 1h\n' });
    // With no server configured at all, the same line: the file is checked first.
    const offline = await server.run(['create', '-f', testdata('bad-ttl.yaml')], { env: {} });
    expect(offline.stderr).toBe(r.stderr);
    expect(server.calls).toEqual([]);
  });

  test('invalid YAML and unknown fields name the line', async () => {
    const yaml = await server.run(['create', '-f', '-'], { stdin: 'kind: role\nmetadata: [\n' });
    expect(yaml.code).toBe(1);
    expect(yaml.stderr).toMatch(/^mezctl: Invalid argument: stdin:\d+: invalid YAML: .+\n$/);
    const typo = await server.run(['create', '-f', '-'], { stdin: seedRole.replace('  deny:', '  denny:') });
    expect(typo.stderr).toBe('mezctl: Invalid argument: stdin:15: spec.denny: unknown field; expected one of options, allow, deny\n');
    expect(server.calls).toEqual([]);
  });

  test('a kind other than role is refused before any call', async () => {
    const r = await server.run(['create', '-f', '-'], { stdin: 'kind: user\nmetadata:\n  name: alice\n' });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: stdin: kind "user" is not supported; expected role, join_token\n' });
    expect(server.calls).toEqual([]);
  });

  test('a missing file is one line naming it', async () => {
    const r = await server.run(['create', '-f', '/nonexistent/role.yaml']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: cannot read -f /nonexistent/role.yaml: no such file\n' });
  });

  test('without -f it is a usage error (exit 2)', async () => {
    const r = await server.run(['create']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('mezctl: Invalid argument: Missing required argument: filename\n');
  });
});

describe('mezctl create -f against other servers', () => {
  test('adds the --force hint when the server did not', async () => {
    const server = await FakeAuthServer.start({ roleExistsMessage: (n) => `role "${n}" already exists` });
    try {
      server.addRole(seedRole);
      const r = await server.run(['create', '-f', testdata('ci-deployer.yaml')], { prog: 'plexctl' });
      expect(r.stderr).toBe('plexctl: Already exists: role "ci-deployer" already exists; use --force to replace it\n');
    } finally {
      await server.stop();
    }
  });

  test('an auth server without RoleService gets one clear line', async () => {
    const server = await FakeAuthServer.start({ omit: ['roles'] });
    try {
      const r = await server.run(['create', '-f', testdata('ci-deployer.yaml')]);
      expect(r).toEqual({ code: 1, stdout: '', stderr: `mezctl: Not implemented: the auth server at ${server.address} does not implement RoleService.UpsertRole; it is older than this mezctl\n` });
    } finally {
      await server.stop();
    }
  });
});
