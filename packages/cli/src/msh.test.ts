import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCertificate, inventoryTarget, runMsh, sshArgs } from './msh';

describe('msh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msh-'));
  const cert = join(dir, 'ssh_key-cert.pub');
  writeFileSync(cert, 'x');
  writeFileSync(join(dir, 'ssh_key'), 'x');
  writeFileSync(join(dir, 'known_hosts'), 'x');

  test('builds ssh arguments from the certificate, its key and known_hosts', () => {
    expect(sshArgs({ cert, login: 'deploy', port: 2222, node: 'web-server-01', command: ['./deploy.sh', '--fast'] })).toEqual([
      '-i', join(dir, 'ssh_key'), '-o', `CertificateFile=${cert}`, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes',
      '-l', 'deploy', '-p', '2222', 'web-server-01', '--', './deploy.sh', '--fast',
    ]);
  });

  test('passes an ssh_config with -F first', () => {
    expect(sshArgs({ cert, node: 'web-server-01', command: [], sshConfig: '/etc/mezite/ssh_config' }).slice(0, 2)).toEqual(['-F', '/etc/mezite/ssh_config']);
  });

  test('finds the certificate mezd recorded, and refuses clearly when there is none', () => {
    const home = mkdtempSync(join(tmpdir(), 'msh-home-'));
    expect(() => findCertificate(undefined, { MEZITE_HOME: home })).toThrow(/no certificate: pass --cert/);
    writeFileSync(join(home, 'identity.json'), JSON.stringify({ destination: dir }));
    expect(findCertificate(undefined, { MEZITE_HOME: home })).toBe(cert);
    expect(() => sshArgs({ cert: join(dir, 'other.pub'), node: 'n', command: [] })).toThrow(/expected a file named …-cert.pub/);
  });

  describe('which auth server msh asks about nodes, with two bots on one machine', () => {
    const home = mkdtempSync(join(tmpdir(), 'msh-home-'));
    const bot = (name: string, server: string | undefined) => {
      const d = join(home, name);
      mkdirSync(d);
      for (const f of ['ssh_key-cert.pub', 'ssh_key', 'known_hosts']) writeFileSync(join(d, f), 'x');
      if (server) writeFileSync(join(d, 'mezite-auth.json'), JSON.stringify({ auth_server: server, ca_cert: `CA of ${server}` }));
      return join(d, 'ssh_key-cert.pub');
    };
    const a = bot('a', 'auth-a:3025');
    const b = bot('b', 'auth-b:3025');
    const legacy = bot('legacy', undefined);
    // Bot b's mezd ran last: the home pointer names b.
    writeFileSync(join(home, 'identity.json'), JSON.stringify({ destination: join(home, 'b'), auth_server: 'auth-b:3025', ca_cert: 'CA of auth-b:3025' }));
    const env = { MEZITE_HOME: home };

    test("each certificate is looked up at the auth server recorded beside it, whichever mezd ran last", () => {
      expect(inventoryTarget(undefined, env, a)).toEqual({ address: 'auth-a:3025', caCertPem: 'CA of auth-a:3025' });
      expect(inventoryTarget(undefined, env, b)).toEqual({ address: 'auth-b:3025', caCertPem: 'CA of auth-b:3025' });
    });

    test('--auth-server wins; its CA is never taken from a record of another server', () => {
      expect(() => inventoryTarget('auth-c:3025', env, a)).toThrow(/no CA for the auth server auth-c:3025/);
      expect(inventoryTarget('auth-c:3025', { ...env, MEZITE_CA_CERT: a }, a)).toEqual({ address: 'auth-c:3025', caCertPem: 'x' });
    });

    test('without any record msh says why it does not ask the inventory, and ssh resolves the name', async () => {
      expect(inventoryTarget(undefined, env, legacy)).toEqual({ why: expect.stringContaining(`no auth server is recorded beside ${legacy} (mezite-auth.json`) });
      const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        const code = await runMsh(['ssh', '--cert', legacy, 'web-1', '--', 'true'], { ...env, MSH_SSH: 'true', PATH: process.env.PATH });
        expect(code).toBe(0);
        expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain(`msh: not asking the inventory: no auth server is recorded beside ${legacy}`);
      } finally {
        stderr.mockRestore();
      }
      await expect(runMsh(['ls', '--cert', legacy], env)).resolves.toBe(1);
    });
  });
});
