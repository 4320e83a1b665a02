import { createSecretKey, ECDH, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import * as sshpk from 'sshpk';
import { encodePublicKey, fingerprintSha256, formatPublicKey, parsePublicKey, parsePublicKeyBlob } from './public-key';
import { KeygenWorkspace } from './test-openssh';
import { SshWriter } from './wire';

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isMeziteError(err, 'InvalidArgument')) return err.message;
    throw err;
  }
  throw new Error('expected InvalidArgument, nothing was thrown');
}

const b64 = (b: Buffer) => b.toString('base64');

describe('keys made by ssh-keygen', () => {
  const cases: [string, number | undefined, string][] = [
    ['ed25519', undefined, 'ssh-ed25519'],
    ['ecdsa', 256, 'ecdsa-sha2-nistp256'],
    ['ecdsa', 384, 'ecdsa-sha2-nistp384'],
    ['ecdsa', 521, 'ecdsa-sha2-nistp521'],
    ['rsa', 2048, 'ssh-rsa'],
    ['rsa', 3072, 'ssh-rsa'],
  ];
  it.each(cases)('parses %s %s with the fingerprint ssh-keygen prints', (t, bits, type) => {
    const { publicLine } = ws.generate(t, bits, 'bot@host with spaces');
    const key = parsePublicKey(publicLine);
    expect(key.type).toBe(type);
    expect(key.comment).toBe('bot@host with spaces');
    expect(key.key.type).toBe('public');
    expect(fingerprintSha256(key.blob)).toBe(ws.fingerprint(publicLine));
    // Node's view of the key, encoded again, is the same blob.
    expect(encodePublicKey(key.key)).toEqual(key.blob);
    expect(formatPublicKey(key.key, key.comment)).toBe(publicLine.trimEnd());
  });
});

describe('keys made by Node', () => {
  const cases: [string, () => KeyObject][] = [
    ['ed25519', () => generateKeyPairSync('ed25519').publicKey],
    ['P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
    ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
  ];
  it.each(cases)('%s encodes to a line ssh-keygen and sshpk read as the same key', (_name, make) => {
    const key = make();
    const line = formatPublicKey(key, 'made-by-node');
    const parsed = parsePublicKey(line);
    expect(ws.fingerprint(line)).toBe(fingerprintSha256(parsed.blob));
    const theirs = sshpk.parseKey(line, 'ssh');
    expect(theirs.fingerprint('sha256').toString()).toBe(fingerprintSha256(parsed.blob));
    const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
    expect(spki(parsed.key)).toEqual(spki(key));
    expect(Buffer.from(theirs.toString('pkcs8').replace(/-----[^-]+-----|\s/g, ''), 'base64')).toEqual(spki(key));
  });

  it('encodes a private key as its public half', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(encodePublicKey(privateKey)).toEqual(encodePublicKey(publicKey));
  });

  it('refuses keys SSH cannot carry', () => {
    expect(invalidMessage(() => encodePublicKey(generateKeyPairSync('x25519').publicKey))).toMatch(/unsupported/);
    expect(invalidMessage(() => encodePublicKey(generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey))).toMatch(/unsupported/);
    expect(invalidMessage(() => encodePublicKey(generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey))).toMatch(/unsupported/);
    expect(invalidMessage(() => encodePublicKey(createSecretKey(Buffer.alloc(32))))).toMatch(/unsupported/);
    expect(invalidMessage(() => encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey))).toMatch(/unsupported/);
    expect(invalidMessage(() => encodePublicKey(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey))).toMatch(/2048/);
  });
});

describe('line syntax', () => {
  const ed = formatPublicKey(generateKeyPairSync('ed25519').publicKey);
  const [type, data] = ed.split(' ') as [string, string];
  it.each([
    ['no comment', `${type} ${data}`, ''],
    ['trailing newline', `${type} ${data} me@host\n`, 'me@host'],
    ['CRLF', `${type} ${data} me@host\r\n`, 'me@host'],
    ['tabs and leading space', `  ${type}\t${data}\t me  you `, 'me  you'],
  ])('accepts %s', (_name, line, comment) => {
    const key = parsePublicKey(line);
    expect(key.comment).toBe(comment);
    expect(b64(key.blob)).toBe(data);
  });
});

describe('refused public keys', () => {
  const ed = parsePublicKeyBlob(encodePublicKey(generateKeyPairSync('ed25519').publicKey));
  const p256 = parsePublicKeyBlob(encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
  const q = p256.blob.subarray(p256.blob.length - 65);
  const edLine = `ssh-ed25519 ${b64(ed.blob)}`;
  // A P-256 blob is 104 bytes, so its base64 ends in one '=' and its last character
  // carries two unused bits: setting one keeps the bytes but makes the text non-canonical.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const p256b64 = b64(p256.blob);
  const last = alphabet.indexOf(p256b64.at(-2) as string);
  const nonCanonical = `${p256b64.slice(0, -2)}${alphabet[last ^ 1]}=`;
  const offCurve = Buffer.from(q);
  offCurve[64] = (offCurve[64] as number) ^ 1;
  const blob = (f: (w: SshWriter) => SshWriter) => b64(f(new SshWriter()).toBuffer());
  const rsa = (e: Buffer, n: Buffer) => `ssh-rsa ${blob((w) => w.string('ssh-rsa').unsignedMpint(e).unsignedMpint(n))}`;
  const n2048 = Buffer.alloc(256, 0xc5);

  const cases: [string, () => string, RegExp][] = [
    ['DSA', () => ws.generate('dsa').publicLine, /DSA keys are not supported/],
    ['RSA 1024', () => ws.generate('rsa', 1024).publicLine, /at least 2048 bits \(got 1024\)/],
    ['RSA 2047', () => rsa(Buffer.of(1, 0, 1), Buffer.concat([Buffer.of(0x7f), Buffer.alloc(255, 0xff)])), /at least 2048 bits/],
    ['RSA even exponent', () => rsa(Buffer.of(1, 0, 0), n2048), /exponent/],
    ['RSA exponent 1', () => rsa(Buffer.of(1), n2048), /exponent/],
    ['unknown type', () => `ssh-foo ${b64(ed.blob)}`, /unsupported key type "ssh-foo"/],
    ['certificate type', () => `ssh-ed25519-cert-v01@openssh.com ${b64(ed.blob)}`, /unsupported key type/],
    ['type mismatch', () => `ecdsa-sha2-nistp256 ${b64(ed.blob)}`, /says ecdsa-sha2-nistp256 but its blob holds ssh-ed25519/],
    ['trailing garbage in blob', () => `ssh-ed25519 ${b64(Buffer.concat([ed.blob, Buffer.of(0)]))}`, /trailing data/],
    ['truncated blob', () => `ssh-ed25519 ${b64(ed.blob.subarray(0, 40))}`, /truncated/],
    ['invalid base64 characters', () => `ssh-ed25519 ${b64(ed.blob).replace('A', '!')}`, /malformed base64/],
    ['missing padding', () => `ecdsa-sha2-nistp256 ${p256b64.replace(/=+$/, '')}`, /malformed base64/],
    ['non-canonical padding bits', () => `ecdsa-sha2-nistp256 ${nonCanonical}`, /malformed base64/],
    ['two lines', () => `${edLine}\n${edLine}`, /one line/],
    ['only a type', () => 'ssh-ed25519', /<type> <base64>/],
    ['empty', () => '', /<type> <base64>/],
    ['NUL in comment', () => `${edLine} a\0b`, /one line/],
    ['too long', () => `${edLine} ${'x'.repeat(20000)}`, /too long/],
    ['Ed25519 of 31 bytes', () => `ssh-ed25519 ${blob((w) => w.string('ssh-ed25519').string(Buffer.alloc(31)))}`, /32 bytes/],
    ['ECDSA with another curve', () => `ecdsa-sha2-nistp256 ${blob((w) => w.string('ecdsa-sha2-nistp256').string('nistp384').string(q))}`, /different curve/],
    ['ECDSA compressed point', () => `ecdsa-sha2-nistp256 ${blob((w) => w.string('ecdsa-sha2-nistp256').string('nistp256').string(Buffer.concat([Buffer.of(2), q.subarray(1, 33)])))}`, /uncompressed/],
    ['ECDSA point off the curve', () => `ecdsa-sha2-nistp256 ${blob((w) => w.string('ecdsa-sha2-nistp256').string('nistp256').string(offCurve))}`, /invalid/],
    ['hostile length', () => `ssh-ed25519 ${b64(Buffer.from('fffffff0', 'hex'))}`, /truncated|oversized/],
  ];
  it.each(cases)('%s', (_name, line, message) => {
    expect(invalidMessage(() => parsePublicKey(line()))).toMatch(message);
  });

  it('test setup: the padding cases decode to the same bytes', () => {
    expect(p256b64).toMatch(/[^=]=$/);
    expect(Buffer.from(nonCanonical, 'base64')).toEqual(p256.blob);
  });

  it('refuses a non-string', () => {
    expect(invalidMessage(() => parsePublicKey(42 as unknown as string))).toMatch(/string/);
  });
});

describe('fingerprintSha256', () => {
  it('is unpadded base64 of SHA-256 over the blob', () => {
    expect(fingerprintSha256(Buffer.from('abc'))).toBe('SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0');
  });
});

describe('EC points are checked without importing the key', () => {
  const curves: [string, string, string][] = [
    ['P-256', 'nistp256', 'prime256v1'],
    ['P-384', 'nistp384', 'secp384r1'],
    ['P-521', 'nistp521', 'secp521r1'],
  ];
  it.each(curves)('%s: a point is accepted exactly when OpenSSL accepts it', (crv, id, openssl) => {
    for (let i = 0; i < 40; i++) {
      const jwk = generateKeyPairSync('ec', { namedCurve: crv }).publicKey.export({ format: 'jwk' });
      const q = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x as string, 'base64url'), Buffer.from(jwk.y as string, 'base64url')]);
      const point = i === 0 ? q : Buffer.from(q);
      const at = 1 + ((i * 7) % (q.length - 1));
      if (i > 0) point[at] = (point[at] as number) ^ (1 << i % 8);
      let openSslAccepts = true;
      try {
        ECDH.convertKey(point, openssl, undefined, undefined, 'uncompressed');
      } catch {
        openSslAccepts = false;
      }
      const type = `ecdsa-sha2-${id}`;
      const blob = new SshWriter().string(type).string(id).string(point).toBuffer();
      let weAccept = true;
      try {
        parsePublicKeyBlob(blob);
      } catch (err) {
        if (!isMeziteError(err, 'InvalidArgument')) throw err;
        weAccept = false;
      }
      expect({ i, weAccept }).toEqual({ i, weAccept: openSslAccepts });
    }
  });
});
