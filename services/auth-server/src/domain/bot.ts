/** Why and until when a bot may not join or renew. */
export interface BotLock {
  reason: string;
  lockedAt: Date;
  /** Null: until unlocked. */
  expiresAt: Date | null;
  /** Who set it: `user:<uuid>`, or `mezite` for a detected copied credential. */
  lockedBy: string;
}

/** A bot: a machine principal (kind `service`) that holds renewable SSH certificates. */
export interface Bot {
  id: string;
  tenantId: string;
  name: string;
  roles: string[];
  createdAt: Date;
  /** The highest generation of any of its instances (each instance counts its own). */
  generation: number;
  lastSeenAt: Date | null;
  certExpiresAt: Date | null;
  lock: BotLock | null;
  /** Caps its certificates' lifetime under its roles' max_session_ttl; null: the server's default. */
  maxCertTtlMs?: number | null;
}

/** Persistence of bots; every method is scoped to one tenant. */
export interface BotStore {
  /** AlreadyExists when the tenant already has a bot of that name. */
  create(bot: Bot): Promise<void>;
  get(tenantId: string, name: string): Promise<Bot | null>;
  getById(tenantId: string, id: string): Promise<Bot | null>;
  /** Bots of the tenant ordered by name, after `afterName`, at most `limit`. */
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]>;
  /** Removes the bot; false when there was none. */
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Sets or clears the lock; false when there is no such bot. */
  setLock(tenantId: string, id: string, lock: BotLock | null): Promise<boolean>;
  /** Whether any bot of the tenant uses the role. */
  anyUsesRole(tenantId: string, role: string): Promise<boolean>;
  /** Ids of the bots locked at `now`, in every tenant (their certificates go in the KRL). */
  listLockedIds(now: Date): Promise<string[]>;
}

/** The lock in force at `now`, if any (an expired lock no longer counts). */
export function activeLock(bot: Bot, now: Date): BotLock | null {
  if (!bot.lock) return null;
  if (bot.lock.expiresAt && bot.lock.expiresAt <= now) return null;
  return bot.lock;
}
