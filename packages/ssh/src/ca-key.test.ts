import { generateKeyPairSync } from 'node:crypto';
import { exportCaPrivateKey, generateCaKey, importCaPrivateKey } from './ca-key';
import { parseCertificate, signCertificate, verifyCertificateSignature } from './certificate';
import { encodePublicKey, fingerprintSha256, formatPublicKey, parsePublicKey } from './public-key';
import { KeygenWorkspace } from './test-openssh';

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

describe.each([
  ['ecdsa-p256', 'ecdsa-sha2-nistp256'],
  ['ed25519', 'ssh-ed25519'],
] as const)('generateCaKey(%s)', (alg, type) => {
  const ca = generateCaKey(alg);

  it('publishes a public line OpenSSH reads, with the same fingerprint', () => {
    const parsed = parsePublicKey(ca.publicKeyLine);
    expect(parsed.type).toBe(type);
    expect(ca.publicKeyLine).toBe(`${type} ${parsed.blob.toString('base64')}`);
    expect(ws.fingerprint(ca.publicKeyLine)).toBe(fingerprintSha256(parsed.blob));
    expect(generateCaKey(alg, 'mezite user CA').publicKeyLine).toMatch(/ mezite user CA$/);
  });

  it('survives a PKCS#8 round trip and still signs certificates that verify', () => {
    const der = exportCaPrivateKey(ca.privateKey);
    expect(der.subarray(0, 1)).toEqual(Buffer.of(0x30));
    const key = importCaPrivateKey(der);
    expect(encodePublicKey(key)).toEqual(parsePublicKey(ca.publicKeyLine).blob);
    const cert = signCertificate({
      ca: { key },
      subjectKey: parsePublicKey(formatPublicKey(generateKeyPairSync('ed25519').publicKey)),
      type: 'host',
      serial: 1n,
      keyId: 'h',
      principals: ['h.example'],
      validAfter: new Date(0),
      validBefore: new Date(3600_000),
    });
    expect(verifyCertificateSignature(parseCertificate(cert.line))).toBe(true);
  });
});

describe('CA key import and export refuse', () => {
  it.each([
    ['garbage', () => importCaPrivateKey(Buffer.from('not a key'))],
    ['an empty buffer', () => importCaPrivateKey(Buffer.alloc(0))],
    ['an X25519 key', () => importCaPrivateKey(generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'der' }))],
    ['a secp256k1 key', () => importCaPrivateKey(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'pkcs8', format: 'der' }))],
    ['exporting a public key', () => exportCaPrivateKey(generateKeyPairSync('ed25519').publicKey)],
    ['an unknown algorithm', () => generateCaKey('rsa' as 'ed25519')],
  ])('%s', (_name, fn) => {
    expect(fn).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
  });
});
