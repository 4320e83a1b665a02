import type { JoinToken } from './join-token';

/**
 * Persistence of join tokens (STYLE.md §4). Implemented on Prisma/PostgreSQL and in
 * memory; both pass one contract suite (`store/join-token-store.contract.ts`).
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
}
