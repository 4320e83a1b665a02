/** Which certificates a CA signs. */
export type CaType = 'user' | 'host';
/** CA key algorithms: ECDSA P-256 by default, Ed25519 supported. */
export type { CaAlgorithm } from '@mezite/ssh';
import type { CaAlgorithm } from '@mezite/ssh';

/** A CA key pair; the private half only ever sealed with the key-encryption key. */
export interface CertAuthority {
  id: string;
  type: CaType;
  algorithm: CaAlgorithm;
  /** authorized_keys format. */
  publicKey: string;
  /** `SHA256:…` as ssh-keygen prints it. */
  fingerprint: string;
  /** AES-256-GCM sealed PKCS#8 DER (see key-encryption.ts). */
  encryptedPrivateKey: Buffer;
  /** The CA that signs new certificates of its type. */
  active: boolean;
  createdAt: Date;
}

/** Persistence of CAs. */
export interface CertAuthorityStore {
  /** Every CA (active and trusted-only), oldest first, optionally of one type. */
  list(type?: CaType): Promise<CertAuthority[]>;
  /**
   * Inserts `ca` as the active CA of its type unless one is active already; returns
   * the active one either way (replicas racing at first start agree on one).
   */
  insertActiveIfNone(ca: CertAuthority): Promise<CertAuthority>;
}
