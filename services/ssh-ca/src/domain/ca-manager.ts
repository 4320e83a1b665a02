import { randomUUID } from 'node:crypto';
import type { Clock } from '@mezite/identity';
import type { CaAlgorithm, CaType, CertAuthority, CertAuthorityStore } from './cert-authority';
import { sealPrivateKey } from './key-encryption';
import { fingerprintSha256, generateCaKey } from '@mezite/ssh';

/** Options of CaManager. */
export interface CaManagerOptions {
  store: CertAuthorityStore;
  clock: Clock;
  /** Key-encryption key sealing CA private keys at rest (32 bytes). */
  kek: Buffer;
  /** Algorithm of newly made CAs. */
  algorithm: CaAlgorithm;
}

/** Creates and lists the User and Host CAs. */
export class CaManager {
  constructor(private readonly opts: CaManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('CaManager: store and clock are required');
    if (!opts.kek || opts.kek.length !== 32) throw new Error('CaManager: a 32-byte key-encryption key is required');
  }

  /** Makes sure each type has an active CA, creating key pairs on first start. */
  async ensure(): Promise<CertAuthority[]> {
    const out: CertAuthority[] = [];
    for (const type of ['user', 'host'] as const) {
      const active = (await this.opts.store.list(type)).find((c) => c.active);
      out.push(active ?? (await this.opts.store.insertActiveIfNone(this.newCa(type))));
    }
    return out;
  }

  /** The CAs, oldest first, optionally of one type. */
  list(type?: CaType): Promise<CertAuthority[]> {
    return this.opts.store.list(type);
  }

  private newCa(type: CaType): CertAuthority {
    const id = randomUUID();
    const key = generateCaKey(this.opts.algorithm);
    const blob = Buffer.from(key.publicKeyLine.split(' ')[1] ?? '', 'base64');
    const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
    return {
      id,
      type,
      algorithm: this.opts.algorithm,
      publicKey: key.publicKeyLine.split(' ').slice(0, 2).join(' '),
      fingerprint: fingerprintSha256(blob),
      encryptedPrivateKey: sealPrivateKey(this.opts.kek, id, der),
      active: true,
      createdAt: this.opts.clock.now(),
    };
  }
}
