import type { Clock } from '@mezite/identity';

/**
 * `fn` with each key's resolved result kept for `ttlMs` (failures are not kept), for
 * lookups of configuration that changes rarely and is read on a hot path — a tenant's
 * machine identity provider on every client_credentials grant. At most `maxKeys` are
 * kept; past that the memo starts over.
 */
export function keptFor<T>(ttlMs: number, clock: Clock, fn: (key: string) => Promise<T>, maxKeys = 10_000): (key: string) => Promise<T> {
  let kept = new Map<string, { value: T; until: number }>();
  return async (key) => {
    const now = clock.now().getTime();
    const hit = kept.get(key);
    if (hit && hit.until > now) return hit.value;
    const value = await fn(key);
    if (kept.size >= maxKeys) kept = new Map();
    kept.set(key, { value, until: now + ttlMs });
    return value;
  };
}
