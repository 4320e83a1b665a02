import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { PrismaRenewalChallengeStore } from './prisma-renewal-challenge-store';
import { renewalChallengeStoreContract } from './renewal-challenge-store.contract';
import { createPrismaClient } from './prisma';

renewalChallengeStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  // Two clients with pools of their own: two replicas racing on one database.
  const prisma = createPrismaClient(db.url, 8);
  const replica = createPrismaClient(db.url, 8);
  return {
    store: new PrismaRenewalChallengeStore(prisma),
    peer: new PrismaRenewalChallengeStore(replica),
    close: async () => {
      await Promise.all([prisma.$disconnect(), replica.$disconnect()]);
      await db.drop();
    },
  };
});
