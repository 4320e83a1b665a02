import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { joinTokenStoreContract } from './join-token-store.contract';
import { PrismaJoinTokenStore } from './prisma-join-token-store';
import { createPrismaClient } from './prisma';

joinTokenStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  return {
    store: new PrismaJoinTokenStore(prisma),
    close: async () => {
      await prisma.$disconnect();
      await db.drop();
    },
  };
});
