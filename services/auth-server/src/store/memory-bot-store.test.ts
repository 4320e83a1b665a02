import { randomUUID } from 'node:crypto';
import { botStoreContract } from './bot-store.contract';
import { MemoryBotStore } from './memory-bot-store';

botStoreContract('memory', async () => ({ store: new MemoryBotStore(), tenants: [randomUUID(), randomUUID()], close: async () => {} }));
