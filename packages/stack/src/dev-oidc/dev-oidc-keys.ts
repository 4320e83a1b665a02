import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A private JSON Web Key as oidc-provider takes it (`jwks.keys[]`). */
export type PrivateJwk = Record<string, unknown> & { kid: string; alg: string; use: string };

/** What the development provider keeps across restarts. */
export interface DevOidcKeys {
  /** ID-token signing keys: kept, so ID tokens and sessions verify across restarts. */
  jwks: { keys: PrivateJwk[] };
  /** Keys of the provider's signed cookies, so a sign-in in progress survives a restart. */
  cookieKeys: string[];
}

/**
 * Loads the provider's keys from `path` (0600), creating them on first start: one RSA
 * 2048 key for RS256 (the one algorithm every OpenID relying party must accept) and
 * one cookie key. Written atomically, so a crash never leaves half a file.
 */
export function ensureDevOidcKeys(path: string): DevOidcKeys {
  if (existsSync(path)) {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as Partial<DevOidcKeys>;
    if (!doc.jwks?.keys?.length || !doc.cookieKeys?.length) throw new Error(`${path} holds no signing or cookie keys; remove it to make new ones`);
    return doc as DevOidcKeys;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: randomUUID(), alg: 'RS256', use: 'sig' };
  const keys: DevOidcKeys = { jwks: { keys: [jwk] }, cookieKeys: [randomBytes(32).toString('base64url')] };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
  return keys;
}
