import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAuthServer } from '../fake-auth-server';

const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfWeb01 root@web-01';

describe('mezctl ca', () => {
  let server: FakeAuthServer;
  let dir: string;
  beforeAll(async () => {
    server = await FakeAuthServer.start();
    dir = mkdtempSync(join(tmpdir(), 'mezctl-ca-'));
    writeFileSync(join(dir, 'host.pub'), `${hostKey}\n`);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    server.calls.length = 0;
  });

  test('export --type=user prints TrustedUserCAKeys, one key per line', async () => {
    const r = await server.run(['ca', 'export', '--type=user']);
    expect(r).toEqual({ code: 0, stderr: '', stdout: `${server.userCaKeys[0]}\n${server.userCaKeys[1]}\n` });
  });

  test('export --type=host prints known_hosts @cert-authority lines', async () => {
    const r = await server.run(['ca', 'export', '--type', 'host']);
    expect(r).toEqual({ code: 0, stderr: '', stdout: '@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostCaKeyOne mezite-host-ca\n' });
    expect(JSON.parse((await server.run(['ca', 'export', '--type=host', '-o', 'json'])).stdout)).toEqual({ type: 'host', public_keys: server.hostCaKeys });
  });

  test('export needs --type user or host (usage, exit 2)', async () => {
    expect(await server.run(['ca', 'export'])).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Missing required argument: type\n' });
    const bad = await server.run(['ca', 'export', '--type=node']);
    expect(bad).toEqual({ code: 2, stdout: '', stderr: 'mezctl: Invalid argument: Invalid values: Argument: type, Given: "node", Choices: "user", "host"\n' });
    expect(server.calls).toEqual([]);
  });

  test('sign-host prints the certificate line', async () => {
    const r = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host.pub')}`, '--principals=web-01, 10.0.0.5', '--ttl=720h']);
    expect(r).toEqual({ code: 0, stderr: '', stdout: 'ssh-ed25519-cert-v01@openssh.com AAAAfakecert host:web-01\n' });
    expect(server.calls).toEqual([{ method: 'CertAuthorityService.SignHostCertificate', request: { publicKey: hostKey, principals: ['web-01', '10.0.0.5'], ttlSeconds: 2_592_000 } }]);
  });

  test('sign-host --out writes the certificate 0644 and says where', async () => {
    const out = join(dir, 'ssh_host_ed25519_key-cert.pub');
    const r = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host.pub')}`, '--principals=web-01', '--ttl=24h', `--out=${out}`]);
    expect(r).toEqual({ code: 0, stderr: '', stdout: `Host certificate written to ${out} (expires: 2026-03-25T14:00:00Z)\n` });
    expect(readFileSync(out, 'utf8')).toBe('ssh-ed25519-cert-v01@openssh.com AAAAfakecert host:web-01\n');
    expect(statSync(out).mode & 0o777).toBe(0o644);
    const json = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host.pub')}`, '--principals=web-01', '--ttl=24h', `--out=${out}`, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ certificate: 'ssh-ed25519-cert-v01@openssh.com AAAAfakecert host:web-01', expires_at: '2026-03-25T14:00:00Z', written_to: out });
  });

  test('a private key, a missing file or no principals never reach the server', async () => {
    writeFileSync(join(dir, 'host'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    const priv = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host')}`, '--principals=web-01', '--ttl=24h']);
    expect(priv).toEqual({ code: 1, stdout: '', stderr: `mezctl: Invalid argument: --public-key ${join(dir, 'host')} holds a private key; pass the public key (the .pub file)\n` });
    const missing = await server.run(['ca', 'sign-host', '--public-key=/nonexistent.pub', '--principals=web-01', '--ttl=24h']);
    expect(missing.stderr).toBe('mezctl: Invalid argument: cannot read --public-key /nonexistent.pub: no such file\n');
    const none = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host.pub')}`, '--principals=,', '--ttl=24h']);
    expect(none.stderr).toBe('mezctl: Invalid argument: --principals: at least one host name or address is required\n');
    const noTtl = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'host.pub')}`, '--principals=web-01']);
    expect(noTtl).toMatchObject({ code: 2, stderr: 'mezctl: Invalid argument: Missing required argument: ttl\n' });
    expect(server.calls).toEqual([]);
  });

  test('the server refusing the key is one line; --out is left alone', async () => {
    writeFileSync(join(dir, 'rsa.pub'), 'ssh-rsa AAAAB3NzaC1yc2E root@old\n');
    const out = join(dir, 'untouched-cert.pub');
    const r = await server.run(['ca', 'sign-host', `--public-key=${join(dir, 'rsa.pub')}`, '--principals=web-01', '--ttl=24h', `--out=${out}`]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'mezctl: Invalid argument: --public-key: not an OpenSSH public key\n' });
    expect(() => statSync(out)).toThrow();
  });
});
