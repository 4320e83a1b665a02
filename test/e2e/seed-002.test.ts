import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNeeding } from '@mezite/identity/testing';
import { BIN, runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';

const ROLE_YAML = CI_DEPLOYER_ROLE;


/**
 * Seed 002, as written: the admin creates the role and the bot, `mezd identity start
 * --one-shot` bootstraps certificates, and a stock OpenSSH sshd that trusts the User
 * CA (from `mezctl ca export`) with a host certificate (from `mezctl ca sign-host`)
 * lets the bot in as `deploy` and not as `root`; stock ssh verifies the host through
 * the known_hosts mezd wrote.
 */
describeNeeding(sshdUnavailable(), 'seed 002: bots, join tokens, mezd identity and stock OpenSSH', () => {
  let stack: TestStack;
  let sshd: Sshd;
  let dir: string;
  let token: string;
  let deployHome: string;

  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
  const mezd = (args: string[]) => runBin('mezd', args, { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
  const sshAs = (login: string, certs: string, cmd: string[]) =>
    runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), `${login}@localhost`, ...cmd]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-seed002-'));
    chmodSync(dir, 0o755);
    deployHome = ensureLoginUser('deploy');
    writeFileSync(join(deployHome, 'deploy.sh'), '#!/bin/sh\necho "deploying as $(id -un)"\nexit 3\n');
    chmodSync(join(deployHome, 'deploy.sh'), 0o755);
    const uid = Number(execFileSync('id', ['-u', 'deploy'], { encoding: 'utf8' }).trim());
    chownSync(join(deployHome, 'deploy.sh'), uid, uid);
    stack = await TestStack.start();
  }, 120_000);
  afterAll(async () => {
    await sshd?.stop();
    await stack?.destroy();
  });

  test('Step 1: mezctl create -f role.yaml accepts the seed role; bad YAML names file, line and field', async () => {
    writeFileSync(join(dir, 'role.yaml'), ROLE_YAML);
    const r = await mezctl(['create', '-f', 'role.yaml']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('role "ci-deployer" has been created\n');
    writeFileSync(join(dir, 'bad.yaml'), ROLE_YAML.replace('max_session_ttl: 1h', 'max_session_ttl: forever'));
    const bad = await mezctl(['create', '-f', 'bad.yaml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mezctl: Invalid argument: bad.yaml:7: spec.options.max_session_ttl: invalid duration "forever"/);
  });

  test('Step 2: mezctl bots add prints the seed lines; unknown roles and duplicates are refused', async () => {
    const r = await mezctl(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer', '--token-ttl=1h']);
    expect(r.stderr).toBe('');
    const m = /^Bot created: github-deploy \(roles: ci-deployer\)\nJoin token: (tok-bot-[0-9a-f]{32}) \(expires: \S+Z\)\n\nUse this token with mezd identity:\nmezd identity start --auth-server=localhost:\d+ --join-token=tok-bot-[0-9a-f]{32}\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    token = (m as RegExpExecArray)[1] as string;
    const unknown = await mezctl(['bots', 'add', '--name=other', '--roles=nope']);
    expect(unknown.stderr).toMatch(/^mezctl: Not found: role "nope" does not exist/);
  });

  test('the CA is exported for sshd and signs the host key; sshd starts with both', async () => {
    const user = await mezctl(['ca', 'export', '--type=user']);
    expect(user.stdout).toMatch(/^ecdsa-sha2-nistp256 AAAA\S+\n$/);
    writeFileSync(join(dir, 'user_ca.pub'), user.stdout);
    const host = await mezctl(['ca', 'export', '--type=host']);
    expect(host.stdout).toMatch(/^@cert-authority \* ecdsa-sha2-nistp256 AAAA\S+\n$/);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ssh_host_ed25519_key')]);
    const signed = await mezctl(['ca', 'sign-host', `--public-key=${join(dir, 'ssh_host_ed25519_key.pub')}`, '--principals=localhost,127.0.0.1,web-server-01', '--ttl=1h', `--out=${join(dir, 'ssh_host_ed25519_key-cert.pub')}`]);
    expect(signed.stderr).toBe('');
    expect(execFileSync('ssh-keygen', ['-L', '-f', join(dir, 'ssh_host_ed25519_key-cert.pub')], { encoding: 'utf8' })).toMatch(/Type: ssh-ed25519-cert-v01@openssh.com host certificate[\s\S]*localhost[\s\S]*web-server-01/);
    sshd = await startSshd({ dir, port: await freePort(), hostKey: join(dir, 'ssh_host_ed25519_key'), hostCert: join(dir, 'ssh_host_ed25519_key-cert.pub'), trustedUserCaKeys: join(dir, 'user_ca.pub') });
  });

  test('Step 3: mezd identity start --one-shot writes ssh_key (0600), the certificate and known_hosts', async () => {
    const r = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--one-shot']);
    expect(r.code).toBe(0);
    expect(statSync(join(dir, 'certs', 'ssh_key')).mode & 0o777).toBe(0o600);
    const cert = execFileSync('ssh-keygen', ['-L', '-f', join(dir, 'certs', 'ssh_key-cert.pub')], { encoding: 'utf8' });
    expect(cert).toMatch(/user certificate/);
    expect(cert).toMatch(/Principals: \n\s+deploy\n/);
    expect(readFileSync(join(dir, 'certs', 'known_hosts'), 'utf8')).toMatch(/^@cert-authority \* ecdsa-sha2-nistp256 /m);
    const again = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--destination=${join(dir, 'other')}`, `--data-dir=${join(dir, 'state2')}`, '--one-shot']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/^mezd: Unauthenticated: invalid join token/m);
  });

  test('stock sshd lets the bot in as deploy, refuses root; stock ssh verifies the host certificate', async () => {
    const certs = join(dir, 'certs');
    const ok = await sshAs('deploy', certs, ['id', '-un']);
    expect(ok.stderr).not.toMatch(/REMOTE HOST IDENTIFICATION|Host key verification failed/);
    expect(ok.stdout).toBe('deploy\n');
    expect(ok.code).toBe(0);
    const root = await sshAs('root', certs, ['id', '-un']);
    expect(root.code).toBe(255);
    expect(root.stdout).toBe('');
  });

  test('msh ssh runs the remote command and passes its exit code through', async () => {
    // web-server-01 resolves through the auth server's inventory, asked as the bot: mezd
    // recorded which auth server issued the certificate beside it (mezite-auth.json).
    const added = await mezctl(['nodes', 'add', '--name=web-server-01', `--addr=127.0.0.1:${sshd.port}`, '--labels=env=staging']);
    expect(added.stderr).toBe('');
    const r = await runBin('msh', ['ssh', `--cert=${join(dir, 'certs', 'ssh_key-cert.pub')}`, '--login=deploy', 'web-server-01', '--', './deploy.sh'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('deploying as deploy\n');
    expect(r.code).toBe(3);
    // A host the inventory does not hold is refused by name, not looked up in DNS.
    const unknown = await runBin('msh', ['ssh', `--cert=${join(dir, 'certs', 'ssh_key-cert.pub')}`, '--login=deploy', '-p', String(sshd.port), 'localhost', '--', './deploy.sh'], { cwd: dir });
    expect(unknown.stderr).toMatch(/^msh: Not found: node "localhost" is not in the inventory or your roles do not reach it/);
    // Seed 002's CI example, verbatim: no --cert (msh finds what mezd wrote last).
    const verbatim = await runBin('msh', ['ssh', '--login=deploy', 'web-server-01', '--', './deploy.sh'], { cwd: dir, env: { HOME: dir } });
    expect(verbatim.stderr).toBe('');
    expect(verbatim.stdout).toBe('deploying as deploy\n');
    expect(verbatim.code).toBe(3);
  });

  test('a second one-shot run renews (generation 2) and the new certificate works', async () => {
    const before = readFileSync(join(dir, 'certs', 'ssh_key-cert.pub'), 'utf8');
    const r = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--one-shot']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'certs', 'ssh_key-cert.pub'), 'utf8')).not.toBe(before);
    const show = await mezctl(['bots', 'show', 'github-deploy', '--output', 'json']);
    expect(JSON.parse(show.stdout)).toMatchObject({ name: 'github-deploy', generation: 2 });
    expect((await sshAs('deploy', join(dir, 'certs'), ['true'])).code).toBe(0);
  });

  test('mezd identity start as a daemon renews continuously with a short TTL, and SIGTERM stops it cleanly', async () => {
    const { spawn } = await import('node:child_process');
    const before = (JSON.parse((await mezctl(['bots', 'show', 'github-deploy', '--output', 'json'])).stdout) as { generation: number }).generation;
    const daemon = spawn(join(BIN, 'mezd'), ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--certificate-ttl=1m', '--renewal-interval=3s'], { env: { ...process.env, HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    daemon.stdout.on('data', (d: Buffer) => (out += d.toString()));
    daemon.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
    try {
      let generation = before;
      const deadline = Date.now() + 45_000;
      while (generation < before + 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        generation = (JSON.parse((await mezctl(['bots', 'show', 'github-deploy', '--output', 'json'])).stdout) as { generation: number }).generation;
      }
      expect(generation).toBeGreaterThanOrEqual(before + 3);
      expect((await sshAs('deploy', join(dir, 'certs'), ['true'])).code).toBe(0);
    } finally {
      daemon.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).not.toContain('PRIVATE KEY');
  }, 90_000);

  test('bots lock stops renewal; unlock restores it; the audit log has every step', async () => {
    const lock = await mezctl(['bots', 'lock', 'github-deploy', '--reason=incident 42']);
    expect(lock.stderr).toBe('');
    const show = await mezctl(['bots', 'show', 'github-deploy']);
    expect(show.stdout).toMatch(/incident 42/);
    const refused = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--one-shot']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/bot "github-deploy" is locked: incident 42/);
    await mezctl(['bots', 'unlock', 'github-deploy']);
    const ok = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--one-shot']);
    expect(ok.code).toBe(0);
    const audit = await mezctl(['audit', 'ls', '--output', 'json']);
    const types = (JSON.parse(audit.stdout) as { items: Array<{ type: string; result: string }> }).items.map((e) => `${e.type}:${e.result}`);
    for (const t of ['role.create:success', 'bot.create:success', 'bot.join:success', 'bot.join:failure', 'bot.renew:success', 'bot.renew:failure', 'bot.lock:success', 'bot.unlock:success', 'ca.sign_host:success']) expect(types).toContain(t);
    expect(audit.stdout).not.toContain(token.slice(8));
  });

  test('a copied data dir renewing after the original locks that instance, not the bot', async () => {
    const { cpSync } = await import('node:fs');
    const args = (state: string, certs: string) => ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, certs)}`, `--data-dir=${join(dir, state)}`, '--one-shot'];
    cpSync(join(dir, 'state'), join(dir, 'stolen-state'), { recursive: true });
    expect((await mezd(args('state', 'certs'))).code).toBe(0);
    expect((await mezd(args('state', 'certs'))).code).toBe(0);
    const clone = await mezd(args('stolen-state', 'stolen-certs'));
    expect(clone.code).not.toBe(0);
    expect(clone.stderr).toMatch(/this instance of bot "github-deploy" is locked: generation \d+ was presented twice with different keys/);
    const show = JSON.parse((await mezctl(['bots', 'show', 'github-deploy', '--output', 'json'])).stdout) as { locked: boolean };
    expect(show.locked).toBe(false);
    const instances = JSON.parse((await mezctl(['bots', 'instances', 'ls', 'github-deploy', '--output', 'json'])).stdout) as { items: Array<{ locked: boolean; lock?: { locked_by: string } }> };
    expect(instances.items.filter((i) => i.locked)).toHaveLength(1);
    expect((await mezd(args('state', 'certs'))).code).not.toBe(0);
  });

  test('bots ls, rotate-token (old token dead at once) and rm', async () => {
    const ls = await mezctl(['bots', 'ls']);
    expect(ls.stdout).toMatch(/^NAME\s+ROLES/);
    expect(ls.stdout).toMatch(/\ngithub-deploy\s+ci-deployer/);
    const rot = await mezctl(['bots', 'rotate-token', 'github-deploy']);
    const fresh = /Join token: (tok-bot-[0-9a-f]{32})/.exec(rot.stdout)?.[1];
    expect(fresh).toBeDefined();
    const rm = await mezctl(['bots', 'rm', 'github-deploy']);
    expect(rm.code).toBe(0);
    const join2 = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${fresh}`, `--destination=${join(dir, 'c3')}`, `--data-dir=${join(dir, 's3')}`, '--one-shot']);
    expect(join2.code).not.toBe(0);
    const renew = await mezd(['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, 'certs')}`, `--data-dir=${join(dir, 'state')}`, '--one-shot']);
    expect(renew.code).not.toBe(0);
  });
});
