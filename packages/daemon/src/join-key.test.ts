import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@mezite/identity';
import { formatPublicKey, parseBoundKeypairCredential, parsePublicKey, parsePublicKeyBlob, verifyBoundKeypairStatement } from '@mezite/ssh';
import { generateKeyPairSync } from 'node:crypto';
import { JOIN_KEY_FILE, JoinKeyring, loadOrCreateJoinKey, NEXT_JOIN_KEY_FILE } from './join-key';

describe('join key', () => {
  const dir = () => join(mkdtempSync(join(tmpdir(), 'mezd-jk-')), 'data');
  const logs: Array<Record<string, string>> = [];
  const log = (_m: string, f: Record<string, string>) => logs.push(f);

  it('is made on first start (0600, public half beside it) and read back afterwards', async () => {
    const d = dir();
    const k = await loadOrCreateJoinKey(d, log);
    expect(statSync(join(d, JOIN_KEY_FILE)).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(d, `${JOIN_KEY_FILE}.pub`), 'utf8').trim();
    expect(pub).toBe(formatPublicKey(k));
    expect(logs.pop()?.public_key).toBe(pub);
    const again = await loadOrCreateJoinKey(d, log);
    expect(formatPublicKey(again)).toBe(pub);
  });

  it('refuses a join key other users can read', async () => {
    const d = dir();
    await loadOrCreateJoinKey(d, log);
    chmodSync(join(d, JOIN_KEY_FILE), 0o640);
    await expect(loadOrCreateJoinKey(d, log)).rejects.toThrow(/readable by other users/);
  });

  it('reads a key ssh-keygen made', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mezd-jk-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, JOIN_KEY_FILE)]);
    const k = await loadOrCreateJoinKey(d, log);
    expect(formatPublicKey(k)).toBe(readFileSync(join(d, `${JOIN_KEY_FILE}.pub`), 'utf8').split(' ').slice(0, 2).join(' '));
  });

  it('signs a fresh statement for the key to certify, bound to the audience', async () => {
    const d = dir();
    await loadOrCreateJoinKey(d, log);
    const clock = new FakeClock(new Date());
    const cert = formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const make = (await JoinKeyring.load(d, log)).credential('mezite:default/bk', clock);
    const [a, b] = [await make(cert), await make(cert)];
    expect(a).not.toBe(b);
    const p = parseBoundKeypairCredential(a);
    const s = { audience: 'mezite:default/bk', certPublicKeyBlob: parsePublicKey(cert).blob, timeMs: p.timeMs, nonce: p.nonce, joinKeyBlob: p.joinKeyBlob, newJoinKeyBlob: p.newJoinKeyBlob };
    expect(p.timeMs).toBe(clock.now().getTime());
    expect(verifyBoundKeypairStatement(s, parsePublicKeyBlob(p.joinKeyBlob), p.signature)).toBe(true);
  });

  it('rotates to join-key.next: presented with the current key, signed by both, and current once a join succeeded', async () => {
    const d = mkdtempSync(join(tmpdir(), 'mezd-jk-'));
    const old = await loadOrCreateJoinKey(d, log);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, NEXT_JOIN_KEY_FILE)]);
    const nextPub = readFileSync(join(d, `${NEXT_JOIN_KEY_FILE}.pub`), 'utf8').split(' ').slice(0, 2).join(' ');
    const ring = await JoinKeyring.load(d, log);
    const clock = new FakeClock(new Date());
    const cert = formatPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const p = parseBoundKeypairCredential(await ring.credential('mezite:default/bk', clock)(cert));
    expect(formatPublicKey(p.joinKeyBlob)).toBe(formatPublicKey(old));
    expect(formatPublicKey(p.newJoinKeyBlob)).toBe(nextPub);
    const s = { audience: 'mezite:default/bk', certPublicKeyBlob: parsePublicKey(cert).blob, timeMs: p.timeMs, nonce: p.nonce, joinKeyBlob: p.joinKeyBlob, newJoinKeyBlob: p.newJoinKeyBlob };
    expect(verifyBoundKeypairStatement(s, parsePublicKeyBlob(p.joinKeyBlob), p.signature, parsePublicKeyBlob(p.newJoinKeyBlob), p.newKeySignature)).toBe(true);
    await ring.joined();
    expect(existsSync(join(d, NEXT_JOIN_KEY_FILE))).toBe(false);
    expect(readFileSync(join(d, `${JOIN_KEY_FILE}.pub`), 'utf8').split(' ').slice(0, 2).join(' ')).toBe(nextPub);
    const after = parseBoundKeypairCredential(await ring.credential('mezite:default/bk', clock)(cert));
    expect(formatPublicKey(after.joinKeyBlob)).toBe(nextPub);
    expect(after.newJoinKeyBlob.length).toBe(0);
  });
});
