import { translateDbError } from '@mezite/platform';
import type { ClientSecret } from '../domain/client-secret';
import type { ClientSecretStore } from '../domain/client-secret-store';
import type { PrismaClient } from './prisma';

/** ClientSecretStore on PostgreSQL (schema `token`). */
export class PrismaClientSecretStore implements ClientSecretStore {
  constructor(private readonly db: PrismaClient) {}

  async put(c: ClientSecret): Promise<boolean> {
    try {
      // One statement: insert, or replace the secret only if the owner is the same.
      // Raw, because Prisma's upsert cannot make its update conditional.
      const n = await this.db.$executeRaw`
        INSERT INTO token.client_secrets (client_id, tenant_id, service_identity_id, secret_hash, created_at)
        VALUES (${c.clientId}, ${c.tenantId}::uuid, ${c.serviceIdentityId}::uuid, ${new Uint8Array(c.secretHash)}, ${c.createdAt})
        ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, created_at = EXCLUDED.created_at
        WHERE client_secrets.tenant_id = EXCLUDED.tenant_id AND client_secrets.service_identity_id = EXCLUDED.service_identity_id`;
      return n === 1;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async find(clientId: string): Promise<ClientSecret | null> {
    try {
      const r = await this.db.clientSecret.findUnique({ where: { clientId } });
      return r ? { ...r, secretHash: Buffer.from(r.secretHash) } : null;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async delete(clientId: string): Promise<boolean> {
    try {
      return (await this.db.clientSecret.deleteMany({ where: { clientId } })).count === 1;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }
}
