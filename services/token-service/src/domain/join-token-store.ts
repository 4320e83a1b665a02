import type { JoinToken } from './join-token';

/**
 * Persistence of join tokens (STYLE.md §4). Implemented on Prisma/PostgreSQL and in
 * memory; both pass one contract suite (`store/join-token-store.contract.ts`).
 *
 * Redemption is three single conditional statements (STYLE.md §5), so exactly one
 * join attempt wins a token under any concurrency and across replicas, and a token
 * is only consumed once its certificate exists: `claim`, then `confirm` or `release`.
 */
export interface JoinTokenStore {
  /** Stores a new token; AlreadyExists if the id or hash is taken. */
  create(token: JoinToken): Promise<void>;
  /**
   * Revokes every token of the subject that is neither redeemed nor revoked, in one
   * statement; returns how many it revoked.
   */
  revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number>;
  /** The token with this hash, or null. */
  findByHash(tokenHash: Buffer): Promise<JoinToken | null>;
  /**
   * Claims the token with this hash for `claimId` until `until`, in one statement, if
   * at `at` it is unredeemed, unrevoked, unexpired and not held by an unexpired claim.
   * Returns the token as claimed, or null when it was not claimable (for any reason,
   * deliberately not said: the caller gives one error for all of them).
   */
  claim(tokenHash: Buffer, claim: { claimId: string; at: Date; until: Date }): Promise<JoinToken | null>;
  /**
   * Marks the token held by `claimId` redeemed at `at`, if it still is held by that
   * claim and neither redeemed nor revoked; false otherwise (another attempt claimed
   * it after this claim expired, or it was revoked meanwhile).
   */
  confirm(claimId: string, at: Date): Promise<boolean>;
  /** Drops the claim `claimId` of an unredeemed token, making it claimable again; false if it held none. */
  release(claimId: string): Promise<boolean>;
}
