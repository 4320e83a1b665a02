import type { AuthMethod, KeyUsage, PrincipalKind } from '@mezite/identity';
import type { ExpiredRows } from './retention';

/** A bearer session: the bootstrap admin's, or a person's after `mezctl login`. */
export interface Session {
  id: string;
  tenantId: string;
  principalKind: PrincipalKind;
  principalId: string;
  name: string;
  authMethod: AuthMethod;
  roles: string[];
  acr: string | null;
  amr: string[];
  /** Keyed hash of the bearer secret; the plaintext is never stored. */
  tokenHash: Buffer;
  /** Id of the session pepper `tokenHash` is under (KeyRing); absent for a session hashed before peppers had ids. */
  pepperId?: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/**
 * Persistence of sessions (STYLE.md §4): PostgreSQL and memory pass one contract suite
 * (`store/session-store.contract.ts`).
 */
export interface SessionStore extends ExpiredRows {
  create(s: Session): Promise<void>;
  findByHash(tokenHash: Buffer): Promise<Session | null>;
  /**
   * The session whose hash is one of `tokenHashes` (the secret's hash under each
   * configured pepper), in one read; null when none is.
   */
  findByHashes(tokenHashes: readonly Buffer[]): Promise<Session | null>;
  revoke(id: string, at: Date): Promise<void>;
  /** The tenant's bootstrap admin sessions not revoked (expired ones included), newest first. */
  listBootstrap(tenantId: string): Promise<Session[]>;
  /**
   * Stores `s`, a bootstrap admin session, revoking every other unrevoked bootstrap
   * session of its tenant in the same transaction. AlreadyExists when another replica
   * stored one at the same moment (at most one is unrevoked).
   */
  replaceBootstrap(s: Session): Promise<{ revoked: number }>;
  /** Revokes every bootstrap admin session of the tenant; how many were live. */
  revokeBootstrap(tenantId: string, at: Date): Promise<number>;
  /**
   * Moves session `id` from hash `from` to hash `to` under pepper `pepperId`, in one
   * conditional statement (only while its hash is still `from`); false otherwise.
   */
  rehash(input: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean>;
  /** Sessions still live at `at` (unrevoked, unexpired), counted by the id of the pepper their hash is under. */
  countLiveByPepper(at: Date): Promise<KeyUsage[]>;
  /** Records `pepperId` on every session without one (hashed before peppers had ids); how many. */
  stampPepper(pepperId: string): Promise<number>;
}
