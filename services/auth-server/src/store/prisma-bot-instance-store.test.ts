import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { botInstanceStoreContract } from './bot-instance-store.contract';
import { insertInstance, PrismaBotInstanceStore } from './prisma-bot-instance-store';
import { PrismaBotStore } from './prisma-bot-store';
import { createPrismaClient, pgPoolOf } from './prisma';

botInstanceStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  // Two clients with pools of their own: two replicas racing on one database.
  const prisma = createPrismaClient(db.url, 8);
  const replica = createPrismaClient(db.url, 8);
  const pool = pgPoolOf(prisma);
  return {
    store: new PrismaBotInstanceStore(prisma),
    peer: new PrismaBotInstanceStore(replica),
    bots: new PrismaBotStore(prisma),
    newTenant: async () => {
      const id = randomUUID();
      await prisma.tenant.create({ data: { id, domain: `t-${id}`, kind: 'mixed' } });
      return id;
    },
    // The statement a join's redemption runs (PrismaJoinTokenStore), here on the pool.
    createInstance: (instance, first) => insertInstance(pool, instance, first),
    revocations: async (tenantId) => {
      const r = await pool.query<{ serial: string | null; subject_id: string | null; reason: string; created_at: Date; expires_at: Date }>('SELECT serial, subject_id, reason, created_at, expires_at FROM auth.revocations WHERE tenant_id = $1', [tenantId]);
      return r.rows.map((x) => ({ serial: x.serial, subjectId: x.subject_id, reason: x.reason, createdAt: x.created_at, expiresAt: x.expires_at }));
    },
    close: async () => {
      await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
      await db.drop();
    },
  };
});
