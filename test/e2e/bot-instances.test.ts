import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeziteClients, publicChannelCredentials } from '@mezite/platform/client';
import { authv1 } from '@mezite/proto';
import { encodePublicKey, formatPublicKey, parseCertificate, signBotRenewal } from '@mezite/ssh';
import { describeNeeding } from '@mezite/identity/testing';
import { runBin } from '../harness/cli';
import { freePort } from '../harness/ports';
import { CI_DEPLOYER_ROLE } from '../harness/roles';
import { ensureLoginUser, runSsh, sshdUnavailable, startSshd, type Sshd } from '../harness/sshd';
import { TestStack } from '../harness/test-stack';


/**
 * Issue 13's promise, end to end against the stack, real mezd processes and stock
 * sshd: a copied data dir is caught at the second presentation of a generation in
 * either order, the whole lineage is revoked and sshd refuses the copy's certificate
 * through the KRL; lost responses lock nothing; a bot with two instances loses only
 * the copied one.
 */
describeNeeding(sshdUnavailable(), 'bot instances: exact copy detection and idempotent renewal (stock sshd)', () => {
  let stack: TestStack;
  let sshd: Sshd;
  let dir: string;
  let ca: string;
  let clients: ReturnType<typeof createMeziteClients>;

  const mezctl = (args: string[]) => runBin('mezctl', args, { env: stack.cliEnv, cwd: dir });
  const mezd = (state: string, extra: string[] = []) =>
    runBin('mezd', ['identity', 'start', `--auth-server=localhost:${stack.ports.auth}`, `--destination=${join(dir, state, 'certs')}`, `--data-dir=${join(dir, state)}`, '--one-shot', ...extra], { env: { HOME: dir }, cwd: dir, timeoutMs: 60_000 });
  const sshWith = (certs: string) =>
    runSsh(['-i', join(certs, 'ssh_key'), '-o', `CertificateFile=${join(certs, 'ssh_key-cert.pub')}`, '-o', `UserKnownHostsFile=${join(certs, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), 'deploy@localhost', 'true']);
  /** What a node's mezd does every refresh: fetch the KRL and write it where sshd reads RevokedKeys. */
  const refreshKrl = async () => {
    const r = await clients.create(authv1.CertAuthorityServiceDefinition).getRevocationList({});
    writeFileSync(join(dir, 'revoked_keys.krl'), r.krl);
  };
  const newBot = async (name: string): Promise<string> => {
    const r = await mezctl(['bots', 'add', `--name=${name}`, '--roles=ci-deployer']);
    const token = /Join token: (tok-bot-[0-9a-f]{32})/.exec(r.stdout)?.[1];
    if (!token) throw new Error(`bots add: ${r.stdout}${r.stderr}`);
    return token;
  };
  const instances = async (bot: string) => JSON.parse((await mezctl(['bots', 'instances', 'ls', bot, '--output', 'json'])).stdout) as { items: Array<{ id: string; generation: number; locked: boolean }> };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mezite-instances-'));
    chmodSync(dir, 0o755);
    ensureLoginUser('deploy');
    stack = await TestStack.start();
    const admin = JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string };
    ca = admin.ca_cert;
    clients = createMeziteClients({ address: `localhost:${stack.ports.auth}`, credentials: publicChannelCredentials(ca), peerName: 'auth server' });
    writeFileSync(join(dir, 'role.yaml'), CI_DEPLOYER_ROLE);
    expect((await mezctl(['create', '-f', 'role.yaml'])).code).toBe(0);
    writeFileSync(join(dir, 'user_ca.pub'), (await mezctl(['ca', 'export', '--type=user'])).stdout);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    expect((await mezctl(['ca', 'sign-host', `--public-key=${join(dir, 'host_key.pub')}`, '--principals=localhost', '--ttl=1h', `--out=${join(dir, 'host_key-cert.pub')}`])).code).toBe(0);
    await refreshKrl();
    sshd = await startSshd({ dir, port: await freePort(), hostKey: join(dir, 'host_key'), hostCert: join(dir, 'host_key-cert.pub'), trustedUserCaKeys: join(dir, 'user_ca.pub'), revokedKeys: join(dir, 'revoked_keys.krl') });
  }, 120_000);
  afterAll(async () => {
    clients?.close();
    await sshd?.stop();
    await stack?.destroy();
  });

  test.each([
    ['the copy renews first', true],
    ['the original renews first', false],
  ])('%s: the second presentation locks the lineage, and sshd refuses the copy through the KRL', async (_name, copyFirst) => {
    const bot = copyFirst ? 'copy-first' : 'original-first';
    const orig = `${bot}-orig`;
    const copy = `${bot}-copy`;
    expect((await mezd(orig, [`--join-token=${await newBot(bot)}`])).code).toBe(0);
    expect((await mezd(orig)).code).toBe(0); // generation 2
    cpSync(join(dir, orig), join(dir, copy), { recursive: true });
    const [first, second] = copyFirst ? [copy, orig] : [orig, copy];
    const won = await mezd(first);
    expect(won.stderr).toBe('');
    expect(won.code).toBe(0);
    await refreshKrl();
    expect((await sshWith(join(dir, first, 'certs'))).code).toBe(0);
    const caught = await mezd(second);
    expect(caught.code).toBe(1);
    expect(caught.stderr).toMatch(new RegExp(`this instance of bot "${bot}" is locked: generation 2 was presented twice with different keys`));
    await refreshKrl();
    // The copy's certificate (and the original's: the lineage is dead) is refused by sshd itself.
    const refusedCopy = await sshWith(join(dir, copy, 'certs'));
    expect(refusedCopy.code).toBe(255);
    expect((await sshWith(join(dir, orig, 'certs'))).code).toBe(255);
    expect(sshd.log()).toMatch(/revoked/i);
    // Neither copy goes on; the bot itself is not locked, its instance is.
    expect((await mezd(first)).code).toBe(1);
    const [inst] = (await instances(bot)).items;
    expect(inst).toMatchObject({ locked: true });
    const audit = JSON.parse((await mezctl(['audit', 'ls', '--output', 'json'])).stdout) as { items: Array<{ type: string; target: string; details: Record<string, string> }> };
    const lock = audit.items.find((e) => e.type === 'bot.lock' && e.target === `bot:${bot}`);
    expect(lock?.details).toMatchObject({ reason: 'copied credential', instance: inst?.id, presented: '2' });
    // Both presenters dialled the stack on loopback: each address is named, not "unknown".
    expect(lock?.details.first_address).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(lock?.details.second_address).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
  }, 120_000);

  test('a bot with two instances loses only the copied one', async () => {
    const token = await newBot('two-machines');
    const added = await mezctl(['bots', 'instances', 'add', 'two-machines']);
    const second = /Join token: (tok-bot-[0-9a-f]{32})/.exec(added.stdout)?.[1] as string;
    expect(second).toBeDefined();
    expect((await mezd('m1', [`--join-token=${token}`])).code).toBe(0);
    expect((await mezd('m2', [`--join-token=${second}`])).code).toBe(0);
    expect((await instances('two-machines')).items).toHaveLength(2);
    cpSync(join(dir, 'm1'), join(dir, 'm1-copy'), { recursive: true });
    expect((await mezd('m1')).code).toBe(0);
    expect((await mezd('m1-copy')).code).toBe(1);
    expect((await mezd('m2')).code).toBe(0);
    await refreshKrl();
    expect((await sshWith(join(dir, 'm2', 'certs'))).code).toBe(0);
    expect((await sshWith(join(dir, 'm1-copy', 'certs'))).code).toBe(255);
    const items = (await instances('two-machines')).items;
    expect(items.filter((i) => i.locked)).toHaveLength(1);
    expect(items.find((i) => !i.locked)?.generation).toBe(2);
  }, 120_000);

  test('ten lost responses in a row lock nothing: each retry of the step gets the same certificate, which sshd accepts', async () => {
    const token = await newBot('lossy');
    const join1 = clients.create(authv1.JoinServiceDefinition);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const joined = await join1.join({ joinToken: token, publicKey: formatPublicKey(key.publicKey), requestedTtlSeconds: 3600 });
    const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const serial = parseCertificate(joined.certificate).serial;
    const answers: string[] = [];
    for (let i = 0; i < 11; i++) {
      const time = new Date();
      const signature = signBotRenewal(key.privateKey, { instanceId: joined.instanceId, generation: 1, serial, newPublicKeyBlob: encodePublicKey(next.publicKey), timeMs: time.getTime() });
      // The first ten answers are "lost": the client never uses them and asks again.
      answers.push((await join1.renewBot({ certificate: joined.certificate, newPublicKey: formatPublicKey(next.publicKey), time, signature, requestedTtlSeconds: 3600 })).certificate);
    }
    expect(new Set(answers).size).toBe(1);
    expect((await instances('lossy')).items).toEqual([expect.objectContaining({ generation: 2, locked: false })]);
    const certs = join(dir, 'lossy');
    execFileSync('mkdir', ['-p', certs]);
    writeFileSync(join(certs, 'ssh_key'), next.privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(certs, 'ssh_key-cert.pub'), `${answers[0]}\n`);
    writeFileSync(join(certs, 'known_hosts'), (await mezctl(['ca', 'export', '--type=host'])).stdout);
    await refreshKrl();
    expect((await sshWith(certs)).code).toBe(0);
  }, 60_000);

  test('an explicit --join-token that differs from the stored identity\'s is used, never ignored', async () => {
    await newBot('explicit');
    const token = await newBot('explicit-2');
    expect((await mezd('explicit', [`--join-token=${token}`])).code).toBe(0);
    const garbage = await mezd('explicit', ['--join-token=tok-bot-00000000000000000000000000000000']);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/invalid join token/);
    // The token the identity joined with, given again (a unit file that always passes it), renews.
    expect((await mezd('explicit', [`--join-token=${token}`])).code).toBe(0);
  }, 60_000);
});
