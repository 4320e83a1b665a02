import type { IssuedCertificate } from './bot-identity';
import type { BotHeartbeat } from './heartbeat';

/** A join: the one-time token redeemed for a certificate on `publicKey`. */
export interface JoinInput {
  joinToken: string;
  /** authorized_keys line of the key to certify. A retry of the same join sends the same key. */
  publicKey: string;
  ttlMs: number;
  heartbeat?: BotHeartbeat | undefined;
  requestId?: string | undefined;
}

/**
 * A renewal (RenewBot): the current certificate, the key to certify next, and the
 * proof of possession the daemon already made — a signature by the current key over
 * the instance, generation and serial of `certificate`, the new key and `time`
 * (`signBotRenewal`). The issuer only carries it: the private key never reaches it.
 */
export interface RenewInput {
  certificate: string;
  /** authorized_keys line. A retry of the same renewal sends the same key (the server then answers it again). */
  newPublicKey: string;
  ttlMs: number;
  /** When the proof was signed (the server accepts ±2 min); the signature covers exactly its milliseconds. */
  time: Date;
  signature: Buffer;
  heartbeat?: BotHeartbeat | undefined;
  requestId?: string | undefined;
}

/**
 * The auth server's side of joins and renewals, as the daemon sees it (protocol-free,
 * STYLE.md §2): the gRPC implementation maps to and from the wire, tests may fake it.
 * Both calls are idempotent on the server for the same key (STYLE.md §7), so the
 * daemon retries them freely as long as it presents the same key. `requestId` is sent
 * as `x-request-id`, so the daemon's log line and the server's audit record of one
 * attempt carry the same id.
 */
export interface IdentityIssuer {
  /** Redeems the one-time join token for a certificate on `publicKey`. */
  join(input: JoinInput): Promise<IssuedCertificate>;
  /** Renews in one call: presents `certificate` with its proof and gets a certificate for `newPublicKey`. */
  renew(input: RenewInput): Promise<IssuedCertificate>;
}
