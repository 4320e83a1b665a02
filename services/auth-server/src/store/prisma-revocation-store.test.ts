import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { PrismaRevocationStore } from './prisma-revocation-store';
import { createPrismaClient } from './prisma';

describe('PrismaRevocationStore', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  let store: PrismaRevocationStore;
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
    store = new PrismaRevocationStore(prisma);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

  test('isRevoked: by serial or by subject while the revocation lives; a subject that is no UUID matches by serial only', async () => {
    const subject = randomUUID();
    const tenantId = randomUUID();
    await store.add({ id: randomUUID(), tenantId, subjectId: subject, serial: null, reason: 'bot removed', createdAt: t(0), expiresAt: t(60) });
    await store.add({ id: randomUUID(), tenantId, subjectId: null, serial: '4242', reason: 'revoked', createdAt: t(0), expiresAt: t(30) });
    expect(await store.isRevoked({ serial: '1', subjectId: subject }, t(10))).toBe(true);
    expect(await store.isRevoked({ serial: '1', subjectId: subject }, t(60))).toBe(false);
    expect(await store.isRevoked({ serial: '4242', subjectId: randomUUID() }, t(29))).toBe(true);
    expect(await store.isRevoked({ serial: '4242', subjectId: 'not-a-uuid' }, t(29))).toBe(true);
    expect(await store.isRevoked({ serial: '4242', subjectId: 'not-a-uuid' }, t(30))).toBe(false);
    expect(await store.isRevoked({ serial: '1', subjectId: randomUUID() }, t(10))).toBe(false);
    expect((await store.listLive(t(10))).map((r) => r.reason).sort()).toEqual(['bot removed', 'revoked']);
  });
});
