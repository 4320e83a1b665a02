import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { clientSecretStoreContract } from './client-secret-store.contract';
import { PrismaClientSecretStore } from './prisma-client-secret-store';
import { createPrismaClient } from './prisma';

clientSecretStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  return {
    store: new PrismaClientSecretStore(prisma),
    close: async () => {
      await prisma.$disconnect();
      await db.drop();
    },
  };
});
