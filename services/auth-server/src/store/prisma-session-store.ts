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

  async revoke(id: string, at: Date): Promise<void> {
    try {
      await this.db.session.updateMany({ where: { id, revokedAt: null }, data: { revokedAt: at } });
    } catch (err) {
      throw translateDbError(err, 'session');
    }
  }
}
