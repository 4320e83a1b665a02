import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCertificate, parsePublicKey } from '@mezite/ssh';
import { describeNeeding } from '@mezite/identity/testing';
import { BIN, runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { createRole } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';


/** Polls `check` every 100 ms until it is true or `ms` pass; false on timeout. */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

interface Node {
  name: string;
  dir: string;
  sshd: Sshd;
  agent: ChildProcess;
  agentLog: () => string;
}

/**
 * Issue 5, end to end with two stock OpenSSH servers on 127.0.0.1 that know nothing of
 * Mezite but what `mezd node` writes for them (host certificate, trusted User CAs, KRL,
 * AuthorizedPrincipalsCommand): the seed's ci-deployer bot reaches the staging node as
 * deploy through `msh ssh`, is refused on the dev node and as root — by sshd itself,
 * offline — a lock reaches sshd through the KRL within one refresh, and a User CA
 * rotation runs while the bot renews continuously without one failed login.
 */
describeNeeding(sshdUnavailable(), 'nodes: mezd node, label-based access at stock sshd, msh, KRL, CA rotation', () => {
  let stack: TestStack;
  let dir: string;
  let certs: string;
  const nodes: Record<string, Node> = {};
  let botDaemon: ChildProcess | undefined;
  let firstDevCert = '';

  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
  const msh = (args: string[]) => runBin('msh', args, { env: { HOME: dir }, cwd: dir, timeoutMs: 30_000 });
  const sshTo = (node: Node, login: string, cmd: string[]) =>
    runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-o', `HostKeyAlias=${node.name}`, '-p', String(node.sshd.port), `${login}@127.0.0.1`, ...cmd]);

  /**
   * `msh ssh` logins to staging-1, one after another until stopped (bounded in count and
   * time), each tagged with the phase of the rotation it started in.
   */
  function loginLoop(phase: () => string) {
    const results: Array<{ code: number | null; stderr: string; phase: string }> = [];
    let stop = false;
    const running = (async () => {
      const deadline = Date.now() + 200_000;
      while (!stop && results.length < 2000 && Date.now() < deadline) {
        const during = phase();
        const r = await msh(['ssh', '--login=deploy', 'staging-1', '--', 'true']);
        results.push({ code: r.code, stderr: r.stderr, phase: during });
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    return {
      results,
      stop: async () => {
        stop = true;
        await running;
      },
    };
  }

  /** Renews the bot's certificate now (one-shot), as the daemon would. */
  async function renewBot(): Promise<void> {
    const r = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${certs}`, `--data-dir=${join(dir, 'bot-state')}`, '--certificate-ttl=1m', '--renewal-interval=20s', '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`mezd identity renewal failed: ${r.stderr}`);
  }

  /** Runs the bot's renewal daemon (every 3 s) for a rotation. */
  const startBotDaemon = () =>
    spawn(join(BIN, 'mezd'), ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${certs}`, `--data-dir=${join(dir, 'bot-state')}`, '--certificate-ttl=1m', '--renewal-interval=3s'], { env: { ...process.env, HOME: dir }, stdio: 'ignore' });

  /** Adds a node to the inventory, runs `mezd node start` for it and a stock sshd that includes the snippet. */
  async function enroll(name: string, labels: string, extra: string[] = []): Promise<Node> {
    const nodeDir = join(dir, name);
    mkdirSync(nodeDir, { mode: 0o755 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(nodeDir, 'ssh_host_ed25519_key')]);
    const port = await freePort();
    const added = await mezctl(['nodes', 'add', `--name=${name}`, `--addr=127.0.0.1:${port}`, `--labels=${labels}`]);
    expect(added.stderr).toBe('');
    const token = /Join token: (tok-node-[0-9a-f]{32})/.exec(added.stdout)?.[1];
    expect(token).toBeDefined();
    const agent = spawn(
      join(BIN, 'mezd'),
      ['node', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--host-key=${join(nodeDir, 'ssh_host_ed25519_key.pub')}`, `--destination=${join(nodeDir, 'mezite')}`, `--data-dir=${join(nodeDir, 'state')}`, ...(extra.some((a) => a.startsWith('--refresh-interval=')) ? [] : ['--refresh-interval=1s']), ...extra],
      { env: { ...process.env, HOME: nodeDir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    agent.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    agent.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const snippet = join(nodeDir, 'mezite', 'sshd_config');
    if (!(await until(() => existsSync(snippet), 20_000))) throw new Error(`mezd node wrote no sshd_config snippet:\n${log}`);
    const sshd = await startSshd({ dir: nodeDir, port, hostKey: join(nodeDir, 'ssh_host_ed25519_key'), extra: [`Include ${snippet}`] });
    return { name, dir: nodeDir, sshd, agent, agentLog: () => log };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-nodes-'));
    chmodSync(dir, 0o755);
    const home = ensureLoginUser('deploy');
    // The same script seed-002.test.ts writes (both files may run at once).
    writeFileSync(join(home, 'deploy.sh'), '#!/bin/sh\necho "deploying as $(id -un)"\nexit 3\n');
    chmodSync(join(home, 'deploy.sh'), 0o755);
    const uid = Number(execFileSync('id', ['-u', 'deploy'], { encoding: 'utf8' }).trim());
    chownSync(join(home, 'deploy.sh'), uid, uid);
    stack = await TestStack.start();
    await createRole(stack.cliEnv);
    // 1-minute host certificates: the nodes renew their own while the tests run (so a
    // Host CA rotation can complete: no certificate of the old Host CA outlives it long).
    nodes.staging = await enroll('staging-1', 'env=staging,team=web', ['--certificate-ttl=1m']);
    nodes.dev = await enroll('dev-1', 'env=dev', ['--certificate-ttl=1m']);
    firstDevCert = readFileSync(join(nodes.dev.dir, 'mezite', 'ssh_host_ed25519_key-cert.pub'), 'utf8');
    const bot = await mezctl(['bots', 'add', '--name=github-deploy', '--roles=ci-deployer']);
    const token = /Join token: (tok-bot-[0-9a-f]{32})/.exec(bot.stdout)?.[1] as string;
    certs = join(dir, 'certs');
    const joined = await runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--join-token=${token}`, `--destination=${certs}`, `--data-dir=${join(dir, 'bot-state')}`, '--certificate-ttl=1m', '--renewal-interval=20s', '--one-shot'], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
    if (joined.code !== 0) throw new Error(`mezd identity failed: ${joined.stderr}`);
  }, 180_000);

  // The bot holds 1-minute certificates (so the rotation's grace period is short): renew
  // before a test when less than 40 s are left, as the daemon would.
  beforeEach(async () => {
    const daemonRunning = botDaemon !== undefined && botDaemon.exitCode === null && botDaemon.signalCode === null;
    if (daemonRunning || !certs || !existsSync(join(certs, 'ssh_key-cert.pub'))) return;
    const left = parseCertificate(readFileSync(join(certs, 'ssh_key-cert.pub'), 'utf8')).validBefore.getTime() - Date.now();
    if (left > 40_000) return;
    await renewBot();
  });

  afterAll(async () => {
    botDaemon?.kill('SIGTERM');
    for (const n of Object.values(nodes)) {
      n.agent.kill('SIGTERM');
      await n.sshd.stop();
    }
    await stack?.destroy();
  });

  test('mezd node wrote a host certificate for the existing host key, naming the node, and the files sshd reads', () => {
    const n = nodes.staging as Node;
    const cert = parseCertificate(readFileSync(join(n.dir, 'mezite', 'ssh_host_ed25519_key-cert.pub'), 'utf8'));
    expect(cert.type).toBe('host');
    expect(cert.principals).toEqual(['staging-1', '127.0.0.1']);
    expect(cert.subjectKey.blob.equals(parsePublicKey(readFileSync(join(n.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).blob)).toBe(true);
    expect(execFileSync('ssh-keygen', ['-L', '-f', join(n.dir, 'mezite', 'ssh_host_ed25519_key-cert.pub')], { encoding: 'utf8' })).toMatch(/host certificate/);
    expect(readFileSync(join(n.dir, 'mezite', 'user_ca.pub'), 'utf8')).toMatch(/^ecdsa-sha2-nistp256 AAAA\S+\n$/);
    expect(JSON.parse(readFileSync(join(n.dir, 'mezite', 'node.json'), 'utf8'))).toEqual({ name: 'staging-1', labels: { env: 'staging', team: 'web' }, tenant: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const snippet = readFileSync(join(n.dir, 'mezite', 'sshd_config'), 'utf8');
    for (const d of ['HostCertificate', 'TrustedUserCAKeys', 'RevokedKeys', 'AuthorizedPrincipalsCommand', 'AuthorizedPrincipalsCommandUser']) expect(snippet).toMatch(new RegExp(`^${d} \\S`, 'm'));
    // The KRL is valid for ssh-keygen (and so for sshd): the bot's certificate is not in it.
    const q = execFileSync('ssh-keygen', ['-Q', '-f', join(n.dir, 'mezite', 'revoked_keys.krl'), join(certs, 'ssh_key-cert.pub')], { encoding: 'utf8' });
    expect(q).toMatch(/ok$/m);
  });

  test('mezctl nodes ls/show; msh ls shows the bot only the nodes its roles reach, with its logins', async () => {
    const ls = JSON.parse((await mezctl(['nodes', 'ls', '--output', 'json'])).stdout) as { items: Array<{ name: string; joined_at: string | null }> };
    expect(ls.items.map((n) => n.name)).toEqual(['dev-1', 'staging-1']);
    expect(ls.items.every((n) => n.joined_at !== null)).toBe(true);
    const show = await mezctl(['nodes', 'show', 'staging-1']);
    expect(show.stdout).toMatch(/^labels:\s+env=staging,team=web$/m);
    const mine = await msh(['ls', '--output', 'json']);
    expect(mine.stderr).toBe('');
    expect(JSON.parse(mine.stdout)).toEqual({ items: [{ name: 'staging-1', addr: `127.0.0.1:${(nodes.staging as Node).sshd.port}`, labels: { env: 'staging', team: 'web' }, logins: ['deploy'] }] });
  });

  test('msh ssh reaches the staging node as deploy and passes the exit code through', async () => {
    const r = await msh(['ssh', '--login=deploy', 'staging-1', '--', './deploy.sh']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('deploying as deploy\n');
    expect(r.code).toBe(3);
  });

  test('the dev node and root are refused — by stock sshd itself, from the labels and the grants in the certificate', async () => {
    const viaMsh = await msh(['ssh', '--login=deploy', 'dev-1', '--', 'true']);
    expect(viaMsh.code).toBe(1);
    expect(viaMsh.stderr).toMatch(/^msh: Not found: node "dev-1" is not in the inventory or your roles do not reach it/);
    // Straight at the dev node's sshd with plain ssh: the certificate is valid and trusted there,
    // and sshd still refuses, because the node's AuthorizedPrincipalsCommand reads env=dev.
    const direct = await sshTo(nodes.dev as Node, 'deploy', ['true']);
    expect(direct.code).toBe(255);
    // What sshd ran (its stderr is discarded by sshd): the same command, by hand.
    const [type, blob] = readFileSync(join(certs, 'ssh_key-cert.pub'), 'utf8').trim().split(' ') as [string, string];
    const ask = (node: Node, user: string) => runBin('mezd', ['authorized-principals', `--node-file=${join(node.dir, 'mezite', 'node.json')}`, user, type, blob]);
    const onDev = await ask(nodes.dev as Node, 'deploy');
    expect(onDev.stdout).toBe('');
    expect(onDev.stderr).toMatch(/refused deploy: the roles allow no login on dev-1/);
    expect((await ask(nodes.staging as Node, 'deploy')).stdout).toBe('deploy\n');
    expect((await ask(nodes.staging as Node, 'root')).stdout).toBe('');
    const root = await sshTo(nodes.staging as Node, 'root', ['true']);
    expect(root.code).toBe(255);
    // Plain ssh works too (Ansible, scripts): the same files, no msh.
    const plain = await sshTo(nodes.staging as Node, 'deploy', ['id', '-un']);
    expect(plain.stdout).toBe('deploy\n');
  });

  test('a lock reaches sshd through the KRL at the first refresh of mezd node after it; unlocking likewise', async () => {
    // A node of its own whose timer never fires during the test (--refresh-interval=1h):
    // its refreshes are exactly the SIGHUPs sent here, so "one refresh" is counted, not timed.
    const node = await enroll('staging-2', 'env=staging,team=web', ['--refresh-interval=1h', '--certificate-ttl=1m']);
    nodes.staging2 = node;
    const krl = join(node.dir, 'mezite', 'revoked_keys.krl');
    const revoked = () => {
      try {
        execFileSync('ssh-keygen', ['-Q', '-f', krl, join(certs, 'ssh_key-cert.pub')], { stdio: 'ignore' });
        return false;
      } catch (err) {
        return (err as { status?: number }).status === 1;
      }
    };
    /** How many times mezd node wrote a changed KRL. */
    const written = () => node.agentLog().split('\n').filter((l) => l.includes('KRL written')).length;
    /** Exactly one refresh: SIGHUP, then wait (bounded) for the KRL it writes. */
    const oneRefresh = async () => {
      const before = written();
      node.agent.kill('SIGHUP');
      if (!(await until(() => written() === before + 1, 20_000))) throw new Error(`mezd node wrote no KRL after SIGHUP:\n${node.agentLog()}`);
      expect(written()).toBe(before + 1);
    };
    expect(revoked()).toBe(false);
    expect((await sshTo(node, 'deploy', ['true'])).code).toBe(0);

    expect((await mezctl(['bots', 'lock', 'github-deploy', '--reason=incident'])).code).toBe(0);
    // No refresh yet: the node still lets the bot in (the KRL is what carries the lock).
    expect(revoked()).toBe(false);
    await oneRefresh();
    expect(revoked()).toBe(true);
    const refused = await sshTo(node, 'deploy', ['true']);
    expect(refused.code).toBe(255);
    expect(node.sshd.log()).toMatch(/revoked by file/i);

    expect((await mezctl(['bots', 'unlock', 'github-deploy'])).code).toBe(0);
    await oneRefresh();
    expect(revoked()).toBe(false);
    expect((await sshTo(node, 'deploy', ['true'])).code).toBe(0);
  });

  test('a User CA rotation runs while the bot renews continuously, and not one login fails', async () => {
    const staging = nodes.staging as Node;
    const userCas = () => readFileSync(join(staging.dir, 'mezite', 'user_ca.pub'), 'utf8').trim().split('\n');
    const signer = () => parseCertificate(readFileSync(join(certs, 'ssh_key-cert.pub'), 'utf8')).signatureKey.blob.toString('base64');
    const oldCa = userCas()[0] as string;
    botDaemon = startBotDaemon();
    let phase = 'before';
    const logins = loginLoop(() => phase);
    const results = logins.results;

    try {
      expect(await until(() => results.length >= 1, 30_000)).toBe(true);
      const init = await mezctl(['ca', 'rotate', '--type=user']);
      phase = 'init';
      expect(init.stderr).toBe('');
      expect(init.stdout).toMatch(/^User CA rotation: phase init done\./);
      expect(await until(() => userCas().length === 2, 15_000)).toBe(true);
      const newCa = userCas().find((k) => k !== oldCa) as string;
      const atInit = results.length;
      expect(await until(() => results.length > atInit, 30_000)).toBe(true);

      const sw = await mezctl(['ca', 'rotate', '--type=user', '--phase=switch']);
      expect(sw.stdout).toMatch(/phase switch done/);
      phase = 'switch';
      // The bot's next renewal brings a certificate of the new CA (the signer follows within 5 s).
      expect(await until(() => signer() === (newCa.split(' ')[1] as string), 30_000)).toBe(true);

      // Completing is refused while certificates of the old CA are still valid…
      const early = await mezctl(['ca', 'rotate', '--type=user', '--phase=complete']);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/certificates signed by the previous user CA are valid until/);
      // …and succeeds once the last of them has expired (1-minute certificates).
      let completed = false;
      const deadline = Date.now() + 100_000;
      while (!completed && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 3000));
        completed = (await mezctl(['ca', 'rotate', '--type=user', '--phase=complete'])).code === 0;
      }
      expect(completed).toBe(true);
      phase = 'complete';
      expect(await until(() => userCas().length === 1 && userCas()[0] === newCa, 15_000)).toBe(true);
      const ls = JSON.parse((await mezctl(['ca', 'ls', '--type=user', '--output', 'json'])).stdout) as { items: Array<{ state: string; public_key: string }> };
      expect(ls.items).toEqual([expect.objectContaining({ state: 'active', public_key: newCa })]);
      // A few more logins against the new trust set only.
      const after = results.length;
      expect(await until(() => results.length >= after + 2, 40_000)).toBe(true);
    } finally {
      await logins.stop();
      botDaemon.kill('SIGTERM');
    }
    const failed = results.filter((r) => r.code !== 0);
    expect(failed).toEqual([]);
    // Logins ran in every phase: before, with both CAs trusted, after the switch, and after completion.
    expect(new Set(results.map((r) => r.phase))).toEqual(new Set(['before', 'init', 'switch', 'complete']));
  }, 240_000);

  test('a Host CA rotation runs end to end — bots learn the new CA, nodes renew onto it, the old one is dropped — and not one login fails', async () => {
    const staging = nodes.staging as Node;
    const hostCas = async () => (JSON.parse((await mezctl(['ca', 'ls', '--type=host', '--output', 'json'])).stdout) as { items: Array<{ state: string; public_key: string }> }).items;
    const trusted = () => readFileSync(join(certs, 'known_hosts'), 'utf8').split('\n').filter((l) => l.startsWith('@cert-authority'));
    const hostSigner = () => parseCertificate(readFileSync(join(staging.dir, 'mezite', 'ssh_host_ed25519_key-cert.pub'), 'utf8')).signatureKey.blob.toString('base64');
    const blob = (key: string) => key.trim().split(' ')[1] as string;
    const [oldCa] = (await hostCas()).map((c) => c.public_key);
    expect(hostSigner()).toBe(blob(oldCa as string));
    expect(trusted()).toHaveLength(1);
    botDaemon = startBotDaemon();
    let phase = 'before';
    const logins = loginLoop(() => phase);
    const results = logins.results;
    try {
      expect(await until(() => results.length >= 1, 30_000)).toBe(true);
      const init = await mezctl(['ca', 'rotate', '--type=host']);
      expect(init.stdout).toMatch(/^Host CA rotation: phase init done\./);
      phase = 'init';
      const newCa = (await hostCas()).find((c) => c.public_key !== oldCa)?.public_key as string;
      // The bot's next renewal writes both Host CAs into known_hosts.
      expect(await until(() => trusted().length === 2 && trusted().some((l) => l.includes(blob(newCa))), 30_000)).toBe(true);
      const atInit = results.length;
      expect(await until(() => results.length > atInit, 30_000)).toBe(true);

      const sw = await mezctl(['ca', 'rotate', '--type=host', '--phase=switch']);
      expect(sw.stdout).toMatch(/phase switch done/);
      phase = 'switch';
      // The node's next host-certificate renewal (1-minute certificates) is signed by the new CA.
      expect(await until(() => hostSigner() === blob(newCa), 90_000)).toBe(true);
      const atSwitch = results.length;
      expect(await until(() => results.length > atSwitch, 30_000)).toBe(true);

      // complete is refused until the old CA's last host certificate has expired.
      let completed = false;
      const deadline = Date.now() + 120_000;
      while (!completed && Date.now() < deadline) {
        completed = (await mezctl(['ca', 'rotate', '--type=host', '--phase=complete'])).code === 0;
        if (!completed) await new Promise((r) => setTimeout(r, 3000));
      }
      expect(completed).toBe(true);
      phase = 'complete';
      expect((await hostCas()).map((c) => [c.state, c.public_key])).toEqual([['active', newCa]]);
      // The bot's next renewal drops the old CA from known_hosts; logins go on against the new one only.
      expect(await until(() => trusted().length === 1 && (trusted()[0] as string).includes(blob(newCa)), 30_000)).toBe(true);
      const after = results.length;
      expect(await until(() => results.length >= after + 2, 40_000)).toBe(true);
    } finally {
      await logins.stop();
      botDaemon.kill('SIGTERM');
    }
    expect(results.filter((r) => r.code !== 0)).toEqual([]);
    expect(new Set(results.map((r) => r.phase))).toEqual(new Set(['before', 'init', 'switch', 'complete']));
  }, 300_000);

  test('a node renews its host certificate by itself (proof of possession of the host key); ssh still verifies the host', async () => {
    const dev = nodes.dev as Node;
    const certFile = join(dev.dir, 'mezite', 'ssh_host_ed25519_key-cert.pub');
    // Renewal is due at 2/3 of the 2-minute validity window (issued 1 minute backdated).
    expect(await until(() => readFileSync(certFile, 'utf8') !== firstDevCert, 90_000)).toBe(true);
    const before = parseCertificate(firstDevCert);
    const after = parseCertificate(readFileSync(certFile, 'utf8'));
    expect(after.validBefore.getTime()).toBeGreaterThan(before.validBefore.getTime());
    expect(after.subjectKey.blob.equals(before.subjectKey.blob)).toBe(true);
    expect(after.serial).not.toBe(before.serial);
    expect(dev.agentLog()).toMatch(/host certificate written/);
    // The host is still verified through the Host CA (refused at login, as before, not at the host key).
    const r = await sshTo(dev, 'deploy', ['true']);
    expect(r.code).toBe(255);
    expect(r.stderr).not.toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION/);
    expect(r.stderr).toMatch(/Permission denied/);
  }, 120_000);

  test('offline: with the auth server stopped, stock sshd still admits the bot on staging and refuses it on dev and as root', async () => {
    await renewBot();
    await stack.killService('auth-server');
    try {
      // Nothing answers on the auth server's port now (msh would need it; plain ssh does not).
      expect(stack.status().services['auth-server']?.healthy).toBe(false);
      expect(await new Promise((resolve) => netConnect(stack.ports.auth, '127.0.0.1').once('connect', () => resolve('connected')).once('error', (e: NodeJS.ErrnoException) => resolve(e.code)))).toBe('ECONNREFUSED');
      const staging = await sshTo(nodes.staging as Node, 'deploy', ['id', '-un']);
      expect([staging.code, staging.stdout]).toEqual([0, 'deploy\n']);
      const dev = await sshTo(nodes.dev as Node, 'deploy', ['true']);
      expect(dev.code).toBe(255);
      expect(dev.stderr).toMatch(/Permission denied/);
      const root = await sshTo(nodes.staging as Node, 'root', ['true']);
      expect(root.code).toBe(255);
      expect(root.stderr).toMatch(/Permission denied/);
    } finally {
      await stack.startStopped();
    }
  }, 120_000);
});
