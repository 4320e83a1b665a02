import { generateKeyPairSync } from 'node:crypto';
import { isMeziteError } from '@mezite/identity';
import { generateCaKey } from './ca-key';
import { parseCertificate, signCertificate, verifyCertificateSignature } from './certificate';
import { encodePublicKey, parsePublicKey, parsePublicKeyBlob } from './public-key';
import { SshWriter } from './wire';

/**
 * Parsers run on bytes from clients, so on any input they either return or throw
 * InvalidArgument — never a RangeError, TypeError or a hang. The generator is seeded,
 * so a failure names an input that reproduces.
 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn`; true when it returned, false on InvalidArgument; anything else fails the test. */
function survives(fn: () => unknown, input: () => string): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (isMeziteError(err, 'InvalidArgument')) return false;
    throw new Error(`unexpected ${String(err)} for input ${input()}`);
  }
}

const random = rng(0x5eed);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
const int = (n: number) => Math.floor(random() * n);

const edCa = generateCaKey('ed25519').privateKey;
const ecCa = generateCaKey('ecdsa-p256').privateKey;
const certFor = (ca: typeof edCa, subject: Buffer) =>
  signCertificate({
    ca: { key: ca },
    subjectKey: subject,
    type: 'user',
    serial: 77n,
    keyId: 'fuzz',
    principals: ['root', 'admin'],
    validAfter: new Date(0),
    validBefore: new Date(86_400_000),
    criticalOptions: { 'force-command': '/bin/true' },
    extensions: { 'permit-pty': '', 'login@mezite.dev': 'root' },
  }).blob;
const certs = [
  certFor(edCa, encodePublicKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey)),
  certFor(ecCa, encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)),
  certFor(ecCa, encodePublicKey(generateKeyPairSync('ed25519').publicKey)),
];
const prefixes = ['ssh-ed25519-cert-v01@openssh.com', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa'];

describe('parsers on hostile input', () => {
  it('2000 random inputs only ever give InvalidArgument', () => {
    for (let i = 0; i < 2000; i++) {
      const prefix = prefixes[int(prefixes.length)] as string;
      // Half the inputs start with a real type name so they get past the first field.
      const input = i % 2 ? bytes(int(700)) : Buffer.concat([new SshWriter().string(prefix).toBuffer(), bytes(int(700))]);
      const show = () => input.toString('hex');
      survives(() => parseCertificate(input), show);
      survives(() => parsePublicKeyBlob(input), show);
      survives(() => parseCertificate(`${prefix} ${input.toString('base64')} c`), show);
      survives(() => parsePublicKey(`${prefix} ${input.toString('base64')}`), show);
      const text = String.fromCharCode(...Array.from({ length: int(200) }, () => int(i % 3 ? 128 : 0x3000)));
      survives(() => parsePublicKey(text), () => JSON.stringify(text));
      survives(() => parseCertificate(text), () => JSON.stringify(text));
    }
  });

  it('every truncation of a valid certificate or key is refused', () => {
    for (const blob of [...certs, parseCertificate(certs[0] as Buffer).subjectKey.blob]) {
      for (let n = 0; n < blob.length; n++) {
        expect(survives(() => parseCertificate(blob.subarray(0, n)), () => `${n}`)).toBe(false);
        survives(() => parsePublicKeyBlob(blob.subarray(0, n)), () => `${n}`);
      }
    }
  });

  it('mutated certificates either fail to parse or fail to verify', () => {
    const lengths = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, 65536];
    let parsed = 0;
    for (let i = 0; i < 2000; i++) {
      const blob = Buffer.from(certs[i % certs.length] as Buffer);
      const at = int(blob.length - 3);
      if (i % 2) blob.writeUInt32BE(lengths[int(lengths.length)] as number, at);
      else for (let k = 0; k <= int(3); k++) blob[int(blob.length)] = int(256);
      if (blob.equals(certs[i % certs.length] as Buffer)) continue;
      let cert: ReturnType<typeof parseCertificate> | undefined;
      survives(() => (cert = parseCertificate(blob)), () => blob.toString('hex'));
      if (cert) {
        parsed++;
        expect(verifyCertificateSignature(cert)).toBe(false);
      }
    }
    expect(parsed).toBeGreaterThan(100);
  });

  it('non-string, non-Buffer input is InvalidArgument', () => {
    for (const bad of [undefined, null, 42, {}, []]) {
      expect(survives(() => parseCertificate(bad as unknown as string), () => String(bad))).toBe(false);
      expect(survives(() => parsePublicKey(bad as unknown as string), () => String(bad))).toBe(false);
    }
  });
});
