import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { allKeys, internal, keyById, keyRing, type KeyRing } from '@mezite/identity';

const VERSION = 1;

/**
 * Seals a private key with AES-256-GCM under the key-encryption key (KEK). The CA's
 * id is bound as associated data, so a sealed key moved to another row fails to open.
 * Layout: version(1) | iv(12) | tag(16) | ciphertext.
 */
export function sealPrivateKey(kek: Buffer, caId: string, plaintext: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  c.setAAD(Buffer.from(caId));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, c.getAuthTag(), ct]);
}

/** Opens a sealed key; a wrong KEK or a tampered blob is an Internal error (never a wrong key). */
export function openPrivateKey(kek: Buffer, caId: string, sealed: Buffer): Buffer {
  if (sealed.length < 30 || sealed[0] !== VERSION) throw internal('sealed CA key has an unknown format');
  try {
    const d = createDecipheriv('aes-256-gcm', kek, sealed.subarray(1, 13));
    d.setAAD(Buffer.from(caId));
    d.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([d.update(sealed.subarray(29)), d.final()]);
  } catch (err) {
    throw internal('cannot open the CA private key: wrong key-encryption key (MEZITE_CA_KEK) or corrupted data', { cause: err });
  }
}

/**
 * The ring a component was given: `keks`, else the single `kek` as a ring without
 * previous keys. Throws (at start-up) unless every key is exactly 32 bytes.
 */
export function kekRingOf(opts: { kek?: Buffer | undefined; keks?: KeyRing | undefined }, who: string): KeyRing {
  const ring = opts.keks ?? (opts.kek ? keyRing(opts.kek) : undefined);
  if (!ring || allKeys(ring).some((k) => !k.key || k.key.length !== 32)) throw new Error(`${who}: a 32-byte key-encryption key is required`);
  return ring;
}

/** What opening a CA key needs of the CA. */
export interface SealedCaKey {
  id: string;
  encryptedPrivateKey: Buffer;
  /** The id of the KEK it is sealed under; absent when sealed before KEKs had ids. */
  kekId?: string;
}

/**
 * Opens a CA's sealed key with the key-encryption key its `kekId` names (any configured
 * one, current or previous). FailedPrecondition-free by design: a key the configuration
 * lacks is an Internal error that names the missing KEK id, so an operator knows which
 * value to put back in MEZITE_CA_KEK_PREVIOUS. A key sealed before KEKs had ids is tried
 * under every configured KEK (AES-GCM refuses a wrong one).
 */
export function openCaKey(keks: KeyRing, ca: SealedCaKey): { der: Buffer; kekId: string } {
  if (ca.kekId !== undefined) {
    const k = keyById(keks, ca.kekId);
    if (!k) throw internal(`CA key ${ca.id} is sealed under key-encryption key ${ca.kekId}, which is neither MEZITE_CA_KEK (${keks.current.id}) nor in MEZITE_CA_KEK_PREVIOUS (${keks.previous.map((p) => p.id).join(', ') || 'empty'}); configure it again`);
    return { der: openPrivateKey(k.key, ca.id, ca.encryptedPrivateKey), kekId: k.id };
  }
  let last: unknown;
  for (const k of allKeys(keks)) {
    try {
      return { der: openPrivateKey(k.key, ca.id, ca.encryptedPrivateKey), kekId: k.id };
    } catch (err) {
      last = err;
    }
  }
  throw internal(`cannot open CA key ${ca.id} (sealed before key-encryption keys had ids) with any configured key-encryption key (${allKeys(keks).map((k) => k.id).join(', ')}): wrong MEZITE_CA_KEK or corrupted data`, { cause: last });
}
