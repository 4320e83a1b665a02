import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { joinTokenStoreContract } from './join-token-store.contract';
import { PrismaBotInstanceStore } from './prisma-bot-instance-store';
import { PrismaBotStore } from './prisma-bot-store';
import { PrismaJoinTokenStore } from './prisma-join-token-store';
import { PrismaNodeStore } from './prisma-node-store';
import { createPrismaClient } from './prisma';

joinTokenStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
  // Two clients with pools of their own: two replicas racing on one database. A waiting
  // redemption holds its connection, so the 20 racers get 24 between them.
  const prisma = createPrismaClient(db.url, 12);
  const replica = createPrismaClient(db.url, 12);
  return {
    store: new PrismaJoinTokenStore(prisma),
    peer: new PrismaJoinTokenStore(replica),
    bots: new PrismaBotStore(prisma),
    instances: new PrismaBotInstanceStore(prisma),
    nodes: new PrismaNodeStore(prisma),
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
