import { isMeziteError } from '@mezite/identity';
import type { Cache, CounterCache } from './cache';

/** What one test of the contract gets from an implementation's factory. */
export interface CacheHarness {
  /** The cache under test. */
  cache: Cache & CounterCache;
  /** A handle on the same backend as a second replica sees it (`cache` itself for in-process caches). */
  peer: Cache & CounterCache;
  /** Lets `ms` of cache time pass: moves a fake clock, or sleeps for a real backend. */
  advance(ms: number): Promise<void>;
  /** Closes what the factory opened. */
  dispose(): Promise<void>;
}

/** Polls `cond` every 10 ms for at most `ms`; a bounded wait for asynchronous delivery. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The one test suite every Cache implementation passes (STYLE.md §4): call it from the
 * implementation's test file with a factory that builds a fresh, isolated harness.
 */
export function describeCacheContract(name: string, make: () => Promise<CacheHarness>): void {
  describe(`${name} (Cache contract)`, () => {
    let h: CacheHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.dispose();
    });

    test('get of a missing key is null; set then get returns the value; set again overwrites', async () => {
      expect(await h.cache.get('k')).toBeNull();
      await h.cache.set('k', 'v1');
      expect(await h.cache.get('k')).toBe('v1');
      await h.cache.set('k', '');
      expect(await h.cache.get('k')).toBe('');
      await h.cache.set('k', 'wört ✓ {"json":true}');
      expect(await h.peer.get('k')).toBe('wört ✓ {"json":true}');
    });

    test('del removes every key given and ignores absent ones', async () => {
      await h.cache.set('a', '1');
      await h.cache.set('b', '2');
      await h.cache.set('c', '3');
      await h.cache.del('a', 'b', 'absent');
      await h.cache.del();
      expect([await h.cache.get('a'), await h.cache.get('b'), await h.cache.get('c')]).toEqual([null, null, '3']);
    });

    test('a value with a TTL is there until the TTL passes, then gone', async () => {
      await h.cache.set('t', 'v', 300);
      await h.advance(50);
      expect(await h.cache.get('t')).toBe('v');
      await h.advance(350);
      expect(await h.cache.get('t')).toBeNull();
    });

    test('set without a TTL clears an earlier TTL', async () => {
      await h.cache.set('t', 'v1', 200);
      await h.cache.set('t', 'v2');
      await h.advance(300);
      expect(await h.cache.get('t')).toBe('v2');
    });

    test.each([0, -5, Number.NaN, Number.POSITIVE_INFINITY])('a TTL of %p is InvalidArgument', async (ttl) => {
      await expect(h.cache.set('bad', 'v', ttl)).rejects.toMatchObject({ code: 'InvalidArgument' });
      expect(await h.cache.get('bad')).toBeNull();
    });

    test('incr counts atomically across replicas, from 1, for one window from the first increment', async () => {
      const counts = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h.peer : h.cache).incr('n', 300)));
      expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      await h.advance(150);
      expect(await h.cache.incr('n', 300)).toBe(21); // a later increment does not extend the window
      await h.advance(250);
      expect(await h.peer.incr('n', 300)).toBe(1);
      await expect(h.cache.incr('n', 0)).rejects.toMatchObject({ code: 'InvalidArgument' });
    });

    test('a message published (by another replica) reaches every subscriber of the channel, in order', async () => {
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      await h.cache.subscribe('revoked', (m) => a.push(m));
      await h.cache.subscribe('revoked', (m) => b.push(m));
      await h.cache.subscribe('other', (m) => other.push(m));
      await h.peer.publish('revoked', 'tok-1');
      await h.peer.publish('revoked', 'tok-2');
      await until(() => a.length >= 2 && b.length >= 2);
      expect(a).toEqual(['tok-1', 'tok-2']);
      expect(b).toEqual(['tok-1', 'tok-2']);
      expect(other).toEqual([]);
    });

    test('after unsubscribe a handler gets nothing more; the other subscribers still do', async () => {
      const gone: string[] = [];
      const kept: string[] = [];
      const unsubscribe = await h.cache.subscribe('ch', (m) => gone.push(m));
      await h.cache.subscribe('ch', (m) => kept.push(m));
      await h.peer.publish('ch', 'one');
      await until(() => gone.length === 1 && kept.length === 1);
      await unsubscribe();
      await unsubscribe(); // twice is fine
      await h.peer.publish('ch', 'two');
      await until(() => kept.length === 2);
      expect(gone).toEqual(['one']);
      expect(kept).toEqual(['one', 'two']);
    });

    test('a subscriber that throws does not keep the message from the others', async () => {
      const got: string[] = [];
      await h.cache.subscribe('ch', () => {
        throw new Error('handler bug');
      });
      await h.cache.subscribe('ch', (m) => got.push(m));
      await h.peer.publish('ch', 'm');
      await until(() => got.length === 1);
      expect(got).toEqual(['m']);
    });

    test('ping resolves; after close every operation is Unavailable, and close twice is fine', async () => {
      await expect(h.cache.ping()).resolves.toBeUndefined();
      await h.cache.close();
      await h.cache.close();
      for (const op of [() => h.cache.get('k'), () => h.cache.set('k', 'v'), () => h.cache.publish('c', 'm'), () => h.cache.ping(), () => h.cache.subscribe('c', () => undefined)]) {
        const err = await op().then(() => undefined, (e: unknown) => e);
        expect(isMeziteError(err, 'Unavailable')).toBe(true);
      }
    });
  });
}
