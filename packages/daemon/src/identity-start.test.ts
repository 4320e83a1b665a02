import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unavailable } from '@mezite/identity';
import { formatPublicKey, parseCertificate, verifyCertificateSignature } from '@mezite/ssh';
import { STATE_FILE } from './directory-state-store';
import { FakeJoinServer } from './fake-join-server';
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
const snapshot = () => ({ key: read('ssh_key'), cert: read('ssh_key-cert.pub'), hosts: read('known_hosts'), state: readFileSync(join(dataDir, STATE_FILE), 'utf8') });

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
});

test('a second run with the same --data-dir renews with a proof the server verifies, without a join token', async () => {
  expect((await mezd(join1())).code).toBe(0);
  const first = snapshot();
  const r = await mezd([...common(), '--one-shot']);
  expect(r.stderr).toBe(''); // the CA is pinned in the data dir now: no warning
  expect(r.code).toBe(0);
  expect(fake.joins).toBe(1);
  expect(fake.renewals).toEqual([{ presentedGeneration: 1, signatureValid: true, issuedGeneration: 2 }]);
  expect(fake.requestIds.slice(1)).toEqual([r.logs[1]?.request_id, r.logs[1]?.request_id]);
  expect(r.logs.map((l) => l.msg)).toEqual(['auth server CA trusted', 'renewed']);
  expect(r.logs[0]).toMatchObject({ source: 'data-dir', ca_pin: fake.caPin });
  const second = snapshot();
  expect(second.key).not.toBe(first.key);
  expect(second.cert).not.toBe(first.cert);
  expect(JSON.parse(second.state)).toMatchObject({ generation: 2 });
  // A third run presents generation 2: the saved state moved with the certificate.
  expect((await mezd([...common(), '--one-shot'])).code).toBe(0);
  expect(fake.renewals.map((x) => x.presentedGeneration)).toEqual([1, 2]);
});

test('a renewal interval not shorter than the TTL is refused before any contact', async () => {
  const r = await mezd([...join1(), '--renewal-interval', '1h', '--certificate-ttl', '1h']);
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

  fake.failWith = undefined;
  fake.lockReason = 'investigating a leak';
  const locked = await mezd([...common(), '--one-shot']);
  expect(locked.code).toBe(1);
  expect(locked.stderr).toBe('mezd: Forbidden: bot "github-deploy" is locked: investigating a leak\n');
  expect(locked.logs.at(-1)).toMatchObject({ level: 'error', msg: 'renewal refused by the auth server', code: 'PermissionDenied', reason: 'bot "github-deploy" is locked: investigating a leak' });
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
  expect(JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8'))).toMatchObject({ generation: 3 });

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

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
