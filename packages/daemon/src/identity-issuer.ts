import type { IssuedCertificate } from './bot-identity';

/**
 * The auth server's side of joins and renewals, as the daemon sees it (protocol-free,
 * STYLE.md §2): the gRPC implementation maps to and from the wire, tests may fake it.
 * The private key never crosses this interface; a renewal gets a signing callback.
 * `requestId` is sent as `x-request-id`, so the daemon's log line and the server's
 * audit record of one attempt carry the same id.
 */
export interface IdentityIssuer {
  /** Redeems the one-time join token for a certificate on `publicKey` (authorized_keys line). */
  join(input: { joinToken: string; publicKey: string; ttlMs: number; requestId?: string }): Promise<IssuedCertificate>;
  /**
   * Renews: presents `certificate`, has `sign` prove possession of its key over the
   * server's challenge, and gets a certificate for `newPublicKey`.
   */
  renew(input: { certificate: string; newPublicKey: string; ttlMs: number; sign: (challenge: Buffer) => Buffer; requestId?: string }): Promise<IssuedCertificate>;
}
