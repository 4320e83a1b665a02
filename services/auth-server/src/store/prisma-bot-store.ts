import { translateDbError } from '@mezite/platform';
import type { Bot, BotLock, BotStore, GenerationAdvance } from '../domain/bot';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['bot']['findFirst']>>>;

function toDomain(r: Row): Bot {
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    roles: r.roles,
    createdAt: r.createdAt,
    generation: Number(r.generation),
    lastPresentedGeneration: r.lastPresentedGeneration === null ? null : Number(r.lastPresentedGeneration),
    joinGeneration: Number(r.joinGeneration),
    lastSeenAt: r.lastSeenAt,
    certExpiresAt: r.certExpiresAt,
    lock: r.lockedAt ? { reason: r.lockReason ?? '', lockedAt: r.lockedAt, expiresAt: r.lockExpiresAt, lockedBy: r.lockedBy ?? '' } : null,
  };
}

const lockColumns = (l: BotLock | null) => ({
  lockReason: l?.reason ?? null,
  lockedAt: l?.lockedAt ?? null,
  lockExpiresAt: l?.expiresAt ?? null,
  lockedBy: l?.lockedBy ?? null,
});

/** BotStore on PostgreSQL (schema `auth`). */
export class PrismaBotStore implements BotStore {
  constructor(private readonly db: PrismaClient) {}

  private async run<T>(fn: () => Promise<T>, what = 'bot'): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDbError(err, what);
    }
  }

  create(bot: Bot): Promise<void> {
    return this.run(async () => {
      await this.db.bot.create({
        data: {
          id: bot.id,
          tenantId: bot.tenantId,
          name: bot.name,
          roles: bot.roles,
          createdAt: bot.createdAt,
          generation: BigInt(bot.generation),
          lastPresentedGeneration: bot.lastPresentedGeneration === null ? null : BigInt(bot.lastPresentedGeneration),
          joinGeneration: BigInt(bot.joinGeneration),
          lastSeenAt: bot.lastSeenAt,
          certExpiresAt: bot.certExpiresAt,
          ...lockColumns(bot.lock),
        },
      });
    }, `bot "${bot.name}"`);
  }

  get(tenantId: string, name: string): Promise<Bot | null> {
    return this.run(async () => {
      const r = await this.db.bot.findUnique({ where: { tenantId_name: { tenantId, name } } });
      return r ? toDomain(r) : null;
    });
  }

  getById(tenantId: string, id: string): Promise<Bot | null> {
    return this.run(async () => {
      const r = await this.db.bot.findFirst({ where: { tenantId, id } });
      return r ? toDomain(r) : null;
    });
  }

  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]> {
    return this.run(async () =>
      (
        await this.db.bot.findMany({
          where: { tenantId, ...(opts.afterName !== undefined ? { name: { gt: opts.afterName } } : {}) },
          orderBy: { name: 'asc' },
          take: opts.limit,
        })
      ).map(toDomain),
    );
  }

  delete(tenantId: string, id: string): Promise<boolean> {
    return this.run(async () => (await this.db.bot.deleteMany({ where: { tenantId, id } })).count > 0);
  }

  setLock(tenantId: string, id: string, lock: BotLock | null): Promise<boolean> {
    return this.run(async () => (await this.db.bot.updateMany({ where: { tenantId, id }, data: lockColumns(lock) })).count > 0);
  }

  advanceGeneration(tenantId: string, id: string, expected: number, next: GenerationAdvance): Promise<boolean> {
    return this.run(async () => {
      const r = await this.db.bot.updateMany({
        where: { tenantId, id, generation: BigInt(expected) },
        data: {
          generation: BigInt(next.generation),
          lastPresentedGeneration: next.lastPresentedGeneration === null ? null : BigInt(next.lastPresentedGeneration),
          ...(next.joinGeneration !== undefined ? { joinGeneration: BigInt(next.joinGeneration) } : {}),
          lastSeenAt: next.lastSeenAt,
          certExpiresAt: next.certExpiresAt,
        },
      });
      return r.count === 1;
    });
  }

  anyUsesRole(tenantId: string, role: string): Promise<boolean> {
    return this.run(async () => (await this.db.bot.count({ where: { tenantId, roles: { has: role } } })) > 0);
  }

  listLockedIds(now: Date): Promise<string[]> {
    return this.run(async () => {
      const rows = await this.db.bot.findMany({ where: { lockedAt: { not: null }, OR: [{ lockExpiresAt: null }, { lockExpiresAt: { gt: now } }] }, select: { id: true } });
      return rows.map((r) => r.id);
    });
  }
}
