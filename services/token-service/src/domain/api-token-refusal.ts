import { unauthenticated, type MeziteError } from '@mezite/identity';
import type { ApiToken } from './api-token';

/** The one error for every token that does not verify: nothing is learned from it. */
export const INVALID_API_TOKEN = 'invalid api token';

/** Why a token was refused. Fixed words: they go to the audit log, never to the caller. */
export type ApiTokenRefusalReason = 'malformed' | 'unknown' | 'expired' | 'rotated out' | 'revoked';

/**
 * The reason behind an `invalid api token` refusal, carried as the error's `cause`. The
 * error mapping middleware sends only the code and message, so every reason still gets
 * the same answer; the handler of VerifyApiToken passes the reason to the auth-server
 * in trailers (see api-token-handlers.ts), which records it in the audit log.
 */
export class ApiTokenRefusal extends Error {
  override readonly name = 'ApiTokenRefusal';
  constructor(
    readonly reason: ApiTokenRefusalReason,
    /** The refused token, when it was found (expired, rotated out, revoked): ids only. */
    readonly token?: { id: string; tenantId: string },
  ) {
    super(`api token refused: ${reason}`);
  }
}

/** The public refusal, with the reason as its cause. */
export function refuseApiToken(reason: ApiTokenRefusalReason, token?: { id: string; tenantId: string }): MeziteError {
  return unauthenticated(INVALID_API_TOKEN, { cause: new ApiTokenRefusal(reason, token ? { id: token.id, tenantId: token.tenantId } : undefined) });
}

/** The refusal behind `err`, if it is one. */
export function apiTokenRefusalOf(err: unknown): ApiTokenRefusal | undefined {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause instanceof ApiTokenRefusal ? cause : undefined;
}

/**
 * Why a stored token does not authenticate at `now`, or undefined when it does: the
 * reasons of isApiTokenLive, in its order. `extraDeadline` is a rotation deadline known
 * from the shared cache.
 */
export function whyNotLive(t: Pick<ApiToken, 'revokedAt' | 'expiresAt' | 'rotationDeadline'>, now: Date, extraDeadline?: Date): ApiTokenRefusalReason | undefined {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (t.rotationDeadline && t.rotationDeadline.getTime() <= now.getTime()) return 'rotated out';
  if (extraDeadline && extraDeadline.getTime() <= now.getTime()) return 'rotated out';
  return undefined;
}
