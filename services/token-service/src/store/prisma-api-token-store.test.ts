import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { apiTokenStoreContract } from './api-token-store.contract';
import { PrismaApiTokenStore } from './prisma-api-token-store';
import { createPrismaClient } from './prisma';

apiTokenStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
  // Two clients with pools of their own: two replicas racing on one database.
  const prisma = createPrismaClient(db.url, 10);
  const replica = createPrismaClient(db.url, 10);
  return {
    store: new PrismaApiTokenStore(prisma),
    peer: new PrismaApiTokenStore(replica),
    close: async () => {
      await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
      await db.drop();
    },
  };
});
