import { joinTokenStoreContract } from './join-token-store.contract';
import { MemoryJoinTokenStore } from './memory-join-token-store';

joinTokenStoreContract('memory', async () => ({ store: new MemoryJoinTokenStore(), close: async () => {} }));
