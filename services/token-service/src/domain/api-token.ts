import { invalidArgument, type PrincipalKind, type ApiTokenEnv } from '@mezite/identity';

/** A stored API token. The plaintext is never stored: only `tokenHash`. */
export interface ApiToken {
  id: string;
  tenantId: string;
  /** `user` or `service`: the kind of identity the token authenticates as. */
  identityKind: PrincipalKind;
  identityId: string;
  env: ApiTokenEnv;
  /** HMAC-SHA256 of the plaintext under the server's pepper. */
  tokenHash: Buffer;
  /** Id of the pepper `tokenHash` is under (KeyRing); absent for a token hashed before peppers had ids. */
  pepperId?: string;
  createdAt: Date;
  expiresAt: Date;
  /** Last authenticated request, flushed in batches (at most once a minute per replica). */
  lastUsedAt: Date | null;
  /** When a successor was issued. */
  rotatedAt: Date | null;
  /** After rotation: when this token stops working. */
  rotationDeadline: Date | null;
  revokedAt: Date | null;
  /** After rotation: the successor's id. */
  replacedBy: string | null;
}

/** A token's metadata as callers see it: everything but the hash and its key. */
export type ApiTokenInfo = Omit<ApiToken, 'tokenHash' | 'pepperId'>;

/** Drops the hash and its key id. */
export function apiTokenInfo(t: ApiToken): ApiTokenInfo {
  const { tokenHash: _hash, pepperId: _pepper, ...info } = t;
  return info;
}

/** Lifetime of a token minted without one. */
export const DEFAULT_API_TOKEN_TTL_MS = 90 * 86_400_000;
/** The longest lifetime: a forgotten token stops working within a year. */
export const MAX_API_TOKEN_TTL_MS = 366 * 86_400_000;
/** Rotation overlap when neither the request nor the configuration says (seed 000: 48 h). */
export const DEFAULT_ROTATION_OVERLAP_MS = 48 * 3_600_000;

/**
 * The lifetime for a requested number of seconds: 0 means `defaultMs`; otherwise a
 * whole number of seconds up to MAX_API_TOKEN_TTL_MS, else InvalidArgument.
 */
export function apiTokenTtlMs(seconds: number, defaultMs = DEFAULT_API_TOKEN_TTL_MS): number {
  if (seconds === 0) return defaultMs;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds * 1000 > MAX_API_TOKEN_TTL_MS) {
    throw invalidArgument('ttl_seconds must be a whole number of seconds up to 366 days, 0 for the default');
  }
  return seconds * 1000;
}

/**
 * The rotation overlap for a requested number of seconds: 0 (or less) means
 * `defaultMs`; more than the maximum token lifetime is InvalidArgument.
 */
export function rotationOverlapMs(seconds: number, defaultMs = DEFAULT_ROTATION_OVERLAP_MS): number {
  if (!Number.isFinite(seconds) || seconds <= 0) return defaultMs;
  if (!Number.isInteger(seconds) || seconds * 1000 > MAX_API_TOKEN_TTL_MS) throw invalidArgument('overlap_seconds must be a whole number of seconds up to 366 days');
  return seconds * 1000;
}

/**
 * Whether a token authenticates at `now`: not revoked, not expired, and not past its
 * rotation deadline. `extraDeadline` is a deadline known from elsewhere (the shared
 * cache) that may be newer than the token's copy.
 */
export function isApiTokenLive(t: Pick<ApiToken, 'revokedAt' | 'expiresAt' | 'rotationDeadline'>, now: Date, extraDeadline?: Date): boolean {
  if (t.revokedAt) return false;
  if (t.expiresAt.getTime() <= now.getTime()) return false;
  if (t.rotationDeadline && t.rotationDeadline.getTime() <= now.getTime()) return false;
  if (extraDeadline && extraDeadline.getTime() <= now.getTime()) return false;
  return true;
}
