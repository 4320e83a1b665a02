import type { KeyUsage } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { ClientSecret } from '../domain/client-secret';
import type { ClientSecretStore } from '../domain/client-secret-store';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

/** A row of token.client_secrets as `pg` returns it. */
type Row = { client_id: string; tenant_id: string; service_identity_id: string; secret_hash: Buffer; pepper_id: string | null; created_at: Date };
const fromRow = (r: Row): ClientSecret => ({
  clientId: r.client_id,
  tenantId: r.tenant_id,
  serviceIdentityId: r.service_identity_id,
  secretHash: Buffer.from(r.secret_hash),
  ...(r.pepper_id === null ? {} : { pepperId: r.pepper_id }),
  createdAt: r.created_at,
});
const COLUMNS = 'client_id, tenant_id, service_identity_id, secret_hash, pepper_id, created_at';

/** ClientSecretStore on PostgreSQL (schema `token`). */
export class PrismaClientSecretStore implements ClientSecretStore {
  /** `find` and `findMany` run on every client_credentials grant: straight on `pg` (prisma.ts). */
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async put(c: ClientSecret): Promise<boolean> {
    try {
      // One statement: insert, or replace the secret only if the owner is the same.
      // Raw, because Prisma's upsert cannot make its update conditional.
      const n = await this.db.$executeRaw`
        INSERT INTO token.client_secrets (client_id, tenant_id, service_identity_id, secret_hash, pepper_id, created_at)
        VALUES (${c.clientId}, ${c.tenantId}::uuid, ${c.serviceIdentityId}::uuid, ${new Uint8Array(c.secretHash)}, ${c.pepperId ?? null}, ${c.createdAt})
        ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, pepper_id = EXCLUDED.pepper_id, created_at = EXCLUDED.created_at
        WHERE client_secrets.tenant_id = EXCLUDED.tenant_id AND client_secrets.service_identity_id = EXCLUDED.service_identity_id`;
      return n === 1;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async find(clientId: string): Promise<ClientSecret | null> {
    try {
      const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM token.client_secrets WHERE client_id = $1`, [clientId]);
      const row = r.rows[0];
      return row ? fromRow(row) : null;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async findMany(clientIds: readonly string[]): Promise<ClientSecret[]> {
    if (clientIds.length === 0) return [];
    try {
      const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM token.client_secrets WHERE client_id = ANY($1::text[])`, [[...new Set(clientIds)]]);
      return r.rows.map(fromRow);
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

  async rehash(r: { clientId: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    try {
      const q = await this.pool.query('UPDATE token.client_secrets SET secret_hash = $3, pepper_id = $4 WHERE client_id = $1 AND secret_hash = $2', [r.clientId, r.from, r.to, r.pepperId]);
      return q.rowCount === 1;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async countByPepper(): Promise<KeyUsage[]> {
    try {
      const q = await this.pool.query<{ pepper_id: string | null; n: string }>('SELECT pepper_id, count(*) AS n FROM token.client_secrets GROUP BY pepper_id ORDER BY pepper_id NULLS LAST');
      return q.rows.map((r) => ({ keyId: r.pepper_id, rows: Number(r.n) }));
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }

  async stampPepper(pepperId: string): Promise<number> {
    try {
      return (await this.pool.query('UPDATE token.client_secrets SET pepper_id = $1 WHERE pepper_id IS NULL', [pepperId])).rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'client secret');
    }
  }
}
