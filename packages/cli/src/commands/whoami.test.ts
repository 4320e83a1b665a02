import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';

describe('mezctl whoami', () => {
  let server: FakeAuthServer;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
  });
  afterAll(async () => server.stop());

  test('a table with the columns seed 000 shows, - for no ACR or AMR', async () => {
    expect(await server.run(['whoami'])).toEqual({ code: 0, stderr: '', stdout: 'PRINCIPAL  SUBJECT  DOMAIN  ACR  AMR\nuser       u-1      d-1     -    -\n' });
  });

  test('JSON has principal, subject, domain, acr and amr', async () => {
    const r = await server.run(['whoami', '--output', 'json']);
    expect(JSON.parse(r.stdout)).toEqual({ principal: 'user', subject: 'u-1', domain: 'd-1', acr: '', amr: [] });
  });

  test('a credential the server refuses is one Unauthenticated line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mezctl-whoami-'));
    try {
      writeFileSync(join(dir, 'bogus.token'), 'psk_live_bogus\n');
      expect(await server.run(['whoami', '--token-file', join(dir, 'bogus.token')], { prog: 'plexctl' })).toEqual({ code: 1, stdout: '', stderr: 'plexctl: Unauthenticated: invalid or expired credential\n' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
