import { randomBytes } from 'node:crypto';
import { parse } from './config';
import { allKeys, keyById, keyId, keyRing } from './key-ring';

describe('key rings', () => {
  test('an id is 8 hex digits, stable for a key and different between keys', () => {
    const a = randomBytes(32);
    expect(keyId(a)).toMatch(/^[0-9a-f]{8}$/);
    expect(keyId(Buffer.from(a))).toBe(keyId(a));
    expect(keyId(randomBytes(32))).not.toBe(keyId(a));
    // A MAC of a label under the key, not a prefix of the key or of its plain hash.
    expect(a.toString('hex')).not.toContain(keyId(a));
  });

  test('the ring keeps the current key first and drops repeats of it among the previous ones', () => {
    const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const ring = keyRing(b, [a, b, c, a]);
    expect(ring.current.id).toBe(keyId(b));
    expect(ring.previous.map((k) => k.id)).toEqual([keyId(a), keyId(c)]);
    expect(allKeys(ring).map((k) => k.id)).toEqual([keyId(b), keyId(a), keyId(c)]);
    expect(keyById(ring, keyId(c))?.key).toEqual(c);
    expect(keyById(ring, '00000000')).toBeUndefined();
  });

  test('previous keys parse as a comma-separated list and a bad one is named', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    expect(parse.key32List(`${a.toString('base64')}, ${b.toString('hex')}`)).toEqual([a, b]);
    expect(() => parse.key32List(`${a.toString('base64')},short`)).toThrow('key 2: expected 32 bytes');
  });
});
