import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, hostname, platform, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { unavailable } from '@mezite/identity';
import { encodePublicKey, formatPublicKey, parseCertificate, verifyCertificateSignature } from '@mezite/ssh';
import { STATE_FILE } from './directory-state-store';
import { FakeJoinServer } from './fake-join-server';
import { joinTokenHash } from './identity-state';
import { runMezd, type RunMezdOptions } from './mezd';
import type { RenewalLoop } from './renewal-loop';

let dir: string;
let fake: FakeJoinServer;
let dest: string;
let dataDir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezd-start-'));
  fake = await FakeJoinServer.start({ dir: join(dir, 'pki') });
  dest = join(dir, 'certs');
  dataDir = join(dir, 'state');
});
afterEach(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  logs: Array<Record<string, unknown>>;
}

async function mezd(args: string[], o: RunMezdOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runMezd(['identity', 'start', ...args], {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    environment: { env: {}, isRoot: false, home: dir },
    // Where mezd records its destination for msh: this test's dir, never the real ~/.mezite.
    env: { MEZITE_HOME: join(dir, '.mezite') },
    signals: new EventEmitter(),
    ...o,
  });
  const logs = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, stdout, stderr, logs };
}

const common = () => ['--auth-server', fake.address, '--destination', dest, '--data-dir', dataDir];
const join1 = () => [...common(), '--join-token', fake.joinToken, '--one-shot'];
const read = (name: string) => readFileSync(join(dest, name), 'utf8');
const mode = (p: string) => statSync(p).mode & 0o777;
const stateFile = () => JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as Record<string, unknown> & { pending?: { for: string; private_key: string } };
/** The destination's files and the saved identity (a failed attempt may leave a pending key next to it: see `pending`). */
const snapshot = () => {
  const { pending: _pending, ...state } = stateFile();
  return { key: read('ssh_key'), cert: read('ssh_key-cert.pub'), hosts: read('known_hosts'), state };
};

test('--one-shot joins and writes ssh_key, ssh_key-cert.pub and known_hosts that OpenSSH accepts', async () => {
  const r = await mezd([...join1(), '--ca-pin', fake.caPin]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fake.joins).toBe(1);

  expect(mode(join(dest, 'ssh_key'))).toBe(0o600);
  expect(mode(join(dest, 'ssh_key-cert.pub'))).toBe(0o644);
  expect(mode(join(dest, 'known_hosts'))).toBe(0o644);
  const cert = parseCertificate(read('ssh_key-cert.pub'));
  expect(cert.type).toBe('user');
  expect(cert.principals).toEqual(['deploy', 'ci']);
  expect(verifyCertificateSignature(cert)).toBe(true);
  expect(formatPublicKey(cert.signatureKey.blob)).toBe(fake.userCa.publicKeyLine.split(' ').slice(0, 2).join(' '));
  expect(cert.validBefore.getTime() - Date.now()).toBeGreaterThan(59 * 60_000);
  expect(read('known_hosts')).toBe(`@cert-authority * ${fake.hostCa.publicKeyLine}\n`);
  const keygen = spawnSync('/usr/bin/ssh-keygen', ['-y', '-f', join(dest, 'ssh_key')], { encoding: 'utf8' });
  expect(keygen.stderr).toBe('');
  expect(keygen.stdout.trim()).toBe(formatPublicKey(cert.subjectKey.blob));

  expect(mode(dataDir)).toBe(0o700);
  expect(mode(join(dataDir, STATE_FILE))).toBe(0o600);
  expect(JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8'))).toMatchObject({ generation: 1, bot_name: 'github-deploy', ca_pin: fake.caPin, auth_server: fake.address });
  expect(r.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'joined']);
  expect(r.logs[1]).toMatchObject({ level: 'info', service: 'mezd', bot: 'github-deploy', generation: 1, principals: ['deploy', 'ci'] });
  // The attempt's request id reached the server (x-request-id), for its audit record.
  expect(fake.requestIds).toEqual([r.logs[1]?.request_id]);
  expect(r.stdout).not.toContain(fake.joinToken);
  expect(r.stdout).not.toContain('PRIVATE KEY');
  // For msh: the issuing auth server beside the files (public), and this destination in ~/.mezite.
  expect(mode(join(dest, 'mezite-auth.json'))).toBe(0o644);
  expect(JSON.parse(read('mezite-auth.json'))).toEqual({ auth_server: fake.address, ca_cert: expect.stringContaining('BEGIN CERTIFICATE') });
  expect(JSON.parse(readFileSync(join(dir, '.mezite', 'identity.json'), 'utf8'))).toMatchObject({ destination: dest, auth_server: fake.address });
});

test('a second run with the same --data-dir renews with a proof the server verifies, without a join token', async () => {
  expect((await mezd(join1())).code).toBe(0);
  const first = snapshot();
  const r = await mezd([...common(), '--one-shot']);
  expect(r.stderr).toBe(''); // the CA is pinned in the data dir now: no warning
  expect(r.code).toBe(0);
  expect(fake.joins).toBe(1);
  expect(fake.renewals).toEqual([{ presentedGeneration: 1, signatureValid: true, issuedGeneration: 2 }]);
  // One RenewBot call, carrying the attempt's request id.
  expect(fake.requestIds.slice(1)).toEqual([r.logs[1]?.request_id]);
  expect(r.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'renewed']);
  expect(r.logs[0]).toMatchObject({ source: 'data-dir', ca_pin: fake.caPin });
  const second = snapshot();
  expect(second.key).not.toBe(first.key);
  expect(second.cert).not.toBe(first.cert);
  expect(second.state).toMatchObject({ generation: 2 });
  expect(stateFile().pending).toBeUndefined();
  // A third run presents generation 2: the saved state moved with the certificate.
  expect((await mezd([...common(), '--one-shot'])).code).toBe(0);
  expect(fake.renewals.map((x) => x.presentedGeneration)).toEqual([1, 2]);
});

test('a renewal interval not shorter than the TTL is refused before any contact (daemon mode)', async () => {
  const r = await mezd([...common(), '--join-token', fake.joinToken, '--renewal-interval', '1h', '--certificate-ttl', '1h']);
  expect(r).toMatchObject({ code: 2, stdout: '' });
  expect(r.stderr).toBe('mezd: Invalid argument: --renewal-interval (1h) must be shorter than --certificate-ttl (1h), or the certificate expires before it is renewed\n');
  expect(fake.joins).toBe(0);
});

test('a wrong --ca-pin is refused and nothing is written', async () => {
  const wrong = `sha256:${'0'.repeat(64)}`;
  const r = await mezd([...join1(), '--ca-pin', wrong]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`mezd: Unauthenticated: the auth server's CA does not match --ca-pin (got ${fake.caPin})\n`);
  expect(fake.joins).toBe(0);
  expect(() => statSync(dest)).toThrow();
  expect(() => statSync(join(dataDir, STATE_FILE))).toThrow();
});

test('without --ca-pin the CA is trusted on first use with one warning line, and pinned for later runs', async () => {
  const r = await mezd(join1());
  expect(r.code).toBe(0);
  expect(r.stderr).toBe(`mezd: warning: trusting the auth server's CA ${fake.caPin} on first use; pass --ca-pin to verify it\n`);
  expect(r.logs[0]).toMatchObject({ msg: 'auth server CA trusted', source: 'first-use' });
  // Later, a --ca-pin that disagrees with the pinned CA is refused.
  const later = await mezd([...common(), '--one-shot', '--ca-pin', `sha256:${'1'.repeat(64)}`]);
  expect(later.code).toBe(1);
  expect(later.stderr).toMatch(/^mezd: Unauthenticated: the CA pinned in .*identity\.json \(sha256:[0-9a-f]{64}\) does not match --ca-pin; remove that file/);
});

test('a failed renewal (server down, bot locked) exits non-zero with one line and keeps the old files', async () => {
  expect((await mezd(join1())).code).toBe(0);
  const before = snapshot();
  fake.failWith = unavailable('the auth server is shutting down');
  const down = await mezd([...common(), '--one-shot']);
  expect(down.code).toBe(1);
  expect(down.stderr).toBe('mezd: Unavailable: the auth server is shutting down\n');
  expect(snapshot()).toEqual(before);
  expect(stateFile().pending).toMatchObject({ for: 'renew' }); // the key for the retry

  fake.failWith = undefined;
  fake.lockReason = 'investigating a leak';
  const locked = await mezd([...common(), '--one-shot']);
  expect(locked.code).toBe(1);
  expect(locked.stderr).toBe('mezd: Forbidden: bot "github-deploy" is locked: investigating a leak\n');
  expect(locked.logs.at(-1)).toMatchObject({ level: 'error', msg: 'renewal refused by the auth server', code: 'PermissionDenied', reason: 'bot "github-deploy" is locked: investigating a leak', hint: expect.stringContaining('locked') });
  expect(snapshot()).toEqual(before);

  await fake.stop();
  const gone = await mezd([...common(), '--one-shot']);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toBe(`mezd: Unavailable: auth server ${fake.address} is unavailable: connection refused\n`);
  expect(snapshot()).toEqual(before);
});

test('the first start needs a join token; a used one is refused', async () => {
  const none = await mezd([...common(), '--one-shot']);
  expect(none.code).toBe(2);
  expect(none.stderr).toBe(`mezd: Invalid argument: --join-token is required on the first start (${join(dataDir, STATE_FILE)} holds no identity)\n`);
  expect((await mezd(join1())).code).toBe(0);
  const again = await mezd([...join1(), '--data-dir', join(dir, 'other-state'), '--ca-pin', fake.caPin]);
  expect(again.code).toBe(1);
  expect(again.stderr).toBe('mezd: Unauthenticated: invalid join token\n');
});

test('--config supplies the flags (YAML)', async () => {
  const cfg = join(dir, 'mezd.yaml');
  writeFileSync(cfg, `auth-server: ${fake.address}\njoin-token: ${fake.joinToken}\ndestination: ${dest}\ndata-dir: ${dataDir}\none-shot: true\nca-pin: ${fake.caPin}\n`);
  const r = await mezd(['--config', cfg]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(fake.joins).toBe(1);
});

test('daemon mode: renews on SIGHUP and on renewNow, exits 0 on SIGTERM', async () => {
  const signals = new EventEmitter();
  let loop: RenewalLoop | undefined;
  const running = mezd([...common(), '--join-token', fake.joinToken, '--ca-pin', fake.caPin], { signals, onLoop: (l) => (loop = l) });
  await waitFor(() => fake.joins === 1 && loop?.nextAttemptAt !== undefined);
  const cert1 = read('ssh_key-cert.pub');
  // 20m ± 10 %, well before 2/3 of the 1h certificate.
  const wait = (loop?.nextAttemptAt?.getTime() ?? 0) - Date.now();
  expect(wait).toBeGreaterThan(17 * 60_000);
  expect(wait).toBeLessThan(22 * 60_000 + 1000);

  signals.emit('SIGHUP');
  await waitFor(() => fake.renewals.length === 1 && loop?.nextAttemptAt !== undefined);
  await loop?.renewNow();
  expect(fake.renewals.map((x) => [x.presentedGeneration, x.signatureValid])).toEqual([[1, true], [2, true]]);
  expect(read('ssh_key-cert.pub')).not.toBe(cert1);
  expect(stateFile()).toMatchObject({ generation: 3 });

  signals.emit('SIGTERM');
  const r = await running;
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.logs.map((l) => l.msg)).toEqual([
    'auth server CA trusted', 'started', 'joined', 'next renewal scheduled', 'renewal requested', 'renewed', 'next renewal scheduled', 'renewal requested', 'renewed', 'next renewal scheduled', 'stopping', 'stopped',
  ]);
  expect(signals.listenerCount('SIGHUP') + signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
});

test('daemon mode keeps the old files while the server refuses, and resumes after an unlock', async () => {
  const signals = new EventEmitter();
  let loop: RenewalLoop | undefined;
  const running = mezd([...common(), '--join-token', fake.joinToken, '--ca-pin', fake.caPin], { signals, onLoop: (l) => (loop = l) });
  await waitFor(() => fake.joins === 1 && loop?.nextAttemptAt !== undefined);
  const before = snapshot();
  fake.lockReason = 'maintenance';
  await loop?.renewNow();
  expect(snapshot()).toEqual(before);
  const retryIn = (loop?.nextAttemptAt?.getTime() ?? 0) - Date.now();
  expect(retryIn).toBeLessThanOrEqual(1200);
  fake.lockReason = undefined;
  await loop?.renewNow();
  expect(snapshot()).not.toEqual(before);
  signals.emit('SIGINT');
  const r = await running;
  expect(r.code).toBe(0);
  expect(r.logs.find((l) => l.msg === 'renewal refused by the auth server')).toMatchObject({ level: 'error', code: 'PermissionDenied', reason: 'bot "github-deploy" is locked: maintenance' });
});

test('a renewal whose response was lost: the next run presents the saved key again and gets the same certificate', async () => {
  expect((await mezd(join1())).code).toBe(0);
  const before = snapshot();
  fake.loseResponses = 1;
  const lost = await mezd([...common(), '--one-shot']);
  expect(lost.code).toBe(1);
  expect(lost.stderr).toBe('mezd: Unavailable: the connection was reset before the response was sent\n');
  expect(fake.renewals).toEqual([{ presentedGeneration: 1, signatureValid: true, issuedGeneration: 2 }]); // the server moved on
  expect(snapshot()).toEqual(before);
  const pending = stateFile().pending;
  expect(pending).toMatchObject({ for: 'renew', certificate_serial: String(parseCertificate(before.cert).serial) });

  const retried = await mezd([...common(), '--one-shot']);
  expect(retried.stderr).toBe('');
  expect(retried.code).toBe(0);
  expect(fake.renewals[1]).toEqual({ presentedGeneration: 1, signatureValid: true, issuedGeneration: 2, replayed: true });
  expect([...fake.instances.values()][0]?.lockReason).toBeUndefined();
  // The certificate is the one the lost response carried, for the key saved before the first request.
  expect(read('ssh_key')).toBe(createPrivateKey(pending!.private_key).export({ type: 'sec1', format: 'pem' }));
  expect(parseCertificate(read('ssh_key-cert.pub')).subjectKey.blob.equals(encodePublicKey(createPrivateKey(pending!.private_key)))).toBe(true);
  expect(stateFile()).toMatchObject({ generation: 2 });
  expect(stateFile().pending).toBeUndefined();
  // And the instance goes on: generation 2 is presented next.
  expect((await mezd([...common(), '--one-shot'])).code).toBe(0);
  expect(fake.renewals[2]).toEqual({ presentedGeneration: 2, signatureValid: true, issuedGeneration: 3 });
});

test('a first join whose response was lost is retried by the next run with the same key (nothing pinned meanwhile)', async () => {
  fake.loseResponses = 1;
  const lost = await mezd([...join1(), '--ca-pin', fake.caPin]);
  expect(lost.code).toBe(1);
  expect(fake.joins).toBe(1);
  expect(stateFile()).toEqual({ version: 1, auth_server: fake.address, pending: { for: 'join', join_token_sha256: joinTokenHash(fake.joinToken), private_key: expect.stringContaining('PRIVATE KEY') } });
  const again = await mezd(join1());
  // No CA was pinned with the pending key: trusted on first use again (the pin was not saved either).
  expect(again.stderr).toMatch(/^mezd: warning: trusting the auth server's CA/);
  expect(again.code).toBe(0);
  expect(fake).toMatchObject({ joins: 1, joinReplays: 1 });
  expect(stateFile()).toMatchObject({ generation: 1, join_token_sha256: joinTokenHash(fake.joinToken), ca_pin: fake.caPin });
});

describe('an explicit join token', () => {
  test('the same token renews; a different one joins (a new instance); a token that is not valid fails although the identity is usable', async () => {
    expect((await mezd(join1())).code).toBe(0);
    const firstInstance = stateFile().instance_id;
    expect(firstInstance).toEqual(expect.any(String));
    expect(stateFile().join_token_sha256).toBe(joinTokenHash(fake.joinToken));

    const same = await mezd(join1());
    expect(same.code).toBe(0);
    expect(same.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'renewed']);
    expect(fake.joins).toBe(1);

    const other = fake.addJoinToken();
    const joined = await mezd([...common(), '--join-token', other, '--one-shot']);
    expect(joined.stderr).toBe('');
    expect(joined.code).toBe(0);
    expect(joined.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'joined']);
    expect(fake.joins).toBe(2);
    expect(stateFile()).toMatchObject({ generation: 1, join_token_sha256: joinTokenHash(other) });
    expect(stateFile().instance_id).not.toBe(firstInstance);
    // From then on that token renews the new instance.
    expect((await mezd([...common(), '--join-token', other, '--one-shot'])).logs.at(-1)).toMatchObject({ msg: 'renewed', generation: 2 });

    const before = snapshot();
    const garbage = await mezd([...common(), '--join-token=tok-bot-garbage', '--one-shot']);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toBe('mezd: Unauthenticated: invalid join token\n');
    expect(garbage.logs.at(-1)).toMatchObject({ level: 'error', msg: 'join refused by the auth server', code: 'Unauthenticated' });
    expect(snapshot()).toEqual(before);
    expect(garbage.stdout).not.toContain('tok-bot-garbage');
    // The stored identity is still there, and renews without a token.
    expect((await mezd([...common(), '--one-shot'])).logs.at(-1)).toMatchObject({ msg: 'renewed', generation: 3 });
  });

  test('the daemon joins with a different token too, and gives up when it is refused', async () => {
    expect((await mezd(join1())).code).toBe(0);
    const r = await mezd([...common(), '--join-token', 'tok-bot-garbage']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('mezd: Unauthenticated: invalid join token\n');
    expect(r.logs.at(-1)).toMatchObject({ msg: 'giving up', code: 'Unauthenticated' });
    expect(fake.renewals).toEqual([]);
  });

  test('an identity saved by an older mezd (no token hash) keeps renewing whatever token is passed, says so once, then tracks the token', async () => {
    expect((await mezd(join1())).code).toBe(0);
    const { join_token_sha256: _hash, instance_id: _instance, ...old } = stateFile();
    writeFileSync(join(dataDir, STATE_FILE), JSON.stringify(old));
    const upgraded = await mezd([...common(), '--join-token', 'tok-bot-the-unit-always-passes', '--one-shot']);
    expect(upgraded.stderr).toBe('');
    expect(upgraded.code).toBe(0);
    expect(upgraded.logs.map((l) => l.msg)).toEqual(['the join token is ignored: the identity in the data dir predates join-token tracking, so it is renewed', 'auth server CA trusted', 'renewed']);
    expect(upgraded.logs[0]).toMatchObject({ level: 'warn' });
    expect(fake.joins).toBe(1);
    expect(stateFile()).toMatchObject({ generation: 2, join_token_sha256: joinTokenHash('tok-bot-the-unit-always-passes'), instance_id: firstInstanceOf(fake) });
    const next = await mezd([...common(), '--join-token', 'tok-bot-the-unit-always-passes', '--one-shot']);
    expect(next.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'renewed']);
  });
});

test('--one-shot with a TTL shorter than the default interval is accepted, and the heartbeat says one-shot', async () => {
  const r = await mezd([...join1(), '--certificate-ttl=10m', '--ca-pin', fake.caPin]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const cert = parseCertificate(read('ssh_key-cert.pub'));
  expect(cert.validBefore.getTime() - Date.now()).toBeLessThanOrEqual(10 * 60_000);
  expect(fake.heartbeats[0]).toMatchObject({ oneShot: true, renewalIntervalSeconds: 0 });
});

test('the heartbeat reaches the server with every join and renewal: version, machine, schedule and the destination\'s health', async () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  expect((await mezd(join1())).code).toBe(0);
  expect(fake.heartbeats[0]).toEqual({ version: pkg.version, hostname: hostname(), os: `${platform()} ${release()} ${arch()}`, renewalIntervalSeconds: 0, oneShot: true, destinations: [] });

  const signals = new EventEmitter();
  let loop: RenewalLoop | undefined;
  const running = mezd([...common(), '--renewal-interval', '30m', '--ca-pin', fake.caPin], { signals, onLoop: (l) => (loop = l) });
  await waitFor(() => fake.renewals.length === 1 && loop?.nextAttemptAt !== undefined);
  // The daemon rewrote the destination at start, so its first renewal reports it.
  expect(fake.heartbeats[1]).toMatchObject({ version: pkg.version, renewalIntervalSeconds: 1800, oneShot: false, destinations: [{ destination: `directory:${dest}`, healthy: true, error: '' }] });
  const written = fake.heartbeats[1]?.destinations[0]?.updateTime;
  expect(Math.abs((written?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
  signals.emit('SIGTERM');
  expect((await running).code).toBe(0);
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const firstInstanceOf = (f: FakeJoinServer) => [...f.instances.keys()][0];
