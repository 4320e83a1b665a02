import type { AuthMethod, PrincipalKind } from '@mezite/identity';
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
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** Persistence of sessions. */
export interface SessionStore extends ExpiredRows {
  create(s: Session): Promise<void>;
  findByHash(tokenHash: Buffer): Promise<Session | null>;
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
}
