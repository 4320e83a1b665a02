import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { nodeStoreContract } from './node-store.contract';
import { PrismaNodeStore } from './prisma-node-store';
import { createPrismaClient } from './prisma';

nodeStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  const tenants: [string, string] = [randomUUID(), randomUUID()];
  for (const [i, id] of tenants.entries()) await prisma.tenant.create({ data: { id, domain: `t${i}-${id}`, kind: 'mixed' } });
  return {
    store: new PrismaNodeStore(prisma),
    tenants,
    close: async () => {
      await prisma.$disconnect();
      await db.drop();
    },
  };
});
