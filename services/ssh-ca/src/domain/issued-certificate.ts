import type { CaType } from './cert-authority';

/**
 * One line of the issued-certificate log: what ssh-ca signed, recorded before the
 * certificate left the service. The KRL revokes by `(caId, serial)`; audit joins on
 * `subjectId`. Public data only: never the certificate's private half (there is none
 * here) nor anything secret.
 */
export interface IssuedCertificate {
  /** The CA that signed. */
  caId: string;
  /** 1 .. 2^63-1, unique per CA. */
  serial: bigint;
  type: CaType;
  /** The key id as in the certificate (`<requested key id>/<serial>`), what sshd logs. */
  keyId: string;
  principals: string[];
  /** The bot's or node's UUID, when the caller named one. */
  subjectId: string | null;
  tenantId: string | null;
  /** `SHA256:…` of the certified public key. */
  publicKeyFingerprint: string;
  validAfter: Date;
  validBefore: Date;
  createdAt: Date;
}

/** Persistence of the issued-certificate log (append-only). */
export interface IssuedCertificateStore {
  /** Appends a record; a `(caId, serial)` already logged is `AlreadyExists` and changes nothing. */
  insert(cert: IssuedCertificate): Promise<void>;
  /** The record of one certificate, or null. */
  find(caId: string, serial: bigint): Promise<IssuedCertificate | null>;
  /**
   * A subject's certificates, oldest first; with `unexpiredAt`, only those with
   * `validBefore` after it (what a KRL must list when the subject is revoked).
   */
  listBySubject(subjectId: string, opts?: { unexpiredAt?: Date }): Promise<IssuedCertificate[]>;
  /** The certificates of any of `subjectIds` or with any of `serials` that are still valid at `unexpiredAt` (what a KRL lists). */
  listRevocable(q: { subjectIds: string[]; serials: bigint[]; unexpiredAt: Date }): Promise<IssuedCertificate[]>;
  /** A certificate by serial alone (serials are random 63-bit: unique in practice across CAs), or null. */
  findBySerial(serial: bigint): Promise<IssuedCertificate | null>;
  /** When the last certificate signed by the CA expires, or null if it signed none. */
  lastExpiry(caId: string): Promise<Date | null>;
}
