import { translateDbError } from '@mezite/platform';
import type { JoinToken, SubjectKind } from '../domain/join-token';
import type { JoinTokenStore } from '../domain/join-token-store';
import type { PrismaClient } from './prisma';

type Row = Awaited<ReturnType<PrismaClient['joinToken']['findUnique']>>;

function toDomain(r: NonNullable<Row>): JoinToken {
  return { ...r, subjectKind: r.subjectKind as SubjectKind, tokenHash: Buffer.from(r.tokenHash) };
}

/** JoinTokenStore on PostgreSQL (schema `token`). */
export class PrismaJoinTokenStore implements JoinTokenStore {
  constructor(private readonly db: PrismaClient) {}

  async create(t: JoinToken): Promise<void> {
    try {
      await this.db.joinToken.create({ data: { ...t, tokenHash: new Uint8Array(t.tokenHash) } });
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number> {
    try {
      const r = await this.db.joinToken.updateMany({ where: { tenantId, subjectId, redeemedAt: null, revokedAt: null }, data: { revokedAt: at } });
      return r.count;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<JoinToken | null> {
    try {
      const r = await this.db.joinToken.findUnique({ where: { tokenHash: new Uint8Array(tokenHash) } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }
}
