import { randomUUID } from 'node:crypto';
import { issuedCertificateStoreContract } from './issued-certificate-store.contract';
import { MemoryIssuedCertificateStore } from './memory-issued-certificate-store';

issuedCertificateStoreContract('memory', async () => ({ store: new MemoryIssuedCertificateStore(), caIds: [randomUUID(), randomUUID()], close: async () => {} }));
