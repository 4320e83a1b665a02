import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMeziteError } from '@mezite/identity';
import { testNeeding } from '@mezite/identity/testing';
import { encodePublicKey } from './public-key';
import { parsePrivateKey } from './private-key';
import { parsePublicKey } from './public-key';
import { sshSigner, verifySshSignature } from './ssh-signature';

const haveKeygen = (() => {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    return (err as { status?: number }).status !== undefined && (err as { code?: string }).code !== 'ENOENT';
  }
})();
/** Skipped only where OpenSSH's ssh-keygen is not installed, and never in CI. */
const keygenMissing = haveKeygen ? undefined : 'ssh-keygen is not installed (apt-get install openssh-client; .ci/run does)';

describe('parsePrivateKey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-privkey-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [type, bits] of [
    ['ed25519', ''],
    ['ecdsa', '256'],
    ['ecdsa', '384'],
  ] as const) {
    testNeeding(keygenMissing, `reads an ssh-keygen ${type}${bits} key: its public half and signatures match the .pub file`, () => {
      const path = join(dir, `k-${type}${bits}`);
      execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-f', path]);
      const key = parsePrivateKey(readFileSync(path, 'utf8'));
      const pub = parsePublicKey(readFileSync(`${path}.pub`, 'utf8'));
      expect(encodePublicKey(key).equals(pub.blob)).toBe(true);
      const data = Buffer.from('challenge');
      expect(verifySshSignature(pub, data, sshSigner(key).sign(data))).toBe(true);
    });
  }

  testNeeding(keygenMissing, 'refuses an encrypted key, an RSA key and garbage with InvalidArgument', () => {
    const enc = join(dir, 'enc');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', enc]);
    const rsa = join(dir, 'rsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    for (const [text, msg] of [
      [readFileSync(enc, 'utf8'), /passphrase/],
      [readFileSync(rsa, 'utf8'), /ssh-rsa keys are not supported/],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----', /openssh-key-v1/],
      ['hello', /not an OpenSSH or PEM/],
    ] as const) {
      let err: unknown;
      try {
        parsePrivateKey(text);
      } catch (e) {
        err = e;
      }
      expect(isMeziteError(err, 'InvalidArgument')).toBe(true);
      expect((err as Error).message).toMatch(msg);
    }
  });
});
