import { randomUUID } from 'node:crypto';
import { botInstanceStoreContract } from './bot-instance-store.contract';
import { MemoryBotInstanceStore } from './memory-bot-instance-store';
import { MemoryBotStore } from './memory-bot-store';
import { MemoryRevocationStore } from './memory-node-store';

botInstanceStoreContract('memory', async () => {
  const bots = new MemoryBotStore();
  const revocations = new MemoryRevocationStore();
  const store = new MemoryBotInstanceStore({ bots, revocations });
  return {
    store,
    peer: store,
    bots,
    newTenant: async () => randomUUID(),
    createInstance: async (instance, first) => store.create(instance, first),
    revocations: async (tenantId) => revocations.rows.filter((r) => r.tenantId === tenantId).map(({ serial, subjectId, reason, createdAt, expiresAt }) => ({ serial, subjectId, reason, createdAt, expiresAt })),
    close: async () => {},
  };
});
