import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { encodePublicKey, parsePublicKeyBlob } from './public-key';
import { makeBoundKeypairCredential, parseBoundKeypairCredential, verifyBoundKeypairStatement } from './bound-keypair-proof';

describe('bound-keypair proof', () => {
  const joinKey = generateKeyPairSync('ed25519');
  const cert = encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
  const base = { audience: 'mezite:default/bk', certPublicKeyBlob: cert, timeMs: 1_700_000_000_000, nonce: randomBytes(16) };

  it('round-trips, and verifies only the statement that was signed', () => {
    const p = parseBoundKeypairCredential(makeBoundKeypairCredential({ joinKey: joinKey.privateKey, ...base }));
    const key = parsePublicKeyBlob(p.joinKeyBlob);
    const s = { ...base, joinKeyBlob: p.joinKeyBlob, newJoinKeyBlob: p.newJoinKeyBlob, nonce: p.nonce, timeMs: p.timeMs };
    expect(verifyBoundKeypairStatement(s, key, p.signature)).toBe(true);
    expect(verifyBoundKeypairStatement({ ...s, audience: 'mezite:default/other' }, key, p.signature)).toBe(false);
    expect(verifyBoundKeypairStatement({ ...s, timeMs: s.timeMs + 1 }, key, p.signature)).toBe(false);
    expect(verifyBoundKeypairStatement({ ...s, certPublicKeyBlob: encodePublicKey(joinKey.publicKey) }, key, p.signature)).toBe(false);
  });

  it('a rotation needs the signature of the new key too', () => {
    const next = generateKeyPairSync('ed25519');
    const p = parseBoundKeypairCredential(makeBoundKeypairCredential({ joinKey: joinKey.privateKey, newJoinKey: next.privateKey, ...base }));
    const s = { ...base, joinKeyBlob: p.joinKeyBlob, newJoinKeyBlob: p.newJoinKeyBlob };
    const key = parsePublicKeyBlob(p.joinKeyBlob);
    const newKey = parsePublicKeyBlob(p.newJoinKeyBlob);
    expect(verifyBoundKeypairStatement(s, key, p.signature, newKey, p.newKeySignature)).toBe(true);
    expect(verifyBoundKeypairStatement(s, key, p.signature, newKey, p.signature)).toBe(false);
  });

  it.each([['no prefix', 'abc'], ['truncated', 'bkp1.AAAA'], ['oversized', 'bkp1.' + 'A'.repeat(9000)]])('refuses a %s credential', (_n, c) => {
    expect(() => parseBoundKeypairCredential(c)).toThrow();
  });
});
