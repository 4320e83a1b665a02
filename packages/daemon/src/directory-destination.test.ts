import { spawnSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@mezite/identity';
import { formatPublicKey, parseCertificate } from '@mezite/ssh';
import { type BotIdentity, generateBotKey, identityFromIssued } from './bot-identity';
import { DirectoryDestination } from './directory-destination';
import { DirectoryStateStore, STATE_FILE } from './directory-state-store';
import { joinTokenHash } from './identity-state';
import { MemoryDestination } from './memory-destination';
import { MemoryIssuer } from './memory-issuer';

let dir: string;
const clock = new FakeClock(new Date());
let issuer: MemoryIssuer;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mezd-dest-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh identity, from an issuer of its own (a join token is redeemed once). */
async function identity(): Promise<BotIdentity> {
  issuer = new MemoryIssuer(clock);
  const key = generateBotKey();
  return identityFromIssued(await issuer.join({ joinToken: issuer.joinToken, publicKey: formatPublicKey(key), ttlMs: 3600_000 }), key, clock.now());
}
const mode = (p: string) => statSync(p).mode & 0o777;

test('writes ssh_key 0600, ssh_key-cert.pub and known_hosts 0644 into a new 0700 directory, whatever the umask', async () => {
  const id = await identity();
  const target = join(dir, 'certs', 'nested');
  const old = process.umask(0o077);
  try {
    await new DirectoryDestination(target).write(id);
  } finally {
    process.umask(old);
  }
  expect(mode(target)).toBe(0o700);
  expect(readdirSync(target).sort()).toEqual(['known_hosts', 'ssh_key', 'ssh_key-cert.pub']);
  expect(mode(join(target, 'ssh_key'))).toBe(0o600);
  expect(mode(join(target, 'ssh_key-cert.pub'))).toBe(0o644);
  expect(mode(join(target, 'known_hosts'))).toBe(0o644);
  expect(readFileSync(join(target, 'ssh_key'), 'utf8')).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n[\s\S]+-----END EC PRIVATE KEY-----\n$/);
  expect(readFileSync(join(target, 'ssh_key-cert.pub'), 'utf8')).toBe(`${id.certificate}\n`);
  expect(readFileSync(join(target, 'known_hosts'), 'utf8')).toBe(`@cert-authority * ${issuer.hostCa.publicKeyLine}\n`);
  // Stock OpenSSH reads the key and derives the certificate's public key from it.
  const r = spawnSync('/usr/bin/ssh-keygen', ['-y', '-f', join(target, 'ssh_key')], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe(formatPublicKey(parseCertificate(id.certificate).subjectKey.blob));
});

test('replaces files by rename (new inode, no temp files left) and keeps an existing directory mode', async () => {
  writeFileSync(join(dir, 'other'), 'x');
  chmodSync(dir, 0o755);
  const dest = new DirectoryDestination(dir);
  await dest.write(await identity());
  const before = statSync(join(dir, 'ssh_key')).ino;
  const second = await identity();
  await dest.write(second);
  expect(statSync(join(dir, 'ssh_key')).ino).not.toBe(before);
  expect(readdirSync(dir).sort()).toEqual(['known_hosts', 'other', 'ssh_key', 'ssh_key-cert.pub']);
  expect(readFileSync(join(dir, 'ssh_key-cert.pub'), 'utf8')).toBe(`${second.certificate}\n`);
  expect(mode(dir)).toBe(0o755);
});

test('a write that fails midway rejects and leaves no temporary file behind', async () => {
  const dest = new DirectoryDestination(dir);
  const first = await identity();
  await dest.write(first);
  const blocked = join(dir, 'ssh_key-cert.pub');
  rmSync(blocked);
  // A directory where the certificate should go: the rename onto it fails.
  mkdirSync(blocked);
  writeFileSync(join(blocked, 'keep'), '');
  await expect(dest.write(await identity())).rejects.toThrow();
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

test('the memory destination keeps the same artifacts and can be told to fail', async () => {
  const dest = new MemoryDestination();
  const id = await identity();
  dest.failNext();
  await expect(dest.write(id)).rejects.toThrow('write failed');
  await dest.write(id);
  expect([...dest.files.keys()]).toEqual(['known_hosts', 'ssh_key', 'ssh_key-cert.pub']);
  expect(dest.files.get('ssh_key')?.mode).toBe(0o600);
});

test('the state store round-trips an identity in one 0600 file inside a 0700 dir', async () => {
  const { ensureInternalPki } = await import('@mezite/platform');
  const pki = await ensureInternalPki({ dir: join(dir, 'pki'), names: ['auth-server'] });
  const store = new DirectoryStateStore(join(dir, 'state'));
  expect(await store.load()).toBeUndefined();
  const id = await identity();
  await store.save({ authServer: 'a:3025', caCertPem: pki.caCertPem, identity: id });
  expect(mode(join(dir, 'state'))).toBe(0o700);
  expect(mode(join(dir, 'state', STATE_FILE))).toBe(0o600);
  const back = await store.load();
  expect(back?.authServer).toBe('a:3025');
  expect(back?.caCertPem).toBe(pki.caCertPem);
  expect(back?.identity).toMatchObject({ botName: 'test', instanceId: issuer.instanceId, generation: id.generation, certificate: id.certificate, principals: ['deploy'], validBefore: id.validBefore });
  expect(back?.identity?.privateKey.export({ type: 'pkcs8', format: 'pem' })).toBe(id.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const file = JSON.parse(readFileSync(join(dir, 'state', STATE_FILE), 'utf8')) as Record<string, unknown>;
  expect(file).toMatchObject({ version: 1, ca_pin: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), generation: id.generation });
});

test('a corrupt or mismatched state file is refused with a message naming it', async () => {
  const store = new DirectoryStateStore(dir);
  writeFileSync(join(dir, STATE_FILE), '{"version":1}');
  await expect(store.load()).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringContaining(`${join(dir, STATE_FILE)} is not a valid mezd identity state (auth_server is missing)`) });
  writeFileSync(join(dir, STATE_FILE), 'not json');
  await expect(store.load()).rejects.toMatchObject({ code: 'FailedPrecondition' });
});

describe('the state file across versions, and its pending key', () => {
  let caCertPem: string;
  beforeAll(async () => {
    const { ensureInternalPki } = await import('@mezite/platform');
    caCertPem = (await ensureInternalPki({ dir: mkdtempSync(join(tmpdir(), 'mezd-state-pki-')), names: ['auth-server'] })).caCertPem;
  });
  const pemOf = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' });

  test('an identity.json written by an older mezd (no instance_id, join_token_sha256 or pending) still loads', async () => {
    const id = await identity();
    // Exactly the keys the previous mezd wrote.
    const old = {
      version: 1, auth_server: 'a:3025', ca_cert: caCertPem, ca_pin: 'sha256:' + '0'.repeat(64), bot_name: 'test', generation: id.generation, certificate: id.certificate,
      private_key: pemOf(id.privateKey), principals: ['deploy'], host_cert_authorities: id.hostCertAuthorities, user_cert_authorities: id.userCertAuthorities,
    };
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', STATE_FILE), JSON.stringify(old));
    const back = await new DirectoryStateStore(join(dir, 'state')).load();
    expect(back).toMatchObject({ authServer: 'a:3025', caCertPem, identity: { botName: 'test', generation: id.generation, certificate: id.certificate } });
    // The instance comes from the certificate's claims; nothing says which token it came from, and nothing is pending.
    expect(back?.identity?.instanceId).toBe(issuer.instanceId);
    expect(back?.joinTokenHash).toBeUndefined();
    expect(back?.pending).toBeUndefined();
  });

  test('a state with only a pending join key (before the first join succeeded) round-trips, and pins no CA', async () => {
    const store = new DirectoryStateStore(join(dir, 'state'));
    const key = generateBotKey();
    await store.save({ authServer: 'a:3025', pending: { kind: 'join', joinTokenHash: joinTokenHash('tok-bot-x'), privateKey: key } });
    const file = JSON.parse(readFileSync(join(dir, 'state', STATE_FILE), 'utf8')) as Record<string, unknown>;
    expect(file).toEqual({ version: 1, auth_server: 'a:3025', pending: { for: 'join', join_token_sha256: joinTokenHash('tok-bot-x'), private_key: pemOf(key) } });
    expect(JSON.stringify(file)).not.toContain('tok-bot-x');
    const back = await store.load();
    expect(back).toEqual({ authServer: 'a:3025', pending: { kind: 'join', joinTokenHash: joinTokenHash('tok-bot-x'), privateKey: expect.anything() } });
    expect(pemOf(back!.pending!.privateKey)).toBe(pemOf(key));
  });

  test('an identity with its token hash and a pending renewal key round-trips', async () => {
    const store = new DirectoryStateStore(join(dir, 'state'));
    const id = await identity();
    const key = generateBotKey();
    const serial = parseCertificate(id.certificate).serial.toString();
    await store.save({ authServer: 'a:3025', caCertPem, identity: id, joinTokenHash: joinTokenHash(issuer.joinToken), pending: { kind: 'renew', serial, privateKey: key } });
    expect(JSON.parse(readFileSync(join(dir, 'state', STATE_FILE), 'utf8'))).toMatchObject({ instance_id: issuer.instanceId, join_token_sha256: joinTokenHash(issuer.joinToken), pending: { for: 'renew', certificate_serial: serial } });
    const back = await store.load();
    expect(back).toMatchObject({ joinTokenHash: joinTokenHash(issuer.joinToken), identity: { instanceId: issuer.instanceId, generation: 1 }, pending: { kind: 'renew', serial } });
    expect(pemOf(back!.pending!.privateKey)).toBe(pemOf(key));
  });

  test.each([
    ['a pending key for something else', (k: string) => ({ pending: { for: 'rotate', private_key: k } }), 'pending.for "rotate" is neither "join" nor "renew"'],
    ['a pending join without its token hash', (k: string) => ({ pending: { for: 'join', private_key: k } }), 'pending.join_token_sha256 is not a SHA-256 hex digest'],
    ['a pending renewal without a serial', (k: string) => ({ pending: { for: 'renew', certificate_serial: '-1', private_key: k } }), 'pending.certificate_serial is not a serial number'],
    ['a pending key that is not a key', () => ({ pending: { for: 'join', join_token_sha256: '0'.repeat(64) } }), 'pending.private_key is missing'],
    ['a bad token hash', () => ({ join_token_sha256: 'tok-bot-plaintext' }), 'join_token_sha256 is not a SHA-256 hex digest'],
  ])('refuses %s', async (_name, extraFor, message) => {
    const extra = extraFor(pemOf(generateBotKey()) as string);
    const id = await identity();
    const store = new DirectoryStateStore(dir);
    await store.save({ authServer: 'a:3025', caCertPem, identity: id });
    const file = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, STATE_FILE), JSON.stringify({ ...file, ...extra }));
    await expect(store.load()).rejects.toMatchObject({ code: 'FailedPrecondition', message: expect.stringContaining(message) });
  });
});
