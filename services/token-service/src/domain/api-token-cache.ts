import { unavailable } from '@mezite/identity';
import type { Cache } from '@mezite/platform';
import type { ApiTokenInfo } from './api-token';

/** What the shared cache says about a token's validity; written by rotation and deletion only. */
export type ApiTokenState = { revoked: true } | { revoked: false; deadline: Date };

const STATE = 'api-token:state:';
const RECORD = 'api-token:record:';
/** Carries the hash (hex) of a token whose cached copies must be dropped. */
const INVALIDATE = 'api-token:invalidate';

/**
 * The layout of API token state in the shared Cache (Redis with several replicas),
 * keyed by the hex of the token's keyed hash, never by the plaintext:
 *
 * - `api-token:state:<hash>`: `{"revoked":true}` or `{"deadline":<ms>}`, written by
 *   DeleteApiToken and RotateApiToken before they return, kept until the token
 *   expires. Verifiers read it on every verification, so a revocation or a new
 *   deadline is seen by every replica at once.
 * - `api-token:record:<hash>`: a positive verification (the token's metadata), for
 *   a short TTL, written by verifiers, with the time it expires (`sharedUntil`), so a
 *   replica's in-process copy of it expires no later than it does. Never trusted
 *   alone: its validity fields are overridden by the state key, which a late positive
 *   write cannot overwrite.
 * - channel `api-token:invalidate`: the hash of a token rotated or deleted, so every
 *   replica drops its in-process copy.
 *
 * Every method rejects with Unavailable when the Cache cannot be reached.
 */
export class ApiTokenCache {
  constructor(private readonly cache: Cache) {
    if (!cache) throw new Error('ApiTokenCache: cache is required');
  }

  /**
   * The token's state, or null when nothing was written (or it expired). A value that
   * does not parse is Unavailable, so the verifier asks the database instead of
   * guessing.
   */
  async state(key: string): Promise<ApiTokenState | null> {
    const raw = await this.cache.get(STATE + key);
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as { revoked?: unknown; deadline?: unknown };
      if (v.revoked === true) return { revoked: true };
      if (typeof v.deadline === 'number') return { revoked: false, deadline: new Date(v.deadline) };
    } catch {
      // fall through
    }
    throw unavailable('unreadable api token state in the cache');
  }

  /** Records that the token is revoked, for `keepMs`. */
  async markRevoked(key: string, keepMs: number): Promise<void> {
    await this.cache.set(STATE + key, JSON.stringify({ revoked: true }), keepMs);
  }

  /** Records the token's rotation deadline, for `keepMs`. */
  async markDeadline(key: string, deadline: Date, keepMs: number): Promise<void> {
    await this.cache.set(STATE + key, JSON.stringify({ deadline: deadline.getTime() }), keepMs);
  }

  /**
   * A cached positive verification and when it stops being shared (null for a record
   * written without that time, by an older version), or null.
   */
  async record(key: string): Promise<{ info: ApiTokenInfo; until: Date | null } | null> {
    const raw = await this.cache.get(RECORD + key);
    return raw === null ? null : decodeRecord(raw);
  }

  /** Caches a positive verification read from the database at `now` for `ttlMs`. */
  async putRecord(key: string, info: ApiTokenInfo, ttlMs: number, now: Date): Promise<void> {
    await this.cache.set(RECORD + key, JSON.stringify({ ...info, sharedUntil: now.getTime() + ttlMs }), ttlMs);
  }

  /** Drops the cached positive verification and tells every replica to drop its own. */
  async invalidate(key: string): Promise<void> {
    await this.cache.del(RECORD + key);
    await this.cache.publish(INVALIDATE, key);
  }

  /**
   * Calls `onKey` with each invalidated hash, and `onGap` whenever invalidations may
   * have been lost (the cache connection dropped); returns the unsubscribe function.
   */
  onInvalidate(onKey: (key: string) => void, onGap?: () => void): Promise<() => Promise<void>> {
    return this.cache.subscribe(INVALIDATE, onKey, onGap);
  }
}

const DATE_FIELDS = ['createdAt', 'expiresAt', 'lastUsedAt', 'rotatedAt', 'rotationDeadline', 'revokedAt'] as const;

/** Parses a cached record; null (a miss) when it is not one. */
function decodeRecord(raw: string): { info: ApiTokenInfo; until: Date | null } | null {
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    if (typeof v.id !== 'string' || typeof v.expiresAt !== 'string' || typeof v.createdAt !== 'string') return null;
    for (const f of DATE_FIELDS) v[f] = v[f] === null || v[f] === undefined ? null : new Date(v[f] as string);
    const { sharedUntil, ...info } = v;
    return { info: info as unknown as ApiTokenInfo, until: typeof sharedUntil === 'number' ? new Date(sharedUntil) : null };
  } catch {
    return null;
  }
}
