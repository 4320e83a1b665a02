import type { AuthMethod, PrincipalKind } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { Session, SessionStore } from '../domain/session';
import { pgPoolOf, type PrismaClient } from './prisma';

/** SessionStore on PostgreSQL. */
export class PrismaSessionStore implements SessionStore {
  constructor(private readonly db: PrismaClient) {}

  async create(s: Session): Promise<void> {
    try {
      await this.db.session.create({ data: { ...s, tokenHash: new Uint8Array(s.tokenHash) } });
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<Session | null> {
    try {
      const r = await this.db.session.findUnique({ where: { tokenHash: new Uint8Array(tokenHash) } });
      if (!r) return null;
      return { ...r, principalKind: r.principalKind as PrincipalKind, authMethod: r.authMethod as AuthMethod, tokenHash: Buffer.from(r.tokenHash) };
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
      return rows.map((r) => ({ ...r, principalKind: r.principalKind as PrincipalKind, authMethod: r.authMethod as AuthMethod, tokenHash: Buffer.from(r.tokenHash) }));
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
}
