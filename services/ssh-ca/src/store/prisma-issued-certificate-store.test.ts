import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import type { CaType } from '../domain/cert-authority';
import { issuedCertificateStoreContract } from './issued-certificate-store.contract';
import { PrismaCertAuthorityStore } from './prisma-cert-authority-store';
import { PrismaIssuedCertificateStore } from './prisma-issued-certificate-store';
import { createPrismaClient } from './prisma';

issuedCertificateStoreContract('prisma', async () => {
  const db = await createTestDatabase();
  await runMigrations({ databaseUrl: db.url, schema: 'sshca', dir: join(__dirname, '..', '..', 'migrations') });
  const prisma = createPrismaClient(db.url, 4);
  // issued_certificates.ca_id references cert_authorities: log under two real CA rows.
  const cas = new PrismaCertAuthorityStore(prisma);
  const ca = async (type: CaType) =>
    (await cas.insertActiveIfNone({ id: randomUUID(), type, algorithm: 'ecdsa-p256', publicKey: 'ecdsa-sha2-nistp256 AAAA', fingerprint: `SHA256:${type}`, encryptedPrivateKey: randomBytes(64), state: 'active', createdAt: new Date() })).id;
  return {
    store: new PrismaIssuedCertificateStore(prisma),
    caIds: [await ca('user'), await ca('host')],
    close: async () => {
      await prisma.$disconnect();
      await db.drop();
    },
  };
});
