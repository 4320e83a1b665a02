import { invalidArgument } from '@mezite/identity';

/**
 * Hot-path state shared by a service's replicas (rotation deadlines, revocations) and
 * a pub/sub bus for cross-replica invalidation. Implementations: RedisCache (several
 * replicas) and MemoryCache (one process, tests).
 *
 * Contract, checked by one shared suite (cache-contract.ts) against both:
 * - values are strings; a key without a TTL lives until deleted or overwritten, and
 *   `set` without a TTL clears an earlier one;
 * - pub/sub is at-most-once: a message published while a subscriber is disconnected
 *   is lost, so treat it as a hint and keep the truth in the database or in TTLs;
 * - every operation rejects with the domain `Unavailable` when the backend cannot be
 *   reached (within about a second, never queued), and after `close()`.
 */
export interface Cache {
  /** The value under `key`, or null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key`, expiring after `ttlMs` (> 0) when given. */
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** Deletes the keys; absent keys are ignored. */
  del(...keys: string[]): Promise<void>;
  /** Publishes on a channel to every subscriber on every replica. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Subscribes; returns an unsubscribe function. `onGap`, when given, is called each
   * time messages may have been lost (the connection to the backend dropped), so a
   * subscriber can drop whatever the lost messages might have invalidated.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onGap?: () => void): Promise<() => Promise<void>>;
  /** Resolves once the backend is reachable; rejects with Unavailable otherwise. */
  ping(): Promise<void>;
  /** Releases connections; later calls reject with Unavailable. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Counters shared by replicas (failed-authentication limits), kept apart from `Cache`
 * so implementations of `Cache` that need no counter are not forced to grow one.
 * RedisCache and MemoryCache implement both.
 */
export interface CounterCache {
  /**
   * Adds 1 to the counter under `key` (0 when absent) atomically and returns the new
   * value. A counter created by this call expires after `ttlMs` (> 0); later increments
   * keep that expiry, so a counter counts one window from its first increment and is
   * gone after it: keys never outlive their window. Unavailable as for `Cache`.
   */
  incr(key: string, ttlMs: number): Promise<number>;
}

/** Rejects a TTL that is not a positive, finite number of milliseconds (InvalidArgument). */
export function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && !(Number.isFinite(ttlMs) && ttlMs > 0)) throw invalidArgument(`cache TTL must be a positive number of milliseconds, not ${ttlMs}`);
}
