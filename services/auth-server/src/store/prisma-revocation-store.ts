import { translateDbError } from '@mezite/platform';
import type { Revocation, RevocationStore } from '../domain/revocation';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

/**
 * RevocationStore on PostgreSQL (schema `auth`, table `revocations`). `isRevoked` runs
 * on every renewal and certificate-authenticated call: one statement straight on `pg`
 * (prisma.ts, pgPoolOf).
 */
export class PrismaRevocationStore implements RevocationStore {
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async add(r: Revocation): Promise<void> {
    try {
      await this.db.revocation.create({ data: r });
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    try {
      const r = await this.pool.query({ text: 'DELETE FROM auth.revocations WHERE id IN (SELECT id FROM auth.revocations WHERE expires_at < $1 LIMIT $2)', values: [before, limit] });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }

  async isRevoked(q: { serial: string; subjectId: string }, now: Date): Promise<boolean> {
    try {
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q.subjectId);
      const r = await this.pool.query({
        name: 'auth.revocation_exists',
        text: 'SELECT 1 FROM auth.revocations WHERE expires_at > $1 AND (serial = $2 OR subject_id = $3::uuid) LIMIT 1',
        values: [now, q.serial, uuid ? q.subjectId : null],
      });
      return r.rows.length > 0;
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }

  async listLive(now: Date): Promise<Revocation[]> {
    try {
      return await this.db.revocation.findMany({ where: { expiresAt: { gt: now } }, orderBy: { createdAt: 'asc' } });
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }
}
