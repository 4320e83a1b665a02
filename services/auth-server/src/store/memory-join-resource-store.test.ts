import { randomUUID } from 'node:crypto';
import { joinResourceStoreContract } from './join-resource-store.contract';
import { MemoryBotInstanceStore } from './memory-bot-instance-store';
import { MemoryBotStore } from './memory-bot-store';
import { MemoryJoinResourceStore } from './memory-join-resource-store';

joinResourceStoreContract('memory', async () => {
  const bots = new MemoryBotStore();
  const instances = new MemoryBotInstanceStore({ bots });
  const store = new MemoryJoinResourceStore({ instances });
  return { store, peer: store, bots, instances, newTenant: async () => randomUUID(), close: async () => undefined };
});
