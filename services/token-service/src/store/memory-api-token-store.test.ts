import { apiTokenStoreContract } from './api-token-store.contract';
import { MemoryApiTokenStore } from './memory-api-token-store';

apiTokenStoreContract('memory', async () => {
  const store = new MemoryApiTokenStore();
  return { store, peer: store, close: async () => {} };
});
