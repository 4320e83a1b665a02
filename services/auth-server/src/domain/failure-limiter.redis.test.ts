import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { FakeClock } from '@mezite/identity';
import { RedisCache } from '@mezite/platform';
import { clientAuthKeys, FailureLimiter } from './failure-limiter';

/** Two auth-server replicas' failure limiters on the real Redis (issue 14): the budget is shared, and Redis going away leaves per-replica limits, not none. */
const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const RUN_PREFIX = `mezite-test:${randomBytes(6).toString('hex')}:`;
let n = 0;
const nextPrefix = () => `${RUN_PREFIX}${++n}:`;
const opened: RedisCache[] = [];
const cacheOf = (url: string, keyPrefix: string) => {
  const c = new RedisCache({ url, keyPrefix, timeoutMs: 500 });
  opened.push(c);
  return c;
};

// Every counter expires one window (60 s) after its first failure (RedisCache.incr, its
// contract test), so the run's keys under RUN_PREFIX clean themselves up.
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close()));
});

const MAX = 5;
/** Attempts (bounded) alternating between the replicas until both refuse; returns how many failures they let through. */
async function failuresAllowed(replicas: FailureLimiter[], keys: { check: string[]; fail: string[] }): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < 50; i++) {
    const l = replicas[i % replicas.length] as FailureLimiter;
    try {
      l.check(keys.check);
    } catch {
      continue;
    }
    allowed++;
    await l.fail(keys.fail);
  }
  return allowed;
}

/** A TCP proxy in front of the real Redis, which a test closes (an outage) and opens again on the same port. */
async function redisProxy(): Promise<{ url: string; down(): Promise<void>; up(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const up = async () => {
    const s = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      for (const x of [client, upstream]) {
        sockets.add(x);
        x.on('error', () => undefined);
        x.on('close', () => {
          sockets.delete(x);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  await up();
  return {
    url: `redis://127.0.0.1:${port}`,
    up,
    down: async () => {
      const s = server;
      if (!s) return;
      server = undefined;
      const closed = new Promise((r) => s.close(r));
      for (const x of sockets) x.destroy();
      await closed;
    },
  };
}

describe('FailureLimiter shared through Redis', () => {
  test('two replicas share one budget: together they allow the limit once (plus one per extra replica), not twice', async () => {
    const prefix = nextPrefix();
    const clock = new FakeClock();
    const replicas = [0, 1].map(() => new FailureLimiter({ clock, maxFailures: MAX, windowMs: 60_000, name: 'client-auth', shared: cacheOf(REDIS_URL, prefix) }));
    const allowed = await failuresAllowed(replicas, clientAuthKeys('svc-deployer', '203.0.113.7'));
    // Per replica, as before, they allowed 2 × MAX = 10.
    expect(allowed).toBeLessThanOrEqual(MAX + 1);
    expect(allowed).toBeGreaterThanOrEqual(MAX);
    // The shared counters are where the budget went.
    expect(await cacheOf(REDIS_URL, prefix).get('client-auth:source:203.0.113.7')).toBe(String(allowed));
  });

  test('a source that failed on one replica is refused by another at its next failure there', async () => {
    const prefix = nextPrefix();
    const clock = new FakeClock();
    const [a, b] = [0, 1].map(() => new FailureLimiter({ clock, maxFailures: MAX, windowMs: 60_000, name: 'bearer', shared: cacheOf(REDIS_URL, prefix) })) as [FailureLimiter, FailureLimiter];
    for (let i = 0; i < MAX; i++) await a.fail(['source:203.0.113.9']);
    expect(() => a.check(['source:203.0.113.9'])).toThrow(/too many failed attempts/);
    expect(await b.fail(['source:203.0.113.9'])).toEqual([MAX + 1]);
    expect(() => b.check(['source:203.0.113.9'])).toThrow(/too many failed attempts/);
  });

  test('with Redis unreachable each replica still limits on its own, and shares again once Redis is back, without a restart', async () => {
    const proxy = await redisProxy();
    const prefix = nextPrefix();
    const clock = new FakeClock();
    const warned: string[] = [];
    const log = { warn: (m: string) => warned.push(m), info: (m: string) => warned.push(m) };
    const replicas = [0, 1].map(() => new FailureLimiter({ clock, maxFailures: MAX, windowMs: 60_000, name: 'client-auth', shared: cacheOf(proxy.url, prefix), log }));
    await proxy.down();
    const allowed = await failuresAllowed(replicas, clientAuthKeys('svc-deployer', '203.0.113.7'));
    expect(allowed).toBe(2 * MAX); // per replica: never unlimited
    expect(warned).toContain('failure limits are per replica: the shared counts are unreachable');

    await proxy.up();
    const keys = clientAuthKeys('svc-deployer', '198.51.100.4');
    // Bounded wait for the clients to reconnect (their backoff is at most 1 s).
    for (let i = 0; i < 40 && !warned.includes('failure limits are shared again'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      await (replicas[0] as FailureLimiter).fail(['probe:reconnect']);
    }
    expect(warned).toContain('failure limits are shared again');
    expect(await failuresAllowed(replicas, keys)).toBeLessThanOrEqual(MAX + 1);
    await proxy.down();
  });

  test('a closed port: the limit applies per replica', async () => {
    const clock = new FakeClock();
    const l = new FailureLimiter({ clock, maxFailures: MAX, windowMs: 60_000, name: 'client-auth', shared: cacheOf('redis://127.0.0.1:1', nextPrefix()) });
    expect(await failuresAllowed([l], clientAuthKeys('c', '203.0.113.8'))).toBe(MAX);
  });
});
