import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { internal } from '@mezite/identity';

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
