import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { isMeziteError } from '@mezite/identity';
import { Redis } from 'ioredis';
import { describeCacheContract, until } from './cache-contract';
import { RedisCache } from './redis-cache';

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
/** Every key and channel of this run starts with it; afterAll deletes them. */
const RUN_PREFIX = `mezite-test:${randomBytes(6).toString('hex')}:`;
let n = 0;
const nextPrefix = () => `${RUN_PREFIX}${++n}:`;

const raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${RUN_PREFIX}*`, 'COUNT', 1000);
    if (keys.length) await raw.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await raw.quit();
});

describeCacheContract('RedisCache', async () => {
  const keyPrefix = nextPrefix();
  const cache = new RedisCache({ url: REDIS_URL, keyPrefix });
  const peer = new RedisCache({ url: REDIS_URL, keyPrefix });
  return {
    cache,
    peer,
    advance: (ms) => new Promise((r) => setTimeout(r, ms)),
    dispose: async () => {
      await Promise.all([cache.close(), peer.close()]);
    },
  };
});

/** What `p` rejects with. */
async function rejection(p: Promise<unknown>): Promise<{ err: unknown }> {
  const err = await p.then(() => new Error('expected a rejection'), (e: unknown) => e);
  return { err };
}

/** A TCP proxy in front of the real Redis that a test can take down and bring back. */
async function redisProxy(port = 0): Promise<{ port: number; stop(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      const closed = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('RedisCache', () => {
  test('with Redis unreachable, get (and ping, set) reject with Unavailable at once: no call waits for a reconnection (attempts counted, not timed)', async () => {
    // A port that accepts and drops every connection, counting them: a call that waited
    // for the client to reconnect would be answered only after a second attempt.
    let attempts = 0;
    const refuser = createServer((s) => (attempts++, s.destroy()));
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
    const cache = new RedisCache({ url: `redis://127.0.0.1:${(refuser.address() as AddressInfo).port}`, keyPrefix: nextPrefix() });
    try {
      for (const op of [() => cache.get('k'), () => cache.ping(), () => cache.set('k', 'v')]) {
        const before = attempts;
        const { err } = await rejection(op());
        expect(isMeziteError(err, 'Unavailable')).toBe(true);
        expect((err as Error).message).toBe('cache unavailable');
        expect(attempts - before).toBeLessThanOrEqual(1);
      }
      const sub = await rejection(cache.subscribe('c', () => undefined));
      expect(isMeziteError(sub.err, 'Unavailable')).toBe(true);
    } finally {
      await cache.close();
      await new Promise((r) => refuser.close(r));
    }
  });

  test('keys and channels live under the key prefix; another prefix sees neither', async () => {
    const prefix = nextPrefix();
    const a = new RedisCache({ url: REDIS_URL, keyPrefix: prefix });
    const b = new RedisCache({ url: REDIS_URL, keyPrefix: nextPrefix() });
    try {
      await a.set('k', 'v', 60_000);
      expect(await raw.get(`${prefix}k`)).toBe('v');
      expect(await raw.pttl(`${prefix}k`)).toBeGreaterThan(59_000);
      expect(await b.get('k')).toBeNull();
      const onB: string[] = [];
      const onA: string[] = [];
      await b.subscribe('ch', (m) => onB.push(m));
      await a.subscribe('ch', (m) => onA.push(m));
      await a.publish('ch', 'for a');
      await until(() => onA.length === 1);
      expect(onB).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('fails fast while Redis is away (subscribers are told messages may be lost), then reconnects and re-subscribes on its own', async () => {
    let proxy = await redisProxy();
    const keyPrefix = nextPrefix();
    const cache = new RedisCache({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix });
    const direct = new RedisCache({ url: REDIS_URL, keyPrefix });
    try {
      await cache.set('k', 'v');
      const got: string[] = [];
      let gaps = 0;
      await cache.subscribe('revoked', (m) => got.push(m), () => gaps++);

      await proxy.stop();
      const down = await rejection(cache.get('k'));
      expect(isMeziteError(down.err, 'Unavailable')).toBe(true);
      await until(() => gaps === 1);

      proxy = await redisProxy(proxy.port);
      let value: string | null = null;
      const deadline = Date.now() + 5000;
      while (value === null && Date.now() < deadline) {
        value = await cache.get('k').catch(() => null);
        if (value === null) await new Promise((r) => setTimeout(r, 100));
      }
      expect(value).toBe('v');

      // The subscriber connection comes back on its own schedule; publish until it hears.
      for (let i = 0; got.length === 0 && i < 50; i++) {
        await direct.publish('revoked', `tok-${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(got.length).toBeGreaterThan(0);
      expect(gaps).toBe(1); // once per loss, not once per reconnection attempt
    } finally {
      await Promise.all([cache.close(), direct.close()]);
      await proxy.stop();
    }
  });
});
