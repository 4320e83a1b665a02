import type { AuthMethod, KeyUsage, PrincipalKind } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { Session, SessionStore } from '../domain/session';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['session']['findUnique']>>>;

function toDomain(r: Row): Session {
  const { pepperId, ...rest } = r;
  return { ...rest, principalKind: r.principalKind as PrincipalKind, authMethod: r.authMethod as AuthMethod, tokenHash: Buffer.from(r.tokenHash), ...(pepperId === null ? {} : { pepperId }) };
}

/** SessionStore on PostgreSQL. */
export class PrismaSessionStore implements SessionStore {
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async create(s: Session): Promise<void> {
    try {
      await this.db.session.create({ data: { ...s, tokenHash: new Uint8Array(s.tokenHash), pepperId: s.pepperId ?? null } });
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<Session | null> {
    return this.findByHashes([tokenHash]);
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<Session | null> {
    if (tokenHashes.length === 0) return null;
    try {
      // One read for every configured pepper: `token_hash IN (…)` on the unique index.
      const r = await this.db.session.findFirst({ where: { tokenHash: { in: tokenHashes.map((h) => new Uint8Array(h)) } } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  /** A session ends when it expires or is revoked, whichever comes first. */
  async deleteExpired(before: Date, limit: number): Promise<number> {
    try {
      const r = await pgPoolOf(this.db).query({
        text: `DELETE FROM auth.sessions WHERE id IN (
                 SELECT id FROM auth.sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT $2)`,
        values: [before, limit],
      });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async listBootstrap(tenantId: string): Promise<Session[]> {
    try {
      const rows = await this.db.session.findMany({ where: { tenantId, authMethod: 'bootstrap-admin', revokedAt: null }, orderBy: { createdAt: 'desc' }, take: 100 });
      return rows.map(toDomain);
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async replaceBootstrap(s: Session): Promise<{ revoked: number }> {
    try {
      const [revoked] = await this.db.$transaction([
        this.db.session.updateMany({ where: { tenantId: s.tenantId, authMethod: 'bootstrap-admin', revokedAt: null }, data: { revokedAt: s.createdAt } }),
        this.db.session.create({ data: { ...s, tokenHash: new Uint8Array(s.tokenHash) } }),
      ]);
      return { revoked: revoked.count };
    } catch (err) {
      throw translateDbError(err, 'bootstrap session');
    }
  }

  async revokeBootstrap(tenantId: string, at: Date): Promise<number> {
    try {
      return (await this.db.session.updateMany({ where: { tenantId, authMethod: 'bootstrap-admin', revokedAt: null, expiresAt: { gt: at } }, data: { revokedAt: at } })).count;
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async revoke(id: string, at: Date): Promise<void> {
    try {
      await this.db.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async rehash(r: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    try {
      const q = await this.pool.query('UPDATE auth.sessions SET token_hash = $3, pepper_id = $4 WHERE id = $1 AND token_hash = $2', [r.id, r.from, r.to, r.pepperId]);
      return q.rowCount === 1;
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async countLiveByPepper(at: Date): Promise<KeyUsage[]> {
    try {
      const q = await this.pool.query<{ pepper_id: string | null; n: string }>(
        'SELECT pepper_id, count(*) AS n FROM auth.sessions WHERE revoked_at IS NULL AND expires_at > $1 GROUP BY pepper_id ORDER BY pepper_id NULLS LAST',
        [at],
      );
      return q.rows.map((r) => ({ keyId: r.pepper_id, rows: Number(r.n) }));
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async stampPepper(pepperId: string): Promise<number> {
    try {
      return (await this.pool.query('UPDATE auth.sessions SET pepper_id = $1 WHERE pepper_id IS NULL', [pepperId])).rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }
}
