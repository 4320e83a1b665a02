import { randomBytes, randomInt } from 'node:crypto';
import { apiTokenChecksum, generateApiToken, parseApiToken, type ApiTokenEnv } from './api-token-format';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomBase62 = (n: number) => Array.from(randomBytes(n), (b) => BASE62.charAt(b % 62)).join('');

describe('api token format', () => {
  // Golden values: changing the checksum or its encoding breaks every token in the field.
  test.each([
    ['psk_live_aaaaaaaaaaaaaaaaaaaaaa', '0kRkyo'],
    ['psk_dev_0123456789ABCDEFGHIJKL', '1t6Mf6'],
    ['psk_live_0000000000000000000000', '2tjYKg'],
  ])('checksum of %s is %s', (body, checksum) => {
    expect(apiTokenChecksum(body)).toBe(checksum);
    expect(parseApiToken(body + checksum)).toEqual({ env: body.split('_')[1], random: body.slice(-22) });
  });

  test.each([
    ['empty', ''],
    ['no checksum', 'psk_live_aaaaaaaaaaaaaaaaaaaaaa'],
    ['wrong checksum', 'psk_live_aaaaaaaaaaaaaaaaaaaaaa0kRkyp'],
    ['checksum of the other env', 'psk_dev_aaaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['unknown env', 'psk_prod_aaaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['upper-case prefix', 'PSK_live_aaaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['one character short', 'psk_live_aaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['one character long', 'psk_live_aaaaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['leading space', ' psk_live_aaaaaaaaaaaaaaaaaaaaaa0kRkyo'],
    ['trailing newline', 'psk_live_aaaaaaaaaaaaaaaaaaaaaa0kRkyo\n'],
    ['non-base62 character', 'psk_live_aaaaaaaaaaaaaaaaaaaaa-0kRkyo'],
    ['a join token', `tok-bot-${'a'.repeat(32)}`],
  ])('%s does not parse', (_what, text) => {
    expect(parseApiToken(text)).toBeNull();
  });

  test.each<ApiTokenEnv>(['live', 'dev'])('every generated %s token parses, with 22 random characters', (env) => {
    const seen = new Set<string>();
    const shape = new RegExp(`^psk_${env}_[0-9A-Za-z]{28}$`);
    const bad: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = generateApiToken(env);
      const p = parseApiToken(t);
      if (!shape.test(t) || p?.env !== env || p.random !== t.slice(`psk_${env}_`.length, -6)) bad.push(t);
      seen.add(t);
    }
    expect(bad).toEqual([]);
    expect(seen.size).toBe(2000);
  });

  test('the random part uses the whole alphabet, so no character is wasted', () => {
    const used = new Set<string>();
    for (let i = 0; i < 300; i++) for (const c of generateApiToken('live').slice(9, 31)) used.add(c);
    expect(used.size).toBe(62);
  });

  test('a byte source that returns only biased bytes (>= 248) is redrawn, not folded', () => {
    let calls = 0;
    const rand = (n: number) => (++calls === 1 ? Buffer.alloc(n, 255) : randomBytes(n));
    expect(parseApiToken(generateApiToken('dev', rand))).not.toBeNull();
    expect(calls).toBeGreaterThan(1);
  });

  test('random strings of the right shape never parse', () => {
    const parsed: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const t = `psk_${i % 2 ? 'live' : 'dev'}_${randomBase62(28)}`;
      if (parseApiToken(t)) parsed.push(t);
    }
    expect(parsed).toEqual([]); // each has a 2^-32 chance: 20 000 of them, about 5 in a million runs
  });

  test('random bytes never parse', () => {
    const parsed: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const t = randomBytes(randomInt(0, 64)).toString('latin1');
      if (parseApiToken(t)) parsed.push(t);
    }
    expect(parsed).toEqual([]);
  });

  test('changing any one character of a valid token breaks it', () => {
    for (let n = 0; n < 20; n++) {
      const t = generateApiToken(n % 2 ? 'live' : 'dev');
      for (let i = 0; i < t.length; i++) {
        for (const c of BASE62 + '_-') {
          if (c === t[i]) continue;
          const changed = t.slice(0, i) + c + t.slice(i + 1);
          if (parseApiToken(changed) !== null) throw new Error(`${changed} (position ${i} of ${t}) still parses`);
        }
      }
    }
  });
});
