import { randomUUID } from 'node:crypto';
import { MemorySessionStore } from './memory-session-store';
import { sessionStoreContract } from './session-store.contract';

sessionStoreContract('memory', async () => {
  const store = new MemorySessionStore();
  return { store, peer: store, newTenant: async () => randomUUID(), close: async () => {} };
});
