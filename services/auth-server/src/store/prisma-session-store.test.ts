import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { PrismaSessionStore } from './prisma-session-store';
import { createPrismaClient } from './prisma';
import { sessionStoreContract } from './session-store.contract';

sessionStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  const replica = createPrismaClient(db.url, 4);
  return {
    store: new PrismaSessionStore(prisma),
    peer: new PrismaSessionStore(replica),
    newTenant: async () => {
      const id = randomUUID();
      await prisma.tenant.create({ data: { id, domain: `t-${id}`, kind: 'mixed' } });
      return id;
    },
    close: async () => {
      await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
      await db.drop();
    },
  };
});
