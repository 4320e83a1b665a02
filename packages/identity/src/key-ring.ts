import { createHmac } from 'node:crypto';

/** A server-side key (pepper or key-encryption key) with the id stored beside what it keyed. */
export interface VersionedKey {
  /** 8 lower-case hex digits: the first 4 bytes of HMAC-SHA256(key, `mezite key id v1`). */
  id: string;
  key: Buffer;
}

/**
 * The keys a service holds for one purpose: the current one, which keys everything new,
 * and the previous ones, which only verify (or decrypt) what was made before a rotation.
 * Ids are derived from the keys themselves, so a configuration cannot name a key wrongly,
 * and the id reveals nothing of the key (it is a MAC of a fixed label under it).
 */
export interface KeyRing {
  current: VersionedKey;
  /** Older keys, most recent first; never containing the current key. */
  previous: VersionedKey[];
}

/** The id of a key: first 8 hex digits of HMAC-SHA256(key, `mezite key id v1`). */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('mezite key id v1', 'utf8').digest('hex').slice(0, 8);
}

/**
 * A ring from the current key and the previous ones (as configured). A previous key
 * equal to the current one is dropped, as are repeats, so an operator may leave the
 * old value in `*_PREVIOUS` while rolling forward without harm.
 */
export function keyRing(current: Buffer, previous: readonly Buffer[] = []): KeyRing {
  const cur = { id: keyId(current), key: current };
  const seen = new Set([cur.id]);
  const prev: VersionedKey[] = [];
  for (const k of previous) {
    const id = keyId(k);
    if (seen.has(id)) continue;
    seen.add(id);
    prev.push({ id, key: k });
  }
  return { current: cur, previous: prev };
}

/** Every key of the ring, current first. */
export function allKeys(ring: KeyRing): VersionedKey[] {
  return [ring.current, ...ring.previous];
}

/** The key with this id, or undefined. */
export function keyById(ring: KeyRing, id: string): VersionedKey | undefined {
  return allKeys(ring).find((k) => k.id === id);
}

/** How many live rows a store holds under one key id (`null`: hashed before keys had ids). */
export interface KeyUsage {
  keyId: string | null;
  rows: number;
}

/**
 * The ring a component was given: `peppers`, else the single `pepper` as a ring without
 * previous keys. Throws (at start-up) when neither is given or a key is shorter than 32 bytes.
 */
export function ringOf(opts: { pepper?: Buffer | undefined; peppers?: KeyRing | undefined }, who: string): KeyRing {
  const ring = opts.peppers ?? (opts.pepper ? keyRing(opts.pepper) : undefined);
  if (!ring || allKeys(ring).some((k) => !k.key || k.key.length < 32)) throw new Error(`${who}: a pepper of at least 32 bytes is required`);
  return ring;
}
