import { MemoryRenewalChallengeStore } from './memory-renewal-challenge-store';
import { renewalChallengeStoreContract } from './renewal-challenge-store.contract';

renewalChallengeStoreContract('memory', async () => {
  const store = new MemoryRenewalChallengeStore();
  return { store, peer: store, close: async () => undefined };
});
