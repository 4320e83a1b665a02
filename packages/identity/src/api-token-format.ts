import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The API token format: `psk_<env>_<random><checksum>`, 9 or 10 characters of
 * prefix and 28 of base62.
 *
 * - `env` is `live` or `dev`, so a token pasted into the wrong place is recognisable
 *   and secret scanners can match it (as GitHub's `ghp_` tokens are).
 * - `random` is 22 base62 characters from the CSPRNG: 22 × log2(62) ≈ 131 bits.
 * - `checksum` is the CRC32 of `psk_<env>_<random>` as 6 base62 digits (62^6 > 2^32),
 *   so a mistyped, truncated or made-up token is refused by `parseApiToken` before any
 *   hash, cache or database lookup. CRC32 catches every single-character change (any
 *   burst of at most 32 bits). It is not a MAC: it protects lookups, not secrecy.
 */
export type ApiTokenEnv = 'live' | 'dev';

/** The environments a token may be minted for. */
export const API_TOKEN_ENVS: readonly ApiTokenEnv[] = ['live', 'dev'];

/** Characters of the random part: 22 base62 characters carry 131 bits. */
export const API_TOKEN_RANDOM_CHARS = 22;
/** Characters of the checksum: a CRC32 in base62. */
export const API_TOKEN_CHECKSUM_CHARS = 6;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PATTERN = /^psk_(live|dev)_([0-9A-Za-z]{22})([0-9A-Za-z]{6})$/;
/** The longest text PATTERN can match (`psk_live_` and 28 characters): anything longer is refused unread. */
const MAX_TOKEN_LENGTH = 'psk_live_'.length + 28;
/** The largest multiple of 62 below 256: bytes at or above it are redrawn, so every character is equally likely. */
const UNBIASED_LIMIT = 248;

/** A token that passed the format and checksum check. */
export interface ParsedApiToken {
  env: ApiTokenEnv;
  /** The 22 random characters. */
  random: string;
}

/** True when `s` names an environment. */
export function isApiTokenEnv(s: string): s is ApiTokenEnv {
  return (API_TOKEN_ENVS as readonly string[]).includes(s);
}

/** The 6-character base62 checksum of `psk_<env>_<random>`. */
export function apiTokenChecksum(body: string): string {
  let n = crc32(body) >>> 0;
  let out = '';
  for (let i = 0; i < API_TOKEN_CHECKSUM_CHARS; i++) {
    out = ALPHABET.charAt(n % 62) + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/**
 * A new token for `env`. `rand` supplies random bytes (the CSPRNG; tests may pass a
 * deterministic source).
 */
export function generateApiToken(env: ApiTokenEnv, rand: (n: number) => Buffer = randomBytes): string {
  let random = '';
  while (random.length < API_TOKEN_RANDOM_CHARS) {
    for (const b of rand(32)) {
      if (b >= UNBIASED_LIMIT) continue;
      random += ALPHABET.charAt(b % 62);
      if (random.length === API_TOKEN_RANDOM_CHARS) break;
    }
  }
  const body = `psk_${env}_${random}`;
  return body + apiTokenChecksum(body);
}

/**
 * The parts of a well-formed token whose checksum matches, or null. Cheap and
 * constant in its lookups (none), so it runs before anything else touches a
 * presented token.
 */
export function parseApiToken(text: string): ParsedApiToken | null {
  if (text.length > MAX_TOKEN_LENGTH) return null;
  const m = PATTERN.exec(text);
  if (!m) return null;
  const [, env, random, checksum] = m as unknown as [string, ApiTokenEnv, string, string];
  if (apiTokenChecksum(`psk_${env}_${random}`) !== checksum) return null;
  return { env, random };
}
