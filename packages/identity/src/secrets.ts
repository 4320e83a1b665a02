import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Keyed hash of a bearer secret: HMAC-SHA256 with a server-side pepper. Only this is
 * stored, so a database dump reveals no usable secret, and without the pepper no
 * candidate can even be checked offline.
 */
export function keyedHash(pepper: Buffer, secret: string): Buffer {
  return createHmac('sha256', pepper).update(secret, 'utf8').digest();
}

/** Compares two byte strings in time independent of where they differ. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    // Still spend the comparison so length is the only thing that leaks.
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** `bytes` random bytes from the CSPRNG as lower-case hex. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/**
 * The OpenID Connect `nonce` for a login whose client keeps `secret`:
 * base64url(SHA-256(secret)), as PKCE's S256 challenge. The client sends this in the
 * authorization request and the secret to the server with the ID token, so an ID token
 * taken from anywhere else (its `nonce` is in it for all to read) starts no session.
 */
export function oidcNonceFor(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Bounds of the login nonce secret the server accepts (43 = 32 random bytes in base64url). */
export const OIDC_NONCE_SECRET_LENGTH = { min: 43, max: 256 } as const;
