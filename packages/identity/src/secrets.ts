import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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
