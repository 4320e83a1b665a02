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

  async listLive(now: Date): Promise<Revocation[]> {
    try {
      return await this.db.revocation.findMany({ where: { expiresAt: { gt: now } }, orderBy: { createdAt: 'asc' } });
    } catch (err) {
      throw translateDbError(err, 'revocation');
    }
  }
}
