import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, keyedHash, keyId, keyRing, type KeyRing } from '@mezite/identity';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import type { SessionStore } from '../domain/session';
import { SessionManager } from '../domain/session-manager';
import { MemorySessionStore } from './memory-session-store';
import { PrismaSessionStore } from './prisma-session-store';
import { createPrismaClient } from './prisma';

interface World {
  store: SessionStore;
  tenantId: string;
  close(): Promise<void>;
}

const backends: Array<[string, () => Promise<World>]> = [
  ['memory', async () => ({ store: new MemorySessionStore(), tenantId: randomUUID(), close: async () => {} })],
  [
    'postgres',
    async () => {
      const db = await createTestDatabase();
      await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
      const prisma = createPrismaClient(db.url, 4);
      const tenantId = randomUUID();
      await prisma.tenant.create({ data: { id: tenantId, domain: `t-${tenantId}`, kind: 'mixed' } });
      return {
        store: new PrismaSessionStore(prisma),
        tenantId,
        close: async () => {
          await prisma.$disconnect();
          await db.drop();
        },
      };
    },
  ],
];

describe.each(backends)('session pepper rotation on %s', (_name, make) => {
  let w: World;
  const clock = new FakeClock('2026-01-01T00:00:00Z');
  beforeAll(async () => {
    w = await make();
  });
  afterAll(async () => w.close());

  /** The auth-server's sessions as it starts with these peppers (the store outlives it). */
  const start = (peppers: KeyRing) => new SessionManager({ store: w.store, clock, peppers });
  const open = (m: SessionManager) => m.create({ tenantId: w.tenantId, principalKind: 'user', principalId: randomUUID(), name: 'alice', authMethod: 'interactive-session', roles: ['admin'], ttlMs: 3_600_000 });

  test('a session made under A works after a restart with B (A previous), is re-hashed to B, then needs only B; an unused one is refused once A is dropped', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const used = await open(start(keyRing(a)));
    const unused = await open(start(keyRing(a)));
    expect(used.session.pepperId).toBe(keyId(a));

    const rotating = start(keyRing(b, [a]));
    expect((await rotating.authenticate(used.secret)).sessionId).toBe(used.session.id);
    expect(await w.store.findByHash(keyedHash(b, used.secret))).toMatchObject({ id: used.session.id, pepperId: keyId(b) });
    expect(await w.store.findByHash(keyedHash(a, used.secret))).toBeNull();
    const usage = new Map((await rotating.keyUsage()).map((u) => [u.keyId, u.rows]));
    expect(usage.get(keyId(a))).toBe(1); // the unused session still needs A
    expect(usage.get(keyId(b))).toBe(1);

    const afterA = start(keyRing(b));
    expect((await afterA.authenticate(used.secret)).sessionId).toBe(used.session.id);
    await expect(afterA.authenticate(unused.secret)).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('a revoked session stays refused under the previous pepper and is not re-hashed', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const underA = start(keyRing(a));
    const s = await open(underA);
    await underA.revoke(s.session.id);
    await expect(start(keyRing(b, [a])).authenticate(s.secret)).rejects.toMatchObject({ code: 'Unauthenticated' });
    expect(await w.store.findByHash(keyedHash(a, s.secret))).toMatchObject({ pepperId: keyId(a) });
  });
});
