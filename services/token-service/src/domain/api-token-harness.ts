import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock } from '@mezite/identity';
import { MemoryCache, nullLogger, type Cache } from '@mezite/platform';
import { MemoryApiTokenStore } from '../store/memory-api-token-store';
import { ApiTokenCache } from './api-token-cache';
import { ApiTokenManager } from './api-token-manager';
import type { ApiTokenStore } from './api-token-store';
import { ApiTokenVerifier } from './api-token-verifier';
import { LastUseRecorder } from './last-use-recorder';

/**
 * For tests: one token-service "replica" (manager, verifier, last-use recorder) on a
 * store and a cache that other replicas may share. Defaults: memory store, a
 * MemoryCache on a FakeClock.
 */
export function apiTokenReplica(opts: { store?: ApiTokenStore; cache?: Cache; clock?: FakeClock; pepper?: Buffer; rotationOverlapMs?: number } = {}) {
  const clock = opts.clock ?? new FakeClock('2026-01-01T00:00:00Z');
  const store = opts.store ?? new MemoryApiTokenStore();
  const cache = opts.cache ?? new MemoryCache({ clock });
  const pepper = opts.pepper ?? randomBytes(32);
  const tokenCache = new ApiTokenCache(cache);
  const lastUse = new LastUseRecorder({ store, logger: nullLogger });
  const manager = new ApiTokenManager({ store, cache: tokenCache, clock, pepper, logger: nullLogger, usage: lastUse, ...(opts.rotationOverlapMs ? { rotationOverlapMs: opts.rotationOverlapMs } : {}) });
  const verifier = new ApiTokenVerifier({ store, cache: tokenCache, clock, pepper, logger: nullLogger, lastUse });
  const identity = { tenantId: randomUUID(), identityId: randomUUID() };
  /** Mints a token for `identity` (a service, `live`, default lifetime unless given). */
  const mint = (ttlSeconds = 0) => manager.mint({ ...identity, identityKind: 'service', env: 'live', ttlSeconds });
  return { clock, store, cache, pepper, manager, verifier, lastUse, identity, mint };
}

/** The error a promise rejects with (or an Error saying it did not reject). */
export function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
}

/** Polls `cond` every 10 ms for at most `ms`: a bounded wait for asynchronous delivery (pub/sub), not a timing assertion. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
