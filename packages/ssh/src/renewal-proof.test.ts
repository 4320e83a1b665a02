import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { encodePublicKey, parsePublicKeyBlob } from './public-key';
import { botRenewalSignedData, signBotRenewal, signRenewal, verifyBotRenewal, verifyRenewal } from './renewal-proof';

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

describe('bot renewal proof (RenewBot)', () => {
  const cur = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const curPub = parsePublicKeyBlob(encodePublicKey(cur.publicKey));
  const base = {
    instanceId: '6f1c2b1e-2f5e-4c39-9a53-0a4c7e1d9b10',
    generation: 7,
    serial: 1234567890123n,
    newPublicKeyBlob: encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    timeMs: 1_790_000_000_000,
  };

  test('verifies only the exact fields it was made for', () => {
    const sig = signBotRenewal(cur.privateKey, base);
    expect(verifyBotRenewal(curPub, base, sig)).toBe(true);
    const changed = [
      { ...base, instanceId: '6f1c2b1e-2f5e-4c39-9a53-0a4c7e1d9b11' },
      { ...base, generation: 8 },
      { ...base, serial: base.serial + 1n },
      { ...base, newPublicKeyBlob: encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey) },
      { ...base, timeMs: base.timeMs + 1 },
    ];
    for (const c of changed) expect(verifyBotRenewal(curPub, c, sig)).toBe(false);
    const other = parsePublicKeyBlob(encodePublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
    expect(verifyBotRenewal(other, base, sig)).toBe(false);
  });

  test('is domain-separated from the node renewal proof and length-prefixed', () => {
    const data = botRenewalSignedData(base);
    expect(data.subarray(4, 4 + 'mezite-bot-renewal-v2'.length).toString()).toBe('mezite-bot-renewal-v2');
    expect(data.subarray(0, 'mezite-renewal-v1'.length).toString()).not.toBe('mezite-renewal-v1');
    // Shifting a byte between two variable-length fields changes the encoding.
    const a = botRenewalSignedData({ ...base, instanceId: 'ab' });
    const b = botRenewalSignedData({ ...base, instanceId: 'a' });
    expect(a.equals(b)).toBe(false);
  });

  test('refuses out-of-range numbers instead of encoding them', () => {
    expect(verifyBotRenewal(curPub, { ...base, generation: -1 }, Buffer.alloc(0))).toBe(false);
    expect(() => botRenewalSignedData({ ...base, timeMs: Number.NaN })).toThrow(RangeError);
  });
});
