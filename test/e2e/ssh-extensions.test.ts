import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding } from '@mezite/identity/testing';
import { runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';


/** Seed 002's role, asking for port forwarding besides the terminal. */
const TUNNEL_ROLE = CI_DEPLOYER_ROLE.replace('name: ci-deployer', 'name: tunnel-deployer').replace('    max_session_ttl: 1h\n', '    max_session_ttl: 1h\n    ssh_extensions:\n      - permit-pty\n      - permit-port-forwarding\n');

/**
 * Issue 14: a role that lists no `ssh_extensions` gets a certificate with `permit-pty`
 * only, so stock sshd — which allows TCP forwarding in its own configuration — refuses
 * to forward ports for it, while commands still run; a role that lists
 * `permit-port-forwarding` gets it. Real stack, `mezctl`, `mezd identity start
 * --one-shot`, stock sshd trusting the User CA and stock ssh.
 */
describeNeeding(sshdUnavailable(), 'ssh extensions: permit-pty by default, forwarding only when a role asks (stock sshd)', () => {
  let stack: TestStack;
  let sshd: Sshd;
  let dir: string;
  /** A TCP service on loopback that greets whoever connects: what a forward would reach. */
  let target: Server;
  let targetPort: number;

  const mezctl = async (args: string[]) => {
    const r = await runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
    if (r.code !== 0) throw new Error(`mezctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const certs = (bot: string) => join(dir, bot, 'certs');
  const sshArgs = (bot: string) => ['-i', join(certs(bot), 'ssh_key'), '-o', `CertificateFile=${join(certs(bot), 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs(bot), 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port)];
  const extensions = (bot: string) => {
    const text = execFileSync('ssh-keygen', ['-L', '-f', join(certs(bot), 'ssh_key-cert.pub')], { encoding: 'utf8' });
    return [...(/Extensions:\s*\n([\s\S]*)$/.exec(text)?.[1] ?? '').matchAll(/^\s+(permit-\S+)/gm)].map((m) => m[1]);
  };

  /** `ssh -N -L local:127.0.0.1:target`, then one connection through it: what it read, and what ssh said. */
  const throughLocalForward = async (bot: string): Promise<{ read: string; sshStderr: string }> => {
    const local = await freePort();
    const child = spawn('/usr/bin/ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'ExitOnForwardFailure=yes', ...sshArgs(bot), '-N', '-L', `${local}:127.0.0.1:${targetPort}`, 'deploy@localhost'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshStderr = '';
    child.stderr.on('data', (d: Buffer) => (sshStderr += d.toString()));
    const closed = new Promise((r) => child.once('close', r));
    let read: string;
    try {
      // -N: ssh sends no session request, so the tunnel is up once the local port listens.
      const deadline = Date.now() + 15_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`ssh -N -L exited ${child.exitCode} before forwarding: ${sshStderr}`);
        const up = await new Promise<boolean>((res) => {
          const probe = connect(local, '127.0.0.1');
          probe.once('connect', () => (probe.destroy(), res(true)));
          probe.once('error', () => res(false));
        });
        if (up) break;
        if (Date.now() > deadline) throw new Error(`ssh -N -L never listened on ${local}: ${sshStderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // The probe above went through the tunnel too; read what a real client reads.
      read = await new Promise<string>((res, rej) => {
        let got = '';
        const s = connect(local, '127.0.0.1');
        s.setTimeout(10_000, () => s.destroy(new Error('no answer through the forward in 10 s')));
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.once('close', () => res(got));
        s.once('error', rej);
      });
    } finally {
      child.kill('SIGTERM');
      await closed;
    }
    return { read, sshStderr };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-extensions-'));
    chmodSync(dir, 0o755);
    ensureLoginUser('deploy');
    target = createServer((s) => s.end('hello through the tunnel\n'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as { port: number }).port;
    stack = await TestStack.start();

    writeFileSync(join(dir, 'ci-deployer.yaml'), CI_DEPLOYER_ROLE);
    writeFileSync(join(dir, 'tunnel-deployer.yaml'), TUNNEL_ROLE);
    await mezctl(['create', '-f', 'ci-deployer.yaml']);
    await mezctl(['create', '-f', 'tunnel-deployer.yaml']);

    writeFileSync(join(dir, 'user_ca.pub'), await mezctl(['ca', 'export', '--type=user']));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ssh_host_ed25519_key')]);
    await mezctl(['ca', 'sign-host', `--public-key=${join(dir, 'ssh_host_ed25519_key.pub')}`, '--principals=localhost,127.0.0.1', '--ttl=1h', `--out=${join(dir, 'ssh_host_ed25519_key-cert.pub')}`]);
    // sshd's own configuration allows forwarding: only the certificate can refuse it.
    sshd = await startSshd({ dir, port: await freePort(), hostKey: join(dir, 'ssh_host_ed25519_key'), hostCert: join(dir, 'ssh_host_ed25519_key-cert.pub'), trustedUserCaKeys: join(dir, 'user_ca.pub'), extra: ['AllowTcpForwarding yes', 'PermitOpen any', 'DisableForwarding no'] });

    for (const [bot, role] of [['plain', 'ci-deployer'], ['tunnel', 'tunnel-deployer']] as const) {
      const token = /Join token: (tok-bot-[0-9a-f]{32})/.exec(await mezctl(['bots', 'add', `--name=${bot}`, `--roles=${role}`]))?.[1];
      if (!token) throw new Error(`bots add ${bot} printed no join token`);
      const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--destination=${certs(bot)}`, `--data-dir=${join(dir, bot, 'state')}`, '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`mezd identity start (${bot}): ${r.stderr}`);
    }
  }, 180_000);

  afterAll(async () => {
    await sshd?.stop();
    await new Promise((r) => (target ? target.close(r) : r(undefined)));
    await stack?.destroy();
  });

  test('the certificates carry permit-pty only for the seed role, and port forwarding for the role that lists it', () => {
    expect(extensions('plain')).toEqual(['permit-pty']);
    expect(extensions('tunnel')).toEqual(['permit-port-forwarding', 'permit-pty']);
  });

  test("seed 002's role: a command runs, and sshd refuses every port forward", async () => {
    const cmd = await runSsh([...sshArgs('plain'), 'deploy@localhost', 'echo', 'still runs']);
    expect(cmd.stdout).toBe('still runs\n');
    expect(cmd.code).toBe(0);

    const local = await throughLocalForward('plain');
    expect(local.read).toBe('');
    expect(local.sshStderr).toMatch(/open failed: administratively prohibited/);
    expect(sshd.log()).toMatch(new RegExp(`refused local port forward: originator 127\\.0\\.0\\.1 port \\d+, target 127\\.0\\.0\\.1 port ${targetPort}`));

    // -W uses the same channel as -L, synchronously.
    const stdio = await runSsh([...sshArgs('plain'), '-W', `127.0.0.1:${targetPort}`, 'deploy@localhost']);
    expect(stdio.stdout).toBe('');
    expect(stdio.code).toBe(255);
    expect(stdio.stderr).toMatch(/open failed: administratively prohibited/);

    const remote = await runSsh([...sshArgs('plain'), '-o', 'ExitOnForwardFailure=yes', '-R', `${await freePort()}:127.0.0.1:${targetPort}`, 'deploy@localhost', 'echo', 'should not run']);
    expect(remote.stdout).toBe('');
    expect(remote.code).toBe(255);
    expect(remote.stderr).toMatch(/remote port forwarding failed/);
  });

  test('a role that lists permit-port-forwarding: -L, -W and -R work', async () => {
    const local = await throughLocalForward('tunnel');
    expect(local.read).toBe('hello through the tunnel\n');
    expect(local.sshStderr).not.toMatch(/open failed/);

    const stdio = await runSsh([...sshArgs('tunnel'), '-W', `127.0.0.1:${targetPort}`, 'deploy@localhost']);
    expect(stdio.stdout).toBe('hello through the tunnel\n');

    const remote = await runSsh([...sshArgs('tunnel'), '-o', 'ExitOnForwardFailure=yes', '-R', `${await freePort()}:127.0.0.1:${targetPort}`, 'deploy@localhost', 'echo', 'forwarded']);
    expect(remote.stderr).not.toMatch(/forwarding failed/);
    expect(remote.stdout).toBe('forwarded\n');
    expect(remote.code).toBe(0);
  });
});
