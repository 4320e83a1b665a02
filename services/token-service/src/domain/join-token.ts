import { invalidArgument } from '@mezite/identity';

/** What a join token bootstraps; also the token's visible prefix (`tok-bot-…`). */
export type SubjectKind = 'bot' | 'node';

/** A stored join token. The plaintext is never stored: only `tokenHash`. */
export interface JoinToken {
  id: string;
  tenantId: string;
  subjectKind: SubjectKind;
  subjectId: string;
  /** HMAC-SHA256 of the plaintext under the server's pepper. */
  tokenHash: Buffer;
  createdAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  revokedAt: Date | null;
  /** The join attempt currently (or last) holding the token; see JoinTokenStore.claim. */
  claimId: string | null;
  /** Until when `claimId` holds the token; after it another attempt may claim it. */
  claimedUntil: Date | null;
}

/**
 * A join attempt's hold on a token: what the auth-server needs to sign the subject's
 * first certificate, and the `claimId` it then confirms (or releases on failure).
 */
export interface JoinClaim {
  claimId: string;
  tokenId: string;
  tenantId: string;
  subjectKind: SubjectKind;
  subjectId: string;
  claimedUntil: Date;
}

/** 16 random bytes: the 128 bits of entropy the join-token contract promises. */
export const JOIN_TOKEN_RANDOM_BYTES = 16;

/** The plaintext's shape: `tok-<kind>-` and 32 lower-case hex digits. */
export const JOIN_TOKEN_PATTERN = /^tok-(bot|node)-[0-9a-f]{32}$/;

/** How long a claim holds when the caller does not say: a join signs one certificate. */
export const DEFAULT_CLAIM_TTL_MS = 60_000;
/** The longest claim: a crashed auth-server must not lock a token out for long. */
export const MAX_CLAIM_TTL_MS = 300_000;

/**
 * The claim TTL for a requested number of seconds: 0 means the default (60 s), more
 * than the maximum is clamped to it (300 s); a negative or fractional value is
 * InvalidArgument.
 */
export function claimTtlMs(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0) throw invalidArgument('claim_ttl_seconds must be a whole number of seconds, 0 for the default');
  if (seconds === 0) return DEFAULT_CLAIM_TTL_MS;
  return Math.min(seconds * 1000, MAX_CLAIM_TTL_MS);
}
