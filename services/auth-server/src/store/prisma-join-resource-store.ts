import { notFound } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { BotInstance, LineageStep } from '../domain/bot-instance';
import type { IdTokenUse, JoinResource, JoinResourceStore } from '../domain/join-resource';
import { insertInstance } from './prisma-bot-instance-store';
import { inJoinTransaction } from './join-transaction';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  bot_id: string;
  bot_name: string;
  join_method: string;
  allow: Array<Record<string, string>>;
  audience: string;
  options: Record<string, string>;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  revision: string | number;
}

const COLUMNS = 'id, tenant_id, name, bot_id, bot_name, join_method, allow, audience, options, expires_at, created_at, updated_at, revision';

function fromRow(r: Row): JoinResource {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    botId: r.bot_id,
    botName: r.bot_name,
    joinMethod: r.join_method,
    allow: r.allow,
    audience: r.audience,
    options: r.options,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    revision: Number(r.revision),
  };
}

/**
 * JoinResourceStore on PostgreSQL (`auth.join_resources`, `auth.join_id_token_uses`).
 * An admission is one transaction: the insert of the ID token's use (a second use of
 * the same issuer and jti conflicts on the primary key, on whichever replica), then the
 * instance and its first generation, then COMMIT.
 */
export class PrismaJoinResourceStore implements JoinResourceStore {
  private readonly pool: PgPool;

  constructor(db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  private async q<R extends object = Row>(text: string, values: unknown[]): Promise<R[]> {
    try {
      return (await this.pool.query<R>({ text, values })).rows;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async create(r: JoinResource): Promise<void> {
    await this.q(`INSERT INTO auth.join_resources (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, [r.id, r.tenantId, r.name, r.botId, r.botName, r.joinMethod, JSON.stringify(r.allow), r.audience, JSON.stringify(r.options), r.expiresAt, r.createdAt, r.updatedAt, r.revision]);
  }

  async replace(r: JoinResource): Promise<JoinResource> {
    const rows = await this.q(
      `UPDATE auth.join_resources SET bot_id = $3, bot_name = $4, join_method = $5, allow = $6, audience = $7, options = $8, expires_at = $9, updated_at = $10, revision = revision + 1
       WHERE tenant_id = $1 AND name = $2 RETURNING ${COLUMNS}`,
      [r.tenantId, r.name, r.botId, r.botName, r.joinMethod, JSON.stringify(r.allow), r.audience, JSON.stringify(r.options), r.expiresAt, r.updatedAt],
    );
    if (!rows[0]) throw notFound(`join token "${r.name}" not found`);
    return fromRow(rows[0]);
  }

  async get(tenantId: string, name: string): Promise<JoinResource | null> {
    const rows = await this.q(`SELECT ${COLUMNS} FROM auth.join_resources WHERE tenant_id = $1 AND name = $2`, [tenantId, name]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<JoinResource[]> {
    const rows = await this.q(`SELECT ${COLUMNS} FROM auth.join_resources WHERE tenant_id = $1 AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3`, [tenantId, opts.afterName ?? null, opts.limit]);
    return rows.map(fromRow);
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    const rows = await this.q<{ id: string }>('DELETE FROM auth.join_resources WHERE tenant_id = $1 AND name = $2 RETURNING id', [tenantId, name]);
    return rows.length > 0;
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    const rows = await this.q<{ jti: string }>('DELETE FROM auth.join_id_token_uses WHERE (issuer, jti) IN (SELECT issuer, jti FROM auth.join_id_token_uses WHERE expires_at < $1 LIMIT $2) RETURNING jti', [before, limit]);
    return rows.length;
  }

  async findUse(issuer: string, jti: string): Promise<(IdTokenUse & { instanceId: string | null }) | null> {
    const rows = await this.q<{ tenant_id: string; resource_id: string; instance_id: string | null; expires_at: Date; used_at: Date }>('SELECT tenant_id, resource_id, instance_id, expires_at, used_at FROM auth.join_id_token_uses WHERE issuer = $1 AND jti = $2', [issuer, jti]);
    const r = rows[0];
    return r ? { issuer, jti, tenantId: r.tenant_id, resourceId: r.resource_id, instanceId: r.instance_id, expiresAt: r.expires_at, at: r.used_at } : null;
  }

  admit<T>(use: IdTokenUse, work: (createInstance: (instance: BotInstance, first: LineageStep) => Promise<void>) => Promise<T>): Promise<T | null> {
    return inJoinTransaction(
      this.pool,
      async (c) => {
        const r = await c.query({
          text: `INSERT INTO auth.join_id_token_uses (issuer, jti, tenant_id, resource_id, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING jti`,
          values: [use.issuer, use.jti, use.tenantId, use.resourceId, use.expiresAt, use.at],
        });
        if (r.rowCount === 0) return null;
        if (use.rebind) {
          // Conditional on the revision read before the join: of two joins by one key, one binds.
          const b = await c.query({ text: 'UPDATE auth.join_resources SET options = $2, revision = revision + 1, updated_at = $4 WHERE id = $1 AND revision = $3 RETURNING id', values: [use.resourceId, JSON.stringify(use.rebind.options), use.rebind.revision, use.at] });
          if (b.rowCount === 0) return null;
        }
        return true;
      },
      (c) =>
        work(async (instance, first) => {
          try {
            await insertInstance(c, instance, first);
            await c.query({ text: 'UPDATE auth.join_id_token_uses SET instance_id = $3 WHERE issuer = $1 AND jti = $2', values: [use.issuer, use.jti, instance.id] });
          } catch (err) {
            throw translateDbError(err, 'bot instance');
          }
        }),
    );
  }
}
