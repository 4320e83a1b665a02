import { translateDbError } from '@mezite/platform';
import type { Bot, BotLock, BotStore } from '../domain/bot';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['bot']['findFirst']>>>;

function toDomain(r: Row): Bot {
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    roles: r.roles,
    createdAt: r.createdAt,
    generation: Number(r.generation),
    lastSeenAt: r.lastSeenAt,
    certExpiresAt: r.certExpiresAt,
    lock: r.lockedAt ? { reason: r.lockReason ?? '', lockedAt: r.lockedAt, expiresAt: r.lockExpiresAt, lockedBy: r.lockedBy ?? '' } : null,
    maxCertTtlMs: r.maxCertTtlMs === null ? null : Number(r.maxCertTtlMs),
  };
}

/** A row of `auth.bots` as `pg` returns it (bigints as strings). */
interface RawRow {
  id: string;
  tenant_id: string;
  name: string;
  roles: string[];
  created_at: Date;
  generation: string;
  last_seen_at: Date | null;
  cert_expires_at: Date | null;
  lock_reason: string | null;
  locked_at: Date | null;
  lock_expires_at: Date | null;
  locked_by: string | null;
  max_cert_ttl_ms: string | null;
}

function fromRaw(r: RawRow): Bot {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    roles: r.roles,
    createdAt: r.created_at,
    generation: Number(r.generation),
    lastSeenAt: r.last_seen_at,
    certExpiresAt: r.cert_expires_at,
    lock: r.locked_at ? { reason: r.lock_reason ?? '', lockedAt: r.locked_at, expiresAt: r.lock_expires_at, lockedBy: r.locked_by ?? '' } : null,
    maxCertTtlMs: r.max_cert_ttl_ms === null ? null : Number(r.max_cert_ttl_ms),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const lockColumns = (l: BotLock | null) => ({
  lockReason: l?.reason ?? null,
  lockedAt: l?.lockedAt ?? null,
  lockExpiresAt: l?.expiresAt ?? null,
  lockedBy: l?.lockedBy ?? null,
});

/**
 * BotStore on PostgreSQL (schema `auth`). What every join and renewal does — read the
 * bot by id — is one statement straight on `pg`
 * (prisma.ts, pgPoolOf); the admin API's reads and writes go through Prisma.
 */
export class PrismaBotStore implements BotStore {
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

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
          lastSeenAt: bot.lastSeenAt,
          certExpiresAt: bot.certExpiresAt,
          maxCertTtlMs: bot.maxCertTtlMs ? BigInt(bot.maxCertTtlMs) : null,
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
    // Ids come from certificates and tokens: a malformed one is no bot (and no uuid cast error).
    if (!UUID.test(tenantId) || !UUID.test(id)) return Promise.resolve(null);
    return this.run(async () => {
      const r = await this.pool.query<RawRow>({ name: 'auth.bot_by_id', text: `SELECT id, tenant_id, name, roles, created_at, generation, last_seen_at, cert_expires_at, lock_reason, locked_at, lock_expires_at, locked_by, max_cert_ttl_ms FROM auth.bots WHERE id = $1 AND tenant_id = $2`, values: [id, tenantId] });
      const row = r.rows[0];
      return row ? fromRaw(row) : null;
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
