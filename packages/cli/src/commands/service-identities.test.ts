import { FakeAuthServer } from '../fake-auth-server';

const BANNER = '# WARNING: this is the only time this plaintext will be displayed\n';

describe('mezctl service-identities', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start({ pageSize: 1 });
  });
  afterAll(async () => server.stop());
  beforeEach(() => {
    server.machine.services.clear();
    server.calls.length = 0;
  });

  test('add prints the client secret once, then the identity and how to sign it in', async () => {
    const r = await server.run(['service-identities', 'add', '--name', 'deployer', '--client-id', 'svc-deployer']);
    const s = server.machine.services.get('deployer');
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout:
        BANNER +
        `${s?.secret}\n` +
        '\n' +
        'name:               deployer\n' +
        'client_id:          svc-deployer\n' +
        `id:                 ${s?.identity.id}\n` +
        'tenant:             d0000000-0000-4000-8000-000000000000\n' +
        'created_at:         2026-03-24T14:00:00Z\n' +
        '\n' +
        'Sign it in with:\n' +
        'mezctl identity-tokens issue-service --client-id svc-deployer --grant-type client_credentials --client-secret-file FILE\n',
    });
    expect(server.calls).toEqual([{ method: 'ServiceIdentityService.CreateServiceIdentity', request: { name: 'deployer', clientId: 'svc-deployer' } }]);
  });

  test('add -o json; the client id defaults to the name (the server decides)', async () => {
    const json = JSON.parse((await server.run(['service-identities', 'add', '--name', 'backup', '-o', 'json'])).stdout);
    const s = server.machine.services.get('backup');
    expect(json).toEqual({ name: 'backup', id: s?.identity.id, client_id: 'backup', tenant: 'd0000000-0000-4000-8000-000000000000', created_at: '2026-03-24T14:00:00Z', client_secret: s?.secret });
    expect(server.calls[0]?.request).toEqual({ name: 'backup', clientId: '' });
  });

  test('ls over every page, table and JSON', async () => {
    const a = server.machine.addServiceIdentity('deployer', 's1', 'svc-deployer');
    const b = server.machine.addServiceIdentity('backup', 's2');
    expect(await server.run(['service-identities', 'ls'])).toEqual({
      code: 0,
      stderr: '',
      stdout: `NAME      CLIENT_ID     ID                                    CREATED_AT\nbackup    backup        ${b.id}  2026-03-24T14:00:00Z\ndeployer  svc-deployer  ${a.id}  2026-03-24T14:00:00Z\n`,
    });
    expect(server.methods()).toEqual(['ServiceIdentityService.ListServiceIdentities', 'ServiceIdentityService.ListServiceIdentities']);
    const json = JSON.parse((await server.run(['service-identities', 'list', '-o', 'json'])).stdout);
    expect(json.items.map((s: { name: string; client_id: string }) => [s.name, s.client_id])).toEqual([
      ['backup', 'backup'],
      ['deployer', 'svc-deployer'],
    ]);
  });

  test('rotate-secret prints the new secret once; rm removes', async () => {
    const a = server.machine.addServiceIdentity('deployer', 'old-secret', 'svc-deployer');
    const r = await server.run(['service-identities', 'rotate-secret', 'deployer']);
    const secret = server.machine.services.get('deployer')?.secret;
    expect(secret).not.toBe('old-secret');
    expect(r).toEqual({
      code: 0,
      stderr: 'mezctl: API tokens already issued to deployer stay valid until they expire; add --revoke-tokens to revoke them\n',
      stdout: BANNER + `${secret}\n\nname:               deployer\nclient_id:          svc-deployer\nid:                 ${a.id}\ntenant:             d0000000-0000-4000-8000-000000000000\ncreated_at:         2026-03-24T14:00:00Z\n`,
    });
    expect(await server.run(['service-identities', 'rm', 'deployer'])).toEqual({ code: 0, stdout: 'Service identity removed: deployer\n', stderr: '' });
    expect(await server.run(['service-identities', 'rm', 'deployer'], { prog: 'plexctl' })).toEqual({ code: 1, stdout: '', stderr: 'plexctl: Not found: service identity "deployer" not found\n' });
    expect(await server.run(['service-identities', 'rotate-secret', 'deployer'])).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Not found: service identity "deployer" not found\n' });
  });

  test('rotate-secret --revoke-tokens asks the server to revoke every token of the identity too, and says so on stderr (issue 14)', async () => {
    const a = server.machine.addServiceIdentity('deployer', 'old-secret', 'svc-deployer');
    const b = server.machine.addServiceIdentity('reporter', 'other-secret');
    const held = [server.machine.mint(`service:${a.id}`, 'live', 3600), server.machine.mint(`service:${a.id}`, 'dev', 0)];
    const theirs = server.machine.mint(`service:${b.id}`, 'live', 3600);
    const r = await server.run(['service-identities', 'rotate-secret', 'deployer', '--revoke-tokens', '-o', 'json']);
    const secret = server.machine.services.get('deployer')?.secret;
    expect(r).toEqual({ code: 0, stdout: expect.any(String), stderr: 'mezctl: every API token of deployer is revoked\n' });
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'deployer', client_secret: secret });
    expect(server.calls).toEqual([{ method: 'ServiceIdentityService.RotateServiceIdentitySecret', request: { name: 'deployer', revokeTokens: true } }]);
    expect(held.map((t) => t.deleted)).toEqual([true, true]);
    expect(theirs.deleted).toBe(false);
    // Without the flag the request says so, and the note tells what stays valid.
    server.calls.length = 0;
    const plain = await server.run(['service-identities', 'rotate-secret', 'reporter', '-o', 'json']);
    expect(plain.stderr).toBe('mezctl: API tokens already issued to reporter stay valid until they expire; add --revoke-tokens to revoke them\n');
    expect(server.calls).toEqual([{ method: 'ServiceIdentityService.RotateServiceIdentitySecret', request: { name: 'reporter', revokeTokens: false } }]);
    expect(theirs.deleted).toBe(false);
  });

  test('add without --name is a usage error and calls nothing', async () => {
    expect(await server.run(['service-identities', 'add'])).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Missing required argument: name\n' });
    expect(server.calls).toEqual([]);
  });
});
