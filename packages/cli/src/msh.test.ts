import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCertificate, sshArgs } from './msh';

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
});
