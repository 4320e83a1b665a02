// Verification leases (VerifyApiTokens' lease_ms): a deletion or rotation returns only
// once a lease's length has passed since verifiers could see it, so no answer an
// auth-server reuses outlives a revocation that returned.
import { randomBytes, randomUUID } from 'node:crypto';
import { FakeClock, unavailable } from '@mezite/identity';
import { MemoryCache, nullLogger, type Cache } from '@mezite/platform';
import { MemoryApiTokenStore } from '../store/memory-api-token-store';
import { ApiTokenCache } from './api-token-cache';
import { ApiTokenManager } from './api-token-manager';

/** A manager whose cache writes and waits are recorded in order; each wait ends when the test says. */
function recorded(o: { cacheDown?: boolean } = {}) {
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  const events: string[] = [];
  const waits: Array<() => void> = [];
  const mem = new MemoryCache({ clock });
  const cache: Cache = {
    get: (k) => mem.get(k),
    set: async (k, v, ttl) => {
      if (o.cacheDown) throw unavailable('cache down');
      events.push(`set ${k.split(':')[1]} ${v}`);
      return mem.set(k, v, ttl);
    },
    del: (...k) => mem.del(...k),
    publish: async (c, m) => {
      events.push('publish');
      return mem.publish(c, m);
    },
    subscribe: (c, f) => mem.subscribe(c, f),
    ping: () => mem.ping(),
    close: () => mem.close(),
  };
  const sleep = (ms: number) => {
    events.push(`wait ${ms}`);
    return new Promise<void>((r) => waits.push(r));
  };
  const manager = new ApiTokenManager({ store: new MemoryApiTokenStore(), cache: new ApiTokenCache(cache), clock, pepper: randomBytes(32), logger: nullLogger, verificationLeaseMs: 1000, sleep });
  const who = { tenantId: randomUUID(), identityId: randomUUID() };
  const mint = () => manager.mint({ ...who, identityKind: 'service', env: 'live', ttlSeconds: 0 });
  /** Whether `p` has settled after the microtasks queued now have run. */
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    await new Promise((r) => setImmediate(r));
    return done;
  };
  return { manager, who, mint, events, waits, settled };
}

test('a deletion marks the token revoked, then waits out the lease before it returns', async () => {
  const r = recorded();
  const t = await r.mint();
  const del = r.manager.delete({ ...r.who, id: t.token.id });
  expect(await r.settled(del)).toBe(false);
  expect(r.events).toEqual(['set state {"revoked":true}', 'publish', 'wait 1000']);
  r.waits[0]?.();
  await del;
});

test('a deletion that cannot reach the cache still waits out the lease before it answers Unavailable', async () => {
  const r = recorded({ cacheDown: true });
  const t = await r.mint();
  const del = r.manager.delete({ ...r.who, id: t.token.id });
  expect(await r.settled(del)).toBe(false);
  expect(r.events).toEqual(['wait 1000']);
  r.waits[0]?.();
  await expect(del).rejects.toMatchObject({ code: 'Unavailable' });
});

test('a rotation whose deadline is further than a lease returns at once: no lease outlives it', async () => {
  const r = recorded();
  const t = await r.mint();
  const rot = await r.manager.rotate({ ...r.who, id: t.token.id, overlapSeconds: 0 }); // 48 h
  expect(rot.plaintext).toMatch(/^psk_live_/);
  expect(r.events).toEqual([expect.stringMatching(/^set state \{"deadline":\d+\}$/), 'publish']);
});

test('a rotation that cuts a predecessor off now shares the deadlines, then waits out the lease before it returns', async () => {
  const r = recorded();
  const t = await r.mint();
  const first = await r.manager.rotate({ ...r.who, id: t.token.id, overlapSeconds: 0 });
  r.events.length = 0;
  const rot = r.manager.rotate({ ...r.who, id: first.token.id, overlapSeconds: 0 }); // cuts `t` off
  expect(await r.settled(rot)).toBe(false);
  expect(r.events.filter((e) => e.startsWith('set'))).toHaveLength(2);
  expect(r.events.at(-1)).toBe('wait 1000');
  r.waits[0]?.();
  expect((await rot).plaintext).toMatch(/^psk_live_/);
});

test('a rotation with an overlap as long as a lease needs no wait: it waits only what a lease exceeds the overlap by', async () => {
  const r = recorded();
  const t = await r.mint();
  const rot = r.manager.rotate({ ...r.who, id: t.token.id, overlapSeconds: 1 }); // 1 s = the lease (FakeClock: no time passes)
  expect(await r.settled(rot)).toBe(true);
  expect(r.events.filter((e) => e.startsWith('wait'))).toEqual([]);
});

test('without a lease nothing waits', async () => {
  const clock = new FakeClock();
  const sleep = jest.fn(async () => undefined);
  const manager = new ApiTokenManager({ store: new MemoryApiTokenStore(), cache: new ApiTokenCache(new MemoryCache({ clock })), clock, pepper: randomBytes(32), logger: nullLogger, sleep });
  const who = { tenantId: randomUUID(), identityId: randomUUID() };
  const t = await manager.mint({ ...who, identityKind: 'service', env: 'live', ttlSeconds: 0 });
  await manager.rotate({ ...who, id: t.token.id, overlapSeconds: 0 });
  await manager.delete({ ...who, id: t.token.id });
  expect(sleep).not.toHaveBeenCalled();
});

test('the default wait lasts at least the lease', async () => {
  const clock = new FakeClock();
  const manager = new ApiTokenManager({ store: new MemoryApiTokenStore(), cache: new ApiTokenCache(new MemoryCache({ clock })), clock, pepper: randomBytes(32), logger: nullLogger, verificationLeaseMs: 50 });
  const who = { tenantId: randomUUID(), identityId: randomUUID() };
  const t = await manager.mint({ ...who, identityKind: 'service', env: 'live', ttlSeconds: 0 });
  const started = performance.now();
  await manager.delete({ ...who, id: t.token.id });
  expect(performance.now() - started).toBeGreaterThanOrEqual(50);
});
