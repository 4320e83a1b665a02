import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { joinResourceStoreContract } from './join-resource-store.contract';
import { PrismaBotInstanceStore } from './prisma-bot-instance-store';
import { PrismaBotStore } from './prisma-bot-store';
import { PrismaJoinResourceStore } from './prisma-join-resource-store';
import { createPrismaClient } from './prisma';

joinResourceStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  const replica = createPrismaClient(db.url, 4);
  return {
    store: new PrismaJoinResourceStore(prisma),
    peer: new PrismaJoinResourceStore(replica),
    bots: new PrismaBotStore(prisma),
    instances: new PrismaBotInstanceStore(prisma),
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
