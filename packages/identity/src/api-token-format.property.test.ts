import * as fc from 'fast-check';
import { assertProperty } from './testing';
import { apiTokenChecksum, generateApiToken, parseApiToken, type ApiTokenEnv } from './api-token-format';

/**
 * parseApiToken is the first thing every presented `psk_` token meets, before any hash,
 * cache or database lookup. Properties: it accepts exactly the canonical form with a
 * matching checksum (so what it accepts re-assembles to the same string), and any
 * single edit of a real token — substitution by any character, a look-alike from
 * another script, deletion, insertion, transposition, case change — is refused.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CANONICAL = /^psk_(live|dev)_[0-9A-Za-z]{28}$/;

const env = fc.constantFrom<ApiTokenEnv>('live', 'dev');
/** Real tokens, from a deterministic byte source so a counterexample reproduces from fast-check's seed. */
const token = fc.tuple(env, fc.uint8Array({ minLength: 64, maxLength: 64 })).map(([e, bytes]) => {
  let used = 0;
  return generateApiToken(e, (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = bytes[(used + i) % bytes.length] as number;
    used += n;
    return out;
  });
});
/** Characters a typo or a forger may put in: base62, punctuation, control characters, look-alikes (Cyrillic, full-width, zero-width). */
const anyChar = fc.oneof(fc.constantFrom(...BASE62, '_', '-', ' ', '\n', '\0', 'а', 'о', 'е', 'І', '０', 'Ａ', 'ｚ', '\u200b', '\u00a0', 'ß', 'İ'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));

describe('parseApiToken properties', () => {
  test('whatever it accepts is canonical and re-assembles from its parts', () => {
    const shaped = fc.tuple(env, fc.string({ unit: fc.constantFrom(...BASE62), minLength: 28, maxLength: 28 })).map(([e, s]) => `psk_${e}_${s}`);
    assertProperty(
      fc.property(fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }), shaped, token), (s) => {
        const p = parseApiToken(s);
        if (p === null) return;
        expect(s).toMatch(CANONICAL);
        const body = `psk_${p.env}_${p.random}`;
        expect(body + apiTokenChecksum(body)).toBe(s);
      }),
      { numRuns: 3000 },
    );
  });

  test('every real token parses to its env and random part', () => {
    assertProperty(
      fc.property(token, (t) => {
        const p = parseApiToken(t);
        expect(p).not.toBeNull();
        expect(t).toBe(`psk_${p?.env}_${p?.random}${t.slice(-6)}`);
      }),
      { numRuns: 1000 },
    );
  });

  test('any one substitution, insertion or deletion in a real token is refused', () => {
    assertProperty(
      fc.property(token, fc.nat(), anyChar, fc.constantFrom('substitute', 'insert', 'delete'), (t, at, c, op) => {
        const i = at % t.length;
        if (op === 'substitute' && t[i] === c) return;
        const edited = op === 'substitute' ? t.slice(0, i) + c + t.slice(i + 1) : op === 'insert' ? t.slice(0, i) + c + t.slice(i) : t.slice(0, i) + t.slice(i + 1);
        expect(parseApiToken(edited)).toBeNull();
      }),
      { numRuns: 3000 },
    );
  });

  test('swapping two different adjacent characters, or changing the case of a letter, is refused', () => {
    assertProperty(
      fc.property(token, fc.nat(), (t, at) => {
        const i = at % (t.length - 1);
        if (t[i] !== t[i + 1]) expect(parseApiToken(t.slice(0, i) + t[i + 1] + t[i] + t.slice(i + 2))).toBeNull();
        const c = t[i] as string;
        const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
        if (flipped !== c) expect(parseApiToken(t.slice(0, i) + flipped + t.slice(i + 1))).toBeNull();
      }),
      { numRuns: 3000 },
    );
  });

  test('surrounding whitespace, a prefix, a suffix or a second token are refused', () => {
    assertProperty(
      fc.property(token, fc.string({ minLength: 1, maxLength: 8 }), fc.boolean(), (t, extra, before) => {
        expect(parseApiToken(before ? extra + t : t + extra)).toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  test('huge inputs are refused unread: no pattern is run on text longer than a token (counted, not timed)', () => {
    const exec = jest.spyOn(RegExp.prototype, 'exec');
    const test = jest.spyOn(RegExp.prototype, 'test');
    try {
      for (const s of [`psk_live_${'a'.repeat(1_000_000)}`, 'psk_'.repeat(250_000), `${'a'.repeat(1_000_000)}psk_live_${'a'.repeat(28)}`, `psk_live_${'a'.repeat(29)}`]) expect(parseApiToken(s)).toBeNull();
      expect(exec.mock.calls.length + test.mock.calls.length).toBe(0);
      // A token-length input is still read by the pattern.
      expect(parseApiToken(`psk_live_${'a'.repeat(28)}`)).toBeNull();
      expect(exec.mock.calls.length + test.mock.calls.length).toBeGreaterThan(0);
    } finally {
      exec.mockRestore();
      test.mockRestore();
    }
  });
});
