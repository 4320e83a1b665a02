import { readFileSync } from 'node:fs';
import { signCertificate } from './certificate';
import { parseCertificate, verifyCertificateSignature } from './parse-certificate';
import { parsePublicKey } from './public-key';
import { KeygenWorkspace, nodeKeyFromOpenSsh, sshpkVerifiesCertificate } from './test-openssh';

const ws = new KeygenWorkspace();
afterAll(() => ws.cleanup());

/** Certificates signed by stock ssh-keygen, read by our parser and rebuilt by our signer. */
describe.each([
  ['ed25519', undefined, 'ssh-ed25519'],
  ['ecdsa', 256, 'ecdsa-sha2-nistp256'],
  ['rsa', 2048, 'rsa-sha2-512'],
])('a certificate ssh-keygen signed with a %s CA', (caType, caBits, sigAlg) => {
  const ca = ws.generate(caType, caBits, 'ca');
  const subject = ws.generate('ecdsa', 384, 'subject');
  const subjectPath = ws.file(subject.publicLine, 'subject.pub');
  ws.run(
    '-q', '-s', ca.path, '-I', 'ops key', '-n', 'alice,bob', '-z', '987654321', '-V', '20240101000000:20240102000000',
    '-O', 'clear', '-O', 'force-command=/bin/true', '-O', 'source-address=10.0.0.0/8', '-O', 'permit-pty',
    '-O', 'permit-X11-forwarding', '-O', 'extension:login@mezite.dev=alice', '-O', 'critical:verify-required',
    subjectPath,
  );
  const line = readFileSync(subjectPath.replace(/\.pub$/, '-cert.pub'), 'utf8');
  const cert = parseCertificate(line);

  it('parses every field', () => {
    expect(cert).toMatchObject({
      keyType: 'ecdsa-sha2-nistp384-cert-v01@openssh.com',
      serial: 987654321n,
      type: 'user',
      keyId: 'ops key',
      principals: ['alice', 'bob'],
      validAfter: new Date('2024-01-01T00:00:00Z'),
      validBefore: new Date('2024-01-02T00:00:00Z'),
      criticalOptions: { 'force-command': '/bin/true', 'source-address': '10.0.0.0/8', 'verify-required': '' },
      extensions: { 'login@mezite.dev': 'alice', 'permit-X11-forwarding': '', 'permit-pty': '' },
      signatureAlgorithm: sigAlg,
      comment: 'subject',
    });
    expect(cert.subjectKey.blob).toEqual(parsePublicKey(subject.publicLine).blob);
    expect(cert.signatureKey.blob).toEqual(parsePublicKey(ca.publicLine).blob);
  });

  it('verifies', () => {
    expect(verifyCertificateSignature(cert)).toBe(true);
  });

  it('is encoded byte for byte the same by signCertificate', () => {
    const caKey = nodeKeyFromOpenSsh(ca.path);
    const ours = signCertificate({ ...cert, ca: { key: caKey }, subjectKey: cert.subjectKey });
    expect(parseCertificate(ours.blob).signedData).toEqual(cert.signedData);
    // Ed25519 signatures are deterministic, so there the whole certificate matches.
    if (caType === 'ed25519') expect(ours.blob).toEqual(cert.blob);
  });
});

describe('tampering', () => {
  const ca = ws.generate('ecdsa', 256, 'ca');
  const subject = ws.generate('ed25519');
  const path = ws.file(subject.publicLine, 'tamper.pub');
  ws.run('-q', '-s', ca.path, '-I', 'id', '-n', 'root', '-V', '+1h', path);
  const blob = parseCertificate(readFileSync(path.replace(/\.pub$/, '-cert.pub'), 'utf8')).blob;

  it('any flipped byte either fails to parse or fails verification', () => {
    let verifiedFalse = 0;
    for (let i = 0; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i] = (bad[i] as number) ^ 0x01;
      let cert;
      try {
        cert = parseCertificate(bad);
      } catch (err) {
        expect(err).toMatchObject({ name: 'MeziteError', code: 'InvalidArgument' });
        continue;
      }
      expect(verifyCertificateSignature(cert)).toBe(false);
      verifiedFalse++;
    }
    // Many positions (serial, key id, validity, signature…) still parse: the check is real.
    expect(verifiedFalse).toBeGreaterThan(blob.length / 3);
  });

  it('is refused by ssh-keygen and sshpk too when the signature changes', () => {
    const bad = Buffer.from(blob);
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 0x01;
    const badLine = `ssh-ed25519-cert-v01@openssh.com ${bad.toString('base64')}`;
    expect(() => ws.run('-L', '-f', ws.file(badLine))).toThrow(/incorrect signature/);
    expect(sshpkVerifiesCertificate(badLine, ca.publicLine)).toBe(false);
    expect(sshpkVerifiesCertificate(`ssh-ed25519-cert-v01@openssh.com ${blob.toString('base64')}`, ca.publicLine)).toBe(true);
  });

  it('a signature by another key does not verify', () => {
    const cert = parseCertificate(blob);
    const other = parsePublicKey(ws.generate('ecdsa', 256).publicLine);
    expect(verifyCertificateSignature({ ...cert, signatureKey: other })).toBe(false);
  });
});
