import type { KeyUsage } from '@mezite/identity';
/** Which certificates a CA signs. */
export type CaType = 'user' | 'host';
/** CA key algorithms: ECDSA P-256 by default, Ed25519 supported. */
export type { CaAlgorithm } from '@mezite/ssh';
import type { CaAlgorithm } from '@mezite/ssh';

/**
 * A CA's place in a rotation: `next` is trusted but does not sign yet, `active` signs,
 * `previous` no longer signs but stays trusted until the rotation completes, `retired`
 * is no longer trusted (kept so its key is never certified and its log stays readable).
 */
export type CaState = 'next' | 'active' | 'previous' | 'retired';

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
  /** Id of the key-encryption key it is sealed under (KeyRing); absent when sealed before KEKs had ids. */
  kekId?: string;
  /** The CA's place in a rotation; exactly one CA per type is `active` (signs). */
  state: CaState;
  createdAt: Date;
  /** When the CA last changed state (a rotation phase); its creation time when it never did. */
  stateChangedAt?: Date;
}

/** Whether certificates signed by a CA in this state are accepted (`TrustedUserCAKeys`, `@cert-authority`). */
export const isTrusted = (ca: Pick<CertAuthority, 'state'>): boolean => ca.state !== 'retired';

/** Persistence of CAs. */
export interface CertAuthorityStore {
  /** Every CA (retired ones too), oldest first, optionally of one type. */
  list(type?: CaType): Promise<CertAuthority[]>;
  /**
   * Inserts `ca` as the active CA of its type unless one is active already; returns
   * the active one either way (replicas racing at first start agree on one).
   */
  insertActiveIfNone(ca: CertAuthority): Promise<CertAuthority>;
  /** Inserts `ca` in state `next`; AlreadyExists when the type has a `next` CA already. */
  insertNext(ca: CertAuthority): Promise<void>;
  /**
   * Moves CAs of `type` from one state to another in one transaction, each move
   * conditional on the CA still being in its `from` state; false (nothing changed) when
   * any move no longer applies (another replica got there first).
   */
  transition(type: CaType, moves: Array<{ id: string; from: CaState; to: CaState }>, at: Date): Promise<boolean>;
  /**
   * Replaces CA `id`'s sealed key `from` by `to`, sealed under KEK `kekId`, in one
   * conditional statement (only while the stored key is still `from`): of replicas
   * re-wrapping at once, one writes and the others find it done. False when it changed.
   */
  rewrap(input: { id: string; from: Buffer; to: Buffer; kekId: string }): Promise<boolean>;
  /** Every CA (retired ones too), counted by the id of the KEK its key is sealed under. */
  countByKek(): Promise<KeyUsage[]>;
}
