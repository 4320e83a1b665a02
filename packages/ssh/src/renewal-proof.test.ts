import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { encodePublicKey, parsePublicKeyBlob } from './public-key';
import { signRenewal, verifyRenewal } from './renewal-proof';

describe('renewal proof of possession', () => {
  test.each(['ec', 'ed25519'] as const)('%s: verifies with the right key, challenge and new key only', (kind) => {
    const cur = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
    const next = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const challenge = randomBytes(32);
    const newBlob = encodePublicKey(next.publicKey);
    const sig = signRenewal(cur.privateKey, challenge, newBlob);
    const curPub = parsePublicKeyBlob(encodePublicKey(cur.publicKey));
    expect(verifyRenewal(curPub, challenge, newBlob, sig)).toBe(true);
    expect(verifyRenewal(curPub, randomBytes(32), newBlob, sig)).toBe(false);
    expect(verifyRenewal(curPub, challenge, encodePublicKey(other.publicKey), sig)).toBe(false);
    expect(verifyRenewal(parsePublicKeyBlob(encodePublicKey(other.publicKey)), challenge, newBlob, sig)).toBe(false);
  });
});
