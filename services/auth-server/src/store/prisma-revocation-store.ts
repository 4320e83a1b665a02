import { translateDbError } from '@mezite/platform';
import type { Revocation, RevocationStore } from '../domain/revocation';
import type { PrismaClient } from './prisma';

/** RevocationStore on PostgreSQL (schema `auth`, table `revocations`). */
export class PrismaRevocationStore implements RevocationStore {
  constructor(private readonly db: PrismaClient) {}

  async add(r: Revocation): Promise<void> {
    try {
      await this.db.revocation.create({ data: r });
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }

  async isRevoked(q: { serial: string; subjectId: string }, now: Date): Promise<boolean> {
    try {
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q.subjectId);
      return (await this.db.revocation.count({ where: { expiresAt: { gt: now }, OR: [{ serial: q.serial }, ...(uuid ? [{ subjectId: q.subjectId }] : [])] } })) > 0;
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
