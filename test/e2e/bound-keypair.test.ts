import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding } from '@mezite/identity/testing';
import { runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';

/** Ends the wait once `validBefore` of the certificate in `certs` has passed (bounded: at most 90 s). */
async function untilExpired(certs: string): Promise<void> {
  const out = execFileSync('ssh-keygen', ['-L', '-f', join(certs, 'ssh_key-cert.pub')], { encoding: 'utf8' });
  const m = /Valid: from \S+ to (\S+)/.exec(out);
  const until = m ? new Date(`${m[1]}Z`).getTime() : Date.now() + 61_000;
  const deadline = Date.now() + 90_000;
  while (Date.now() <= until + 1_500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1_000));
}

/**
 * Issue 15, bound-keypair: a machine whose join key the admin registered joins with
 * mezd, and stock sshd accepts its certificate; stopped until its certificate expired,
 * it recovers by itself (the count shown by join-tokens show); a copy of its join key
 * started elsewhere while the first holds a live certificate locks the instance.
 */
describeNeeding(sshdUnavailable(), 'bound-keypair joins: recovery after expiry, a copied join key caught', () => {
  let stack: TestStack;
  let sshd: Sshd;
  let dir: string;
  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
  const mezd = (machine: string) =>
    runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=bound-keypair', '--join-token=bk-host', '--certificate-ttl=1m', '--renewal-interval=30s', `--destination=${join(dir, machine, 'certs')}`, `--data-dir=${join(dir, machine, 'state')}`, '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
  const ssh = (machine: string) => {
    const certs = join(dir, machine, 'certs');
    return runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), 'deploy@localhost', 'id', '-un']);
  };
  const options = async () => (JSON.parse((await mezctl(['join-tokens', 'show', 'bk-host', '--output', 'json'])).stdout) as { options: Record<string, string> }).options;
  const noTofu = (s: string) => s.replace(/^mezd: warning: trusting the auth server's CA .*\n/, '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-bk-'));
    chmodSync(dir, 0o755);
    ensureLoginUser('deploy');
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => {
    await sshd?.stop();
    await stack?.destroy();
  });

  test('the admin registers the machine\'s join key; the machine joins and sshd accepts its certificate', async () => {
    mkdirSync(join(dir, 'host-a', 'state'), { recursive: true, mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host-a', 'state', 'join-key')]);
    writeFileSync(join(dir, 'role.yaml'), CI_DEPLOYER_ROLE);
    expect((await mezctl(['create', '-f', 'role.yaml'])).stderr).toBe('');
    expect((await mezctl(['bots', 'add', '--name=host-bot', '--roles=ci-deployer'])).stderr).toBe('');
    const pub = readFileSync(join(dir, 'host-a', 'state', 'join-key.pub'), 'utf8').trim();
    writeFileSync(join(dir, 'bk.yaml'), ['kind: join_token', 'metadata:', '  name: bk-host', 'spec:', '  bot: host-bot', '  join_method: bound_keypair', '  bound_keypair:', `    public_key: ${pub}`, '    max_recoveries: 2', ''].join('\n'));
    expect((await mezctl(['create', '-f', 'bk.yaml'])).stderr).toBe('');

    const r = await mezd('host-a');
    expect({ code: r.code, stderr: noTofu(r.stderr) }).toEqual({ code: 0, stderr: '' });
    expect(await options()).toMatchObject({ recoveries: '0' });

    writeFileSync(join(dir, 'user_ca.pub'), (await mezctl(['ca', 'export', '--type=user'])).stdout);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ssh_host_ed25519_key')]);
    expect((await mezctl(['ca', 'sign-host', `--public-key=${join(dir, 'ssh_host_ed25519_key.pub')}`, '--principals=localhost', '--ttl=1h', `--out=${join(dir, 'ssh_host_ed25519_key-cert.pub')}`])).stderr).toBe('');
    sshd = await startSshd({ dir, port: await freePort(), hostKey: join(dir, 'ssh_host_ed25519_key'), hostCert: join(dir, 'ssh_host_ed25519_key-cert.pub'), trustedUserCaKeys: join(dir, 'user_ca.pub') });
    expect((await ssh('host-a')).stdout).toBe('deploy\n');
  });

  test('stopped until its certificate expired, it recovers by itself (rotating its join key); join-tokens show counts the recovery', async () => {
    await untilExpired(join(dir, 'host-a', 'certs'));
    expect((await ssh('host-a')).code).not.toBe(0);
    // The operator staged a new join key: the recovery presents it, signed by both keys, and the resource binds it.
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host-a', 'state', 'join-key.next')]);
    const next = readFileSync(join(dir, 'host-a', 'state', 'join-key.next.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    const r = await mezd('host-a');
    expect({ code: r.code, stderr: noTofu(r.stderr) }).toEqual({ code: 0, stderr: '' });
    expect((await ssh('host-a')).stdout).toBe('deploy\n');
    expect(await options()).toMatchObject({ recoveries: '1', bound_public_key: next });
    expect(readFileSync(join(dir, 'host-a', 'state', 'join-key.pub'), 'utf8').split(' ').slice(0, 2).join(' ')).toBe(next);
    expect((await mezctl(['join-tokens', 'show', 'bk-host'])).stdout).toMatch(/^bound_keypair\.recoveries: 1$/m);
  }, 150_000);

  test('a copy of the join key started while the first machine holds a live certificate: locked and refused, both addresses audited', async () => {
    const live = (await options()).instance_id;
    mkdirSync(join(dir, 'host-b', 'state'), { recursive: true, mode: 0o700 });
    copyFileSync(join(dir, 'host-a', 'state', 'join-key'), join(dir, 'host-b', 'state', 'join-key'));
    chmodSync(join(dir, 'host-b', 'state', 'join-key'), 0o600);
    const r = await mezd('host-b');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Unauthenticated: invalid join token/);
    const instances = JSON.parse((await mezctl(['bots', 'instances', 'ls', 'host-bot', '--output', 'json'])).stdout) as { items: Array<{ id: string; lock?: { reason: string } | null }> };
    expect(instances.items.find((i) => i.id === live)?.lock?.reason).toMatch(/copy of the join key/);
    // The first machine's live certificate is revoked with its instance: its renewal is refused.
    const a = await mezd('host-a');
    expect(a.code).not.toBe(0);
    const audit = JSON.parse((await mezctl(['audit', 'ls', '--output', 'json'])).stdout) as { items: Array<{ type: string; target: string; details: Record<string, string> }> };
    const lock = audit.items.find((e) => e.type === 'bot.lock' && e.target === 'bot:host-bot');
    expect(lock?.details).toMatchObject({ reason: 'copied join key', instance: live, join_token: 'bk-host' });
    // Both machines dialled the stack on loopback: each address is named, not "unknown".
    expect(lock?.details.first_address).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(lock?.details.second_address).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
  });

  test('with a one-time registration secret, mezd makes its join key on first start and registers it; the secret works once', async () => {
    writeFileSync(join(dir, 'bk2.yaml'), ['kind: join_token', 'metadata:', '  name: bk-host-2', 'spec:', '  bot: host-bot', '  join_method: bound_keypair', '  bound_keypair:', '    registration_secret: generate', ''].join('\n'));
    const created = await mezctl(['create', '-f', 'bk2.yaml']);
    const secret = /^Registration secret \(shown once.*\): (bkr_\S+)$/m.exec(created.stdout)?.[1] as string;
    expect(secret).toBeDefined();
    expect((await mezctl(['join-tokens', 'show', 'bk-host-2'])).stdout).not.toContain(secret);
    const start = (machine: string) =>
      runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, '--join-method=bound-keypair', '--join-token=bk-host-2', `--destination=${join(dir, machine, 'certs')}`, `--data-dir=${join(dir, machine, 'state')}`, '--one-shot'], { env: { HOME: dir, MEZITE_REGISTRATION_SECRET: secret }, cwd: dir, timeoutMs: 60_000 });
    const r = await start('host-c');
    expect({ code: r.code, stderr: noTofu(r.stderr) }).toEqual({ code: 0, stderr: '' });
    const pub = readFileSync(join(dir, 'host-c', 'state', 'join-key.pub'), 'utf8').trim();
    const shown = JSON.parse((await mezctl(['join-tokens', 'show', 'bk-host-2', '--output', 'json'])).stdout) as { options: Record<string, string> };
    expect(shown.options.bound_public_key).toBe(pub);
    expect((await ssh('host-c')).stdout).toBe('deploy\n');
    // Another machine with the same (spent) secret and its own new key is refused.
    const other = await start('host-d');
    expect(other.stderr).toMatch(/Unauthenticated: invalid join token/);
  });
});
