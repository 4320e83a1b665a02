import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as sshpk from 'sshpk';
import { generateCaKey } from './ca-key';
import { parseCertificate, signCertificate, type SignCertificateOptions, verifyCertificateSignature } from './certificate';
import { fingerprintSha256, formatPublicKey, parsePublicKey } from './public-key';
import { KeygenWorkspace, sshpkVerifiesCertificate } from './test-openssh';
import { SshReader } from './wire';

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

const validAfter = new Date('2024-01-01T00:00:00Z');
const validBefore = new Date('2024-01-02T00:00:00Z');

const cas: [string, () => KeyObject, string, string][] = [
  ['ECDSA P-256', () => generateCaKey('ecdsa-p256').privateKey, 'ECDSA', 'ecdsa-sha2-nistp256'],
  ['Ed25519', () => generateCaKey('ed25519').privateKey, 'ED25519', 'ssh-ed25519'],
  ['ECDSA P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'ECDSA', 'ecdsa-sha2-nistp384'],
  ['ECDSA P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, 'ECDSA', 'ecdsa-sha2-nistp521'],
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RSA', 'rsa-sha2-512'],
];
const subjects: [string, number | undefined, string][] = [
  ['ed25519', undefined, 'ED25519-CERT'],
  ['ecdsa', 256, 'ECDSA-CERT'],
  ['ecdsa', 384, 'ECDSA-CERT'],
  ['ecdsa', 521, 'ECDSA-CERT'],
  ['rsa', 2048, 'RSA-CERT'],
];
const subjectKeys = new Map<string, { publicLine: string }>();
/** One ssh-keygen key per subject type, shared by every CA (RSA keys are slow to make). */
function subjectKey(type: string, bits: number | undefined): { publicLine: string } {
  const id = `${type}${bits ?? ''}`;
  if (!subjectKeys.has(id)) subjectKeys.set(id, ws.generate(type, bits));
  return subjectKeys.get(id) as { publicLine: string };
}
const table = cas.flatMap(([caName, ...ca]) => subjects.map(([t, bits, short]) => [caName, `${t}${bits ?? ''}`, ...ca, t, bits, short] as const));

function baseOptions(caKey: KeyObject, subjectLine: string): SignCertificateOptions {
  return {
    ca: { key: caKey },
    subjectKey: parsePublicKey(subjectLine),
    type: 'user',
    serial: 18446744073709551615n,
    keyId: 'bot:deploy session 7',
    principals: ['deploy', 'ubuntu', 'bot-deploy@example.com'],
    validAfter,
    validBefore,
    criticalOptions: { 'source-address': '10.0.0.0/8,192.168.1.1', 'force-command': '/usr/bin/backup --now' },
    extensions: { 'permit-pty': '', 'permit-agent-forwarding': '', 'permit-X11-forwarding': '', 'login@mezite.dev': 'deploy' },
  };
}

describe.each(table)('CA %s signing a %s key', (_ca, _subject, makeCa, caShort, sigAlg, subjType, bits, certShort) => {
  const caKey = makeCa();
  const caLine = formatPublicKey(caKey, 'mezite user CA');
  const subject = subjectKey(subjType, bits);
  const cert = signCertificate(baseOptions(caKey, subject.publicLine));
  const path = ws.file(`${cert.line}\n`);

  it('is accepted by ssh-keygen -L with every field as signed', () => {
    const out = ws.run('-L', '-f', path);
    const caFp = fingerprintSha256(parsePublicKey(caLine).blob);
    expect(out).toContain('Type: ' + parseCertificate(cert.line).keyType + ' user certificate');
    expect(out).toContain(`Public key: ${certShort} ${ws.fingerprint(subject.publicLine)}`);
    expect(out).toContain(`Signing CA: ${caShort} ${caFp} (using ${sigAlg})`);
    expect(out).toContain('Key ID: "bot:deploy session 7"');
    expect(out).toContain('Serial: 18446744073709551615');
    expect(out).toContain('Valid: from 2024-01-01T00:00:00 to 2024-01-02T00:00:00');
    expect(out).toMatch(/Principals: \n\s+deploy\n\s+ubuntu\n\s+bot-deploy@example.com\n/);
    expect(out).toMatch(/Critical Options: \n\s+force-command \/usr\/bin\/backup --now\n\s+source-address 10.0.0.0\/8,192.168.1.1\n/);
    // Byte order, not locale order: "X11" sorts before "agent"; a valued extension is a wrapped string.
    expect(out).toMatch(
      /Extensions: \n\s+login@mezite.dev UNKNOWN OPTION: 000000066465706c6f79 \(len 10\)\n\s+permit-X11-forwarding\n\s+permit-agent-forwarding\n\s+permit-pty\n/,
    );
  });

  it('has the fingerprint ssh-keygen -lf prints for it', () => {
    expect(ws.run('-l', '-E', 'sha256', '-f', path).split(' ')[1]).toBe(fingerprintSha256(parseCertificate(cert.line).subjectKey.blob));
  });

  it('is parsed and signature-verified by sshpk', () => {
    expect(sshpkVerifiesCertificate(cert.line, caLine)).toBe(true);
    expect(sshpkVerifiesCertificate(cert.line, formatPublicKey(makeCa()))).toBe(false);
    const theirs = sshpk.parseCertificate(cert.line.split(' ').slice(0, 2).join(' '), 'openssh');
    expect(theirs.subjects.map((s) => s.toString())).toEqual(['deploy', 'ubuntu', 'bot-deploy@example.com'].map((u) => `UID=${u}`));
    expect(theirs.validFrom.toISOString()).toBe(validAfter.toISOString());
    expect(theirs.validUntil.toISOString()).toBe(validBefore.toISOString());
  });

  it('parses back to what was signed and verifies', () => {
    const parsed = parseCertificate(cert.line);
    const opts = baseOptions(caKey, subject.publicLine);
    expect(parsed).toMatchObject({
      type: 'user',
      serial: opts.serial,
      keyId: opts.keyId,
      principals: opts.principals,
      validAfter,
      validBefore,
      validAfterSeconds: 1704067200n,
      criticalOptions: opts.criticalOptions,
      extensions: opts.extensions,
      signatureAlgorithm: sigAlg,
      comment: opts.keyId,
    });
    expect(parsed.subjectKey.blob).toEqual(parsePublicKey(subject.publicLine).blob);
    expect(parsed.signatureKey.blob).toEqual(parsePublicKey(caLine).blob);
    expect(parsed.nonce).toHaveLength(32);
    expect(parsed.blob).toEqual(cert.blob);
    expect(verifyCertificateSignature(parsed)).toBe(true);
  });
});

describe('a host certificate with no options', () => {
  it('shows as a host certificate with empty option lists', () => {
    const ca = generateCaKey('ed25519');
    const host = ws.generate('ed25519');
    const cert = signCertificate({
      ca: { key: ca.privateKey },
      subjectKey: parsePublicKey(host.publicLine).blob,
      type: 'host',
      serial: 0n,
      keyId: 'host web-1',
      principals: ['web-1.internal', '10.0.0.7'],
      validAfter,
      validBefore,
    });
    const out = ws.run('-L', '-f', ws.file(cert.line));
    expect(out).toContain('ssh-ed25519-cert-v01@openssh.com host certificate');
    expect(out).toMatch(/Critical Options: \(none\)\n\s+Extensions: \(none\)/);
    const parsed = parseCertificate(cert.blob);
    expect(parsed).toMatchObject({ type: 'host', serial: 0n, criticalOptions: {}, extensions: {}, comment: '' });
    expect(verifyCertificateSignature(parsed)).toBe(true);
  });
});

describe('signCertificate refuses', () => {
  const ca = generateCaKey('ecdsa-p256');
  const subject = formatPublicKey(generateKeyPairSync('ed25519').publicKey);
  const ok = (): SignCertificateOptions => ({ ...baseOptions(ca.privateKey, subject), criticalOptions: {}, extensions: {} });
  const cases: [string, (o: SignCertificateOptions) => void, RegExp][] = [
    ['no principals (OpenSSH reads that as "any")', (o) => (o.principals = []), /at least one principal/],
    ['257 principals', (o) => (o.principals = Array.from({ length: 257 }, (_, i) => `p${i}`)), /at most 256/],
    ['an empty principal', (o) => (o.principals = ['a', '']), /principal must be a non-empty/],
    ['a principal with a newline', (o) => (o.principals = ['a\nb']), /control characters/],
    ['an empty key id', (o) => (o.keyId = ''), /key id/],
    ['a key id with a newline', (o) => (o.keyId = 'a\nb'), /control characters/],
    ['validBefore equal to validAfter', (o) => (o.validBefore = o.validAfter), /validBefore must be after/],
    ['an invalid date', (o) => (o.validAfter = new Date(NaN)), /valid date/],
    ['a date before 1970', (o) => (o.validAfter = new Date(-1000)), /valid date/],
    ['a negative serial', (o) => (o.serial = -1n), /uint64/],
    ['a serial of 2^64', (o) => (o.serial = 1n << 64n), /uint64/],
    ['a number serial', (o) => (o.serial = 5 as unknown as bigint), /bigint/],
    ['an unknown type', (o) => (o.type = 'admin' as 'user'), /"user" or "host"/],
    ['a prototype name as type', (o) => (o.type = 'toString' as 'user'), /"user" or "host"/],
    ['a short nonce', (o) => (o.nonce = Buffer.alloc(8)), /nonce/],
    ['an option name with a space', (o) => (o.extensions = { 'permit pty': '' }), /printable ASCII/],
    ['an empty option name', (o) => (o.criticalOptions = { '': 'x' }), /printable ASCII/],
    ['an option value with a newline', (o) => (o.criticalOptions = { 'force-command': 'a\nb' }), /control character/],
    ['a subject blob with trailing bytes', (o) => (o.subjectKey = Buffer.concat([parsePublicKey(subject).blob, Buffer.of(0)])), /trailing/],
    ['a certificate as the subject', (o) => (o.subjectKey = parseCertificate(signCertificate(ok()).line).blob), /unsupported key type/],
    ['a DSA subject', (o) => (o.subjectKey = parsePublicKeyBlobLoose(ws.generate('dsa').publicLine)), /DSA/],
    ['a hand-made certificate type as subject', (o) => (o.subjectKey = { ...parsePublicKey(subject), type: 'ssh-ed25519-cert-v01@openssh.com' as 'ssh-ed25519' }), /not a supported public key/],
    ['no subject key', (o) => (o.subjectKey = undefined as unknown as Buffer), /not a supported public key/],
    ['a public key as the CA', (o) => (o.ca = { key: parsePublicKey(ca.publicKeyLine).key }), /private key/],
    ['no CA key', (o) => (o.ca = { key: undefined as unknown as KeyObject }), /private key/],
    ['an X25519 CA', (o) => (o.ca = { key: generateKeyPairSync('x25519').privateKey }), /unsupported key/],
  ];
  it.each(cases)('%s', (_name, change, message) => {
    const o = ok();
    change(o);
    expect(() => signCertificate(o)).toThrow(expect.objectContaining({ code: 'InvalidArgument', message: expect.stringMatching(message) }));
  });
});

describe('ECDSA signatures whose r or s is short', () => {
  it('encode as minimal mpints that ssh-keygen and our verifier accept', () => {
    const ca = generateCaKey('ecdsa-p256');
    const opts = baseOptions(ca.privateKey, formatPublicKey(generateKeyPairSync('ed25519').publicKey));
    const found = new Set<string>();
    for (let i = 0; i < 5000 && found.size < 2; i++) {
      const cert = signCertificate(opts);
      const parsed = parseCertificate(cert.blob);
      const sig = new SshReader(parsed.signature);
      sig.text();
      const inner = new SshReader(sig.string());
      const [r, s] = [inner.string(), inner.string()];
      const kind = r.length < 32 ? 'r' : s.length < 32 ? 's' : undefined;
      if (!kind || found.has(kind)) continue;
      found.add(kind);
      expect(verifyCertificateSignature(parsed)).toBe(true);
      expect(ws.run('-L', '-f', ws.file(cert.line))).toContain('(using ecdsa-sha2-nistp256)');
      expect(sshpkVerifiesCertificate(cert.line, ca.publicKeyLine)).toBe(true);
    }
    expect(found.size).toBeGreaterThan(0);
  });
});

/** The blob of a key line, without checking the key type (to hand DSA to the signer). */
function parsePublicKeyBlobLoose(line: string): Buffer {
  return Buffer.from(line.split(' ')[1] ?? '', 'base64');
}
