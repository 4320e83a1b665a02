// The real binary as an operator runs it: `bin/mezd` from the build (run
// `node scripts/build.mjs` first), real signals, and the process must exit by itself
// (no handle left open) with the right code.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeJoinServer } from './fake-join-server';

const root = join(__dirname, '..', '..', '..');
const bin = join(root, 'bin', 'mezd');

let dir: string;
let fake: FakeJoinServer;
beforeAll(() => {
  if (!existsSync(join(root, 'packages', 'daemon', 'dist', 'index.js'))) throw new Error('packages/daemon/dist is missing: run node scripts/build.mjs first');
});
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mezd-proc-'));
  fake = await FakeJoinServer.start({ dir: join(dir, 'pki') });
});
afterEach(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  // Always an explicit --data-dir: the default for root is /var/lib/mezite/identity.
  const child = spawn(process.execPath, [bin, 'identity', 'start', '--data-dir', join(dir, 'state'), ...args], { env: { ...process.env, HOME: dir, MEZITE_JOIN_TOKEN: fake.joinToken }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('one-shot exits 0 by itself, with the token taken from MEZITE_JOIN_TOKEN', async () => {
  const p = start(['--auth-server', fake.address, '--destination', join(dir, 'certs'), '--ca-pin', fake.caPin, '--one-shot']);
  expect(await p.exit).toBe(0);
  expect(p.err()).toBe('');
  expect(readFileSync(join(dir, 'certs', 'ssh_key-cert.pub'), 'utf8')).toMatch(/^ecdsa-sha2-nistp256-cert-v01@openssh\.com /);
  expect(existsSync(join(dir, 'state', 'identity.json'))).toBe(true);
  expect(p.out()).not.toContain(fake.joinToken);
});

test('the daemon renews on SIGHUP and exits 0 on SIGTERM', async () => {
  const p = start(['--auth-server', fake.address, '--destination', join(dir, 'certs'), '--ca-pin', fake.caPin, '--renewal-interval', '30m']);
  await waitFor(() => p.out().includes('"next renewal scheduled"'));
  p.child.kill('SIGHUP');
  await waitFor(() => fake.renewals.length === 1 && p.out().split('"next renewal scheduled"').length === 3);
  expect(fake.renewals[0]).toMatchObject({ presentedGeneration: 1, signatureValid: true });
  p.child.kill('SIGTERM');
  expect(await p.exit).toBe(0);
  const msgs = p.out().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
  expect(msgs.slice(-2)).toEqual(['stopping', 'stopped']);
});

test('a failure is one line on stderr and a non-zero exit', async () => {
  const p = start(['--auth-server', fake.address, '--destination', join(dir, 'certs'), '--ca-pin', `sha256:${'0'.repeat(64)}`, '--one-shot']);
  expect(await p.exit).toBe(1);
  expect(p.err()).toBe(`mezd: Unauthenticated: the auth server's CA does not match --ca-pin (got ${fake.caPin})\n`);
});
