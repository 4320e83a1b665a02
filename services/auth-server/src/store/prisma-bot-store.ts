import { translateDbError } from '@mezite/platform';
import type { Bot, BotStore } from '../domain/bot';
import type { PrismaClient } from './prisma';

/** BotStore on PostgreSQL (schema `auth`). */
export class PrismaBotStore implements BotStore {
  constructor(private readonly db: PrismaClient) {}

  async create(bot: Bot): Promise<void> {
    try {
      await this.db.bot.create({ data: bot });
    } catch (err) {
      throw translateDbError(err, `bot "${bot.name}"`);
    }
  }

  async get(tenantId: string, name: string): Promise<Bot | null> {
    try {
      return await this.db.bot.findUnique({ where: { tenantId_name: { tenantId, name } } });
    } catch (err) {
      throw translateDbError(err, 'bot');
    }
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]> {
    try {
      return await this.db.bot.findMany({
        where: { tenantId, ...(opts.afterName !== undefined ? { name: { gt: opts.afterName } } : {}) },
        orderBy: { name: 'asc' },
        take: opts.limit,
      });
    } catch (err) {
      throw translateDbError(err, 'bot');
    }
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    try {
      const r = await this.db.bot.deleteMany({ where: { tenantId, id } });
      return r.count > 0;
    } catch (err) {
      throw translateDbError(err, 'bot');
    }
  }
}
