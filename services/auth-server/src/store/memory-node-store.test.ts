import { randomUUID } from 'node:crypto';
import { MemoryNodeStore } from './memory-node-store';
import { nodeStoreContract } from './node-store.contract';

nodeStoreContract('memory', async () => ({ store: new MemoryNodeStore(), tenants: [randomUUID(), randomUUID()], close: async () => {} }));
