import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { joinTokenStoreContract } from './join-token-store.contract';
import { PrismaJoinTokenStore } from './prisma-join-token-store';
import { createPrismaClient } from './prisma';

joinTokenStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
  // Two clients with pools of their own: two replicas racing on one database.
  const prisma = createPrismaClient(db.url, 20);
  const replica = createPrismaClient(db.url, 20);
  return {
    store: new PrismaJoinTokenStore(prisma),
    peer: new PrismaJoinTokenStore(replica),
    close: async () => {
      await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
      await db.drop();
    },
  };
});
