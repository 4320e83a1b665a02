import { randomBytes } from 'node:crypto';
import { openPrivateKey, sealPrivateKey } from './key-encryption';

describe('CA key encryption at rest', () => {
  const kek = randomBytes(32);
  const secret = randomBytes(100);

  test('round-trips and never stores the plaintext', () => {
    const sealed = sealPrivateKey(kek, 'ca-1', secret);
    expect(sealed.includes(secret.subarray(0, 16))).toBe(false);
    expect(openPrivateKey(kek, 'ca-1', sealed)).toEqual(secret);
  });

  test('a wrong KEK, another CA id, or a flipped byte fail to open', () => {
    const sealed = sealPrivateKey(kek, 'ca-1', secret);
    expect(() => openPrivateKey(randomBytes(32), 'ca-1', sealed)).toThrow(/wrong key-encryption key/);
    expect(() => openPrivateKey(kek, 'ca-2', sealed)).toThrow(/wrong key-encryption key/);
    const tampered = Buffer.from(sealed);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    expect(() => openPrivateKey(kek, 'ca-1', tampered)).toThrow(/wrong key-encryption key/);
  });
});
