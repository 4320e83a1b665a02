import type { BotInstance, LineageStep } from './bot-instance';
import type { JoinResource } from './join-methods/join-method';
import type { ExpiredRows } from './retention';

export type { JoinResource } from './join-methods/join-method';

/** One use of a platform ID token: its issuer and `jti`, remembered until it expires. */
export interface IdTokenUse {
  tenantId: string;
  resourceId: string;
  issuer: string;
  jti: string;
  expiresAt: Date;
  at: Date;
  /** Options to store on the resource in the same transaction, only if it is still at `revision` (else nothing commits). */
  rebind?: { revision: number; options: Record<string, string> };
}

/**
 * Persistence of provision resources (`kind: join_token`) and of the ID tokens used
 * with them (STYLE.md §4: PostgreSQL and memory pass one contract suite).
 * Retention: a use ends when its ID token expires.
 */
export interface JoinResourceStore extends ExpiredRows {
  /** AlreadyExists when the tenant has a resource of that name. */
  create(r: JoinResource): Promise<void>;
  /** Replaces the resource of that name (revision + 1); NotFound when there is none. */
  replace(r: JoinResource): Promise<JoinResource>;
  get(tenantId: string, name: string): Promise<JoinResource | null>;
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<JoinResource[]>;
  /** Whether a resource was removed. */
  delete(tenantId: string, name: string): Promise<boolean>;
  /**
   * Records the use of an ID token (one insert, unique on issuer and `jti`: every replica
   * agrees) and runs `work` in the same transaction; the use and the instance `work`
   * creates commit together or not at all. Null, running nothing, when the token was
   * used before, or when `use.rebind` names a revision the resource has moved past.
   */
  admit<T>(use: IdTokenUse, work: (createInstance: (instance: BotInstance, first: LineageStep) => Promise<void>) => Promise<T>): Promise<T | null>;
  /** The recorded use of an ID token, with the instance its join created (null until that join committed). */
  findUse(issuer: string, jti: string): Promise<(IdTokenUse & { instanceId: string | null }) | null>;
}
