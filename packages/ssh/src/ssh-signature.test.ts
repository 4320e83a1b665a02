import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCertificate, verifyCertificateSignature } from './parse-certificate';
import { encodePublicKey, parsePublicKeyBlob } from './public-key';
import { sshSigner, verifySshSignature } from './ssh-signature';
import { KeygenWorkspace } from './test-openssh';
import { SshReader, SshWriter } from './wire';

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

describe('RSA CA signature algorithms (ssh-keygen -t)', () => {
  const ca = ws.generate('rsa', 2048, 'ca');
  const subject = ws.file(ws.generate('ed25519').publicLine, 'subject.pub');
  it.each([
    ['rsa-sha2-512', true],
    ['rsa-sha2-256', true],
    // SHA-1: OpenSSH itself refuses it since 8.8, and so do we.
    ['ssh-rsa', false],
  ])('%s verifies: %s', (alg, ok) => {
    ws.run('-q', '-s', ca.path, '-t', alg, '-I', 'id', '-n', 'p', '-V', '+1h', subject);
    const cert = parseCertificate(readFileSync(subject.replace(/\.pub$/, '-cert.pub'), 'utf8'));
    expect(cert.signatureAlgorithm).toBe(alg);
    expect(verifyCertificateSignature(cert)).toBe(ok);
  });
});

describe('verifySshSignature', () => {
  const data = Buffer.from('signed bytes');
  const pair = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve });
  const p256 = pair('P-256');
  const p384 = pair('P-384');
  const pub = (k: typeof p256.publicKey) => parsePublicKeyBlob(encodePublicKey(k));
  const sig = sshSigner(p256.privateKey).sign(data);
  const rewrap = (f: (alg: string, inner: Buffer) => Buffer) => {
    const r = new SshReader(sig);
    return f(r.text(), r.string());
  };

  it.each([
    ['the real signature', () => sig, true],
    ['another algorithm name', () => rewrap((_a, inner) => new SshWriter().string('ecdsa-sha2-nistp384').string(inner).toBuffer()), false],
    ['trailing bytes after the signature', () => Buffer.concat([sig, Buffer.of(0)]), false],
    ['r of zero', () => new SshWriter().string('ecdsa-sha2-nistp256').string(new SshWriter().mpint(0n).mpint(1n).toBuffer()).toBuffer(), false],
    ['r wider than the curve', () => new SshWriter().string('ecdsa-sha2-nistp256').string(new SshWriter().mpint(1n << 300n).mpint(1n).toBuffer()).toBuffer(), false],
    ['a negative s', () => new SshWriter().string('ecdsa-sha2-nistp256').string(new SshWriter().mpint(5n).mpint(-5n).toBuffer()).toBuffer(), false],
    ['garbage', () => Buffer.from('garbage'), false],
  ])('%s → %s', (_name, make, ok) => {
    expect(verifySshSignature(pub(p256.publicKey), data, make())).toBe(ok);
  });

  it('a P-384 key signs with SHA-384 under its own name', () => {
    const s = sshSigner(p384.privateKey);
    expect(s.algorithm).toBe('ecdsa-sha2-nistp384');
    expect(verifySshSignature(pub(p384.publicKey), data, s.sign(data))).toBe(true);
    expect(verifySshSignature(pub(p256.publicKey), data, s.sign(data))).toBe(false);
  });

  it('caches the signer per key', () => {
    expect(sshSigner(p256.privateKey)).toBe(sshSigner(p256.privateKey));
  });
});
