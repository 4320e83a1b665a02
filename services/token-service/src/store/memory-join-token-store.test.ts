import { joinTokenStoreContract } from './join-token-store.contract';
import { MemoryJoinTokenStore } from './memory-join-token-store';

joinTokenStoreContract('memory', async () => {
  const store = new MemoryJoinTokenStore();
  return { store, peer: store, close: async () => {} };
});
