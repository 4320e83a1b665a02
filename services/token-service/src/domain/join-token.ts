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
}

/** 16 random bytes: the 128 bits of entropy the join-token contract promises. */
export const JOIN_TOKEN_RANDOM_BYTES = 16;

/** The plaintext's shape: `tok-<kind>-` and 32 lower-case hex digits. */
export const JOIN_TOKEN_PATTERN = /^tok-(bot|node)-[0-9a-f]{32}$/;
