// Integration: API token verification across replicas on real PostgreSQL and Redis.
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { isMeziteError, systemClock } from '@mezite/identity';
import { createTestDatabase, nullLogger, RedisCache, runMigrations, type TestDatabase } from '@mezite/platform';
import { Redis } from 'ioredis';
import { ApiTokenCache } from '../domain/api-token-cache';
import { ApiTokenManager } from '../domain/api-token-manager';
import { ApiTokenVerifier } from '../domain/api-token-verifier';
import { failure, until } from '../domain/api-token-harness';
import { LastUseRecorder } from '../domain/last-use-recorder';
import { PrismaApiTokenStore } from './prisma-api-token-store';
import { createPrismaClient, type PrismaClient } from './prisma';

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
/** Every key and channel of this run starts with it; afterAll deletes them. */
const PREFIX = `mezite-test:token-service:${randomBytes(6).toString('hex')}:`;
const pepper = randomBytes(32);

let db: TestDatabase;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const keys = await raw.keys(`${PREFIX}*`);
  if (keys.length) await raw.del(...keys);
  await raw.quit();
  await db.drop();
});

/** One token-service replica: its own database pool, cache connection and in-process cache. */
async function replica(redisUrl = REDIS_URL) {
  const prisma: PrismaClient = createPrismaClient(db.url, 4);
  const cache = new RedisCache({ url: redisUrl, keyPrefix: PREFIX });
  const store = new PrismaApiTokenStore(prisma);
  const tokenCache = new ApiTokenCache(cache);
  const lastUse = new LastUseRecorder({ store, logger: nullLogger });
  const manager = new ApiTokenManager({ store, cache: tokenCache, clock: systemClock, pepper, logger: nullLogger });
  const verifier = new ApiTokenVerifier({ store, cache: tokenCache, clock: systemClock, pepper, logger: nullLogger, lastUse });
  await verifier.start();
  closers.push(async () => {
    await verifier.close();
    await lastUse.close();
    await cache.close();
    await prisma.$disconnect();
  });
  return { store, manager, verifier };
}

const identity = { tenantId: randomUUID(), identityId: randomUUID() };
const mint = (r: { manager: ApiTokenManager }) => r.manager.mint({ ...identity, identityKind: 'service', env: 'live', ttlSeconds: 3600 });

test('with Redis: a token deleted on one replica is refused by another as soon as the deletion returns', async () => {
  const one = await replica();
  const two = await replica();
  const t = await mint(one);
  await two.verifier.verify(t.plaintext); // cached in two's process and in Redis
  await two.verifier.verify(t.plaintext);
  expect(two.verifier.localSize).toBe(1);

  await one.manager.delete({ ...identity, id: t.token.id });
  const err = await failure(two.verifier.verify(t.plaintext));
  expect(err).toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
  await expect(one.verifier.verify(t.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  // The invalidation also reached two's in-process cache (pub/sub is asynchronous: a bounded wait).
  await until(() => two.verifier.localSize === 0);
});

test('with Redis: rotating B cuts off A on every replica at once', async () => {
  const one = await replica();
  const two = await replica();
  const a = await mint(one);
  const b = await one.manager.rotate({ ...identity, id: a.token.id, overlapSeconds: 0 });
  await two.verifier.verify(a.plaintext); // in its overlap: works, and is cached
  await one.manager.rotate({ ...identity, id: b.token.id, overlapSeconds: 0 });
  await expect(two.verifier.verify(a.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated' });
  await two.verifier.verify(b.plaintext);
});

test('with Redis unreachable: PostgreSQL decides, so a revoked token is refused and a valid one verifies', async () => {
  const r = await replica('redis://127.0.0.1:1');
  const valid = await mint(r);
  const revoked = await mint(r);
  // The revocation reaches the database, but it cannot be propagated: the caller is told to retry.
  const del = await failure(r.manager.delete({ ...identity, id: revoked.token.id }));
  expect(isMeziteError(del, 'Unavailable')).toBe(true);
  expect((await r.store.findById(revoked.token.id))?.revokedAt).not.toBeNull();

  const find = jest.spyOn(r.store, 'findByHash');
  await expect(r.verifier.verify(revoked.plaintext)).rejects.toMatchObject({ code: 'Unauthenticated', message: 'invalid api token' });
  expect((await r.verifier.verify(valid.plaintext)).id).toBe(valid.token.id);
  expect((await r.verifier.verify(valid.plaintext)).id).toBe(valid.token.id);
  expect(find).toHaveBeenCalledTimes(3); // nothing cached while the cache is down
  expect(r.verifier.localSize).toBe(0);
});
