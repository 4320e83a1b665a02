import { FakeClock } from '@mezite/identity';
import { describeCacheContract } from './cache-contract';
import { MemoryCache } from './memory-cache';

describeCacheContract('MemoryCache', async () => {
  const clock = new FakeClock();
  const cache = new MemoryCache({ clock });
  return {
    cache,
    peer: cache,
    advance: async (ms) => clock.advance(ms),
    dispose: () => cache.close(),
  };
});

describe('MemoryCache', () => {
  test('a TTL expires exactly at its deadline on the injected clock', async () => {
    const clock = new FakeClock();
    const cache = new MemoryCache({ clock });
    await cache.set('k', 'v', 1000);
    clock.advance(999);
    expect(await cache.get('k')).toBe('v');
    clock.advance(1);
    expect(await cache.get('k')).toBeNull();
  });

  test('expired entries nobody reads again are swept', async () => {
    const clock = new FakeClock();
    const cache = new MemoryCache({ clock });
    for (let i = 0; i < 999; i++) await cache.set(`old-${i}`, 'v', 10);
    clock.advance(20);
    await cache.set('trigger', 'v'); // the 1000th write sweeps
    expect(cache.size).toBe(1);
  });
});
