import { randomUUID } from 'node:crypto';
import { joinTokenStoreContract } from './join-token-store.contract';
import { MemoryBotInstanceStore } from './memory-bot-instance-store';
import { MemoryBotStore } from './memory-bot-store';
import { MemoryJoinTokenStore } from './memory-join-token-store';
import { MemoryNodeStore } from './memory-node-store';

joinTokenStoreContract('memory', async () => {
  const bots = new MemoryBotStore();
  const instances = new MemoryBotInstanceStore({ bots });
  const nodes = new MemoryNodeStore();
  const store = new MemoryJoinTokenStore({ instances, nodes });
  return { store, peer: store, bots, instances, nodes, newTenant: async () => randomUUID(), close: async () => {} };
});
