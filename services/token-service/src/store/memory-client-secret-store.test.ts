import { clientSecretStoreContract } from './client-secret-store.contract';
import { MemoryClientSecretStore } from './memory-client-secret-store';

clientSecretStoreContract('memory', async () => ({ store: new MemoryClientSecretStore(), close: async () => {} }));
