import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { botStoreContract } from './bot-store.contract';
import { PrismaBotStore } from './prisma-bot-store';
import { createPrismaClient } from './prisma';

botStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  const tenants: [string, string] = [randomUUID(), randomUUID()];
  for (const [i, id] of tenants.entries()) await prisma.tenant.create({ data: { id, domain: `t${i}-${id}`, kind: 'mixed' } });
  return {
    store: new PrismaBotStore(prisma),
    tenants,
    close: async () => {
      await prisma.$disconnect();
      await db.drop();
    },
  };
});
