import { type ApiTokenEnv } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { KeyUsage, PrincipalKind } from '@mezite/identity';
import type { ApiToken } from '../domain/api-token';
import type { ApiTokenRotation, ApiTokenStore } from '../domain/api-token-store';
import type { ApiTokenUsage } from '../domain/api-token-usage';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['apiToken']['findUnique']>>>;

function toDomain(r: Row): ApiToken {
  return {
    id: r.id,
    tenantId: r.tenantId,
    identityKind: r.identityKind as PrincipalKind,
    identityId: r.identityId,
    env: r.env as ApiTokenEnv,
    tokenHash: Buffer.from(r.tokenHash),
    ...(r.pepperId === null ? {} : { pepperId: r.pepperId }),
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    lastUsedAt: r.lastUsedAt,
    rotatedAt: r.rotatedAt,
    rotationDeadline: r.rotationDeadline,
    revokedAt: r.revokedAt,
    replacedBy: r.replacedBy,
  };
}

/** A row of a raw query, column names as in SQL. */
interface RawRow {
  id: string;
  tenant_id: string;
  identity_kind: string;
  identity_id: string;
  env: string;
  token_hash: Uint8Array;
  pepper_id: string | null;
  created_at: Date;
  expires_at: Date;
  last_used_at: Date | null;
  rotated_at: Date | null;
  rotation_deadline: Date | null;
  revoked_at: Date | null;
  replaced_by: string | null;
}

function fromRaw(r: RawRow): ApiToken {
  return toDomain({
    id: r.id,
    tenantId: r.tenant_id,
    identityKind: r.identity_kind,
    identityId: r.identity_id,
    env: r.env,
    tokenHash: r.token_hash,
    pepperId: r.pepper_id ?? null,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    rotatedAt: r.rotated_at,
    rotationDeadline: r.rotation_deadline,
    revokedAt: r.revoked_at,
    replacedBy: r.replaced_by,
  } as Row);
}


const data = (t: ApiToken) => ({ ...t, tokenHash: new Uint8Array(t.tokenHash) });

/**
 * ApiTokenStore on PostgreSQL (schema `token`). Rotation and revocation are raw
 * single statements so the condition and the write cannot be split (STYLE.md §5);
 * raw queries name the schema, which the adapter's `schema` option does not do.
 */
export class PrismaApiTokenStore implements ApiTokenStore {
  /** `create`, `createMany` and `findByHash` run on every grant and every uncached verification: straight on `pg` (prisma.ts). */
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async create(t: ApiToken): Promise<void> {
    try {
      await this.pool.query(
        `INSERT INTO token.api_tokens (id, tenant_id, identity_kind, identity_id, env, token_hash, created_at, expires_at, last_used_at, rotated_at, rotation_deadline, revoked_at, replaced_by, pepper_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [t.id, t.tenantId, t.identityKind, t.identityId, t.env, t.tokenHash, t.createdAt, t.expiresAt, t.lastUsedAt, t.rotatedAt, t.rotationDeadline, t.revokedAt, t.replacedBy, t.pepperId ?? null],
      );
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async createMany(ts: readonly ApiToken[]): Promise<void> {
    if (ts.length === 0) return;
    try {
      // One statement for the whole batch (the tokens of the grants of one event-loop turn).
      await this.pool.query(
        `INSERT INTO token.api_tokens (id, tenant_id, identity_kind, identity_id, env, token_hash, created_at, expires_at, last_used_at, rotated_at, rotation_deadline, revoked_at, replaced_by, pepper_id)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::bytea[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::uuid[], $14::text[])`,
        [
          ts.map((t) => t.id),
          ts.map((t) => t.tenantId),
          ts.map((t) => t.identityKind),
          ts.map((t) => t.identityId),
          ts.map((t) => t.env),
          ts.map((t) => t.tokenHash),
          ts.map((t) => t.createdAt),
          ts.map((t) => t.expiresAt),
          ts.map((t) => t.lastUsedAt),
          ts.map((t) => t.rotatedAt),
          ts.map((t) => t.rotationDeadline),
          ts.map((t) => t.revokedAt),
          ts.map((t) => t.replacedBy),
          ts.map((t) => t.pepperId ?? null),
        ],
      );
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<ApiToken | null> {
    try {
      const r = await this.pool.query<RawRow>('SELECT * FROM token.api_tokens WHERE token_hash = $1', [tokenHash]);
      const row = r.rows[0];
      return row ? fromRaw(row) : null;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<ApiToken | null> {
    if (tokenHashes.length === 0) return null;
    try {
      const r = await this.pool.query<RawRow>('SELECT * FROM token.api_tokens WHERE token_hash = ANY($1::bytea[]) LIMIT 1', [[...tokenHashes]]);
      const row = r.rows[0];
      return row ? fromRaw(row) : null;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async rehash(r: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    try {
      const q = await this.pool.query('UPDATE token.api_tokens SET token_hash = $3, pepper_id = $4 WHERE id = $1 AND token_hash = $2', [r.id, r.from, r.to, r.pepperId]);
      return q.rowCount === 1;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async countLiveByPepper(at: Date): Promise<KeyUsage[]> {
    try {
      const q = await this.pool.query<{ pepper_id: string | null; n: string }>(
        `SELECT pepper_id, count(*) AS n FROM token.api_tokens
         WHERE revoked_at IS NULL AND expires_at > $1 AND (rotation_deadline IS NULL OR rotation_deadline > $1)
         GROUP BY pepper_id ORDER BY pepper_id NULLS LAST`,
        [at],
      );
      return q.rows.map((r) => ({ keyId: r.pepper_id, rows: Number(r.n) }));
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async stampPepper(pepperId: string): Promise<number> {
    try {
      return (await this.pool.query('UPDATE token.api_tokens SET pepper_id = $1 WHERE pepper_id IS NULL', [pepperId])).rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async findById(id: string): Promise<ApiToken | null> {
    try {
      const r = await this.db.apiToken.findUnique({ where: { id } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async listLive(tenantId: string, identityId: string, at: Date): Promise<ApiToken[]> {
    try {
      const rows = await this.db.apiToken.findMany({
        where: { tenantId, identityId, revokedAt: null, expiresAt: { gt: at }, OR: [{ rotationDeadline: null }, { rotationDeadline: { gt: at } }] },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
      return rows.map(toDomain);
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async rotate(r: { id: string; tenantId: string; identityId: string; at: Date; deadline: Date; successor: ApiToken }): Promise<ApiTokenRotation | null> {
    const s = r.successor;
    try {
      // One statement: the UPDATE of `old` decides the winner (a concurrent rotation
      // waits on the row lock, then no longer matches `rotated_at IS NULL`); the
      // successor is inserted and the predecessor cut off only if it matched.
      const rows = await this.db.$queryRaw<Array<RawRow & { cut_off: RawRow[] }>>`
        WITH old AS (
          UPDATE token.api_tokens
          SET rotated_at = ${r.at}, rotation_deadline = ${r.deadline}, replaced_by = ${s.id}::uuid
          WHERE id = ${r.id}::uuid AND tenant_id = ${r.tenantId}::uuid AND identity_id = ${r.identityId}::uuid
            AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > ${r.at}
          RETURNING *
        ), successor AS (
          INSERT INTO token.api_tokens (id, tenant_id, identity_kind, identity_id, env, token_hash, created_at, expires_at, pepper_id)
          SELECT ${s.id}::uuid, ${s.tenantId}::uuid, ${s.identityKind}, ${s.identityId}::uuid, ${s.env}, ${new Uint8Array(s.tokenHash)}, ${s.createdAt}, ${s.expiresAt}, ${s.pepperId ?? null}
          FROM old
          RETURNING id
        ), cut AS (
          UPDATE token.api_tokens p SET rotation_deadline = ${r.at}
          FROM old
          WHERE p.replaced_by = old.id AND p.revoked_at IS NULL AND p.rotation_deadline > ${r.at}
          RETURNING p.*
        )
        SELECT old.*, (SELECT coalesce(json_agg(cut), '[]'::json) FROM cut) AS cut_off FROM old, successor`;
      const row = rows[0];
      if (!row) return null;
      const { cut_off, ...old } = row;
      return { rotated: fromRaw(old), cutOff: cut_off.map(fromJson) };
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async revokeChain(r: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken[] | null> {
    // One conditional UPDATE per link, oldest first, each on its own. A link's
    // `replaced_by` is read from its row once revoked, when no rotation can change it
    // any more, so a successor a concurrent rotation commits is always reached. One row
    // lock at a time: a rotation (which locks its token, then the predecessor it cuts
    // off) or a batch of last uses can never deadlock with it, as one multi-row UPDATE
    // did. Not atomic across links: a failure midway leaves the first links revoked and
    // the call failed, and the retry (idempotent) goes on from the start.
    const chain: ApiToken[] = [];
    const seen = new Set<string>();
    for (let id: string | null = r.id; id && !seen.has(id); ) {
      seen.add(id);
      const link = await this.revokeOne({ ...r, id });
      if (!link) break;
      chain.push(link);
      id = link.replacedBy;
    }
    return chain.length > 0 ? chain : null;
  }

  /** Revokes token `id` of the tenant and identity unless revoked already (the first revocation stands); returns it, or null. */
  private async revokeOne(r: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken | null> {
    try {
      const rows = await this.db.$queryRaw<RawRow[]>`
        UPDATE token.api_tokens SET revoked_at = coalesce(revoked_at, ${r.at})
        WHERE id = ${r.id}::uuid AND tenant_id = ${r.tenantId}::uuid AND identity_id = ${r.identityId}::uuid
        RETURNING *`;
      const row = rows[0];
      return row ? fromRaw(row) : null;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    // Dead: expired, revoked or past its rotation deadline before the cutoff. A token
    // whose predecessor still works stays; dead predecessors forget it (replaced_by is
    // a foreign key) in the same statement.
    const dead = (t: string) => `(${t}.expires_at < $1 OR coalesce(${t}.revoked_at < $1, false) OR coalesce(${t}.rotation_deadline < $1, false))`;
    try {
      const r = await this.pool.query({
        text: `WITH c AS (
                 SELECT t.id FROM token.api_tokens t
                 WHERE ${dead('t')} AND NOT EXISTS (SELECT 1 FROM token.api_tokens r WHERE r.replaced_by = t.id AND NOT ${dead('r')})
                 LIMIT $2),
               u AS (UPDATE token.api_tokens SET replaced_by = NULL WHERE replaced_by IN (SELECT id FROM c))
               DELETE FROM token.api_tokens WHERE id IN (SELECT id FROM c)`,
        values: [before, limit],
      });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async addUsage(rows: readonly ApiTokenUsage[], maxPresenters: number): Promise<void> {
    if (rows.length === 0) return;
    try {
      // One statement for the batch; rows of tokens already deleted are skipped (the
      // join). A presenter not stored yet keeps its own row only while its token and
      // hour have room (stored + its rank among the new ones, most uses first, within
      // the bound); past it, it is added to the `other` row.
      await this.pool.query({
        text: `WITH v AS (
                 SELECT v.token_id, v.hour, v.source, v.client, sum(v.count) AS count, min(v.first_seen) AS first_seen, max(v.last_seen) AS last_seen
                 FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], $7::timestamptz[])
                   AS v(token_id, hour, source, client, count, first_seen, last_seen)
                 JOIN token.api_tokens t ON t.id = v.token_id
                 GROUP BY v.token_id, v.hour, v.source, v.client),
               m AS (
                 SELECT v.*, (v.source = 'other' AND v.client = '') OR EXISTS (
                   SELECT 1 FROM token.api_token_usage s WHERE s.token_id = v.token_id AND s.hour = v.hour AND s.source = v.source AND s.client = v.client) AS kept
                 FROM v),
               r AS (
                 SELECT m.*,
                   (SELECT count(*) FROM token.api_token_usage s WHERE s.token_id = m.token_id AND s.hour = m.hour AND NOT (s.source = 'other' AND s.client = '')) AS stored,
                   row_number() OVER (PARTITION BY m.token_id, m.hour, m.kept ORDER BY m.count DESC, m.source, m.client) AS rn
                 FROM m),
               b AS (
                 SELECT token_id, hour,
                   CASE WHEN kept OR stored + rn <= $8 THEN source ELSE 'other' END AS source,
                   CASE WHEN kept OR stored + rn <= $8 THEN client ELSE '' END AS client,
                   count, first_seen, last_seen
                 FROM r)
               INSERT INTO token.api_token_usage AS u (token_id, hour, source, client, count, first_seen, last_seen)
               SELECT token_id, hour, source, client, sum(count), min(first_seen), max(last_seen)
               FROM b GROUP BY token_id, hour, source, client
               ON CONFLICT (token_id, hour, source, client) DO UPDATE SET
                 count = u.count + excluded.count,
                 first_seen = least(u.first_seen, excluded.first_seen),
                 last_seen = greatest(u.last_seen, excluded.last_seen)`,
        values: [rows.map((r) => r.tokenId), rows.map((r) => r.hour), rows.map((r) => r.source), rows.map((r) => r.client), rows.map((r) => r.count), rows.map((r) => r.firstSeen), rows.map((r) => r.lastSeen), maxPresenters],
      });
    } catch (err) {
      throw translateDbError(err, 'api token usage');
    }
  }

  async listUsage(id: string, since: Date): Promise<ApiTokenUsage[]> {
    try {
      const r = await this.pool.query<{ token_id: string; hour: Date; source: string; client: string; count: string; first_seen: Date; last_seen: Date }>({
        text: `SELECT token_id, hour, source, client, count, first_seen, last_seen FROM token.api_token_usage
               WHERE token_id = $1 AND hour >= $2 ORDER BY hour DESC, count DESC, source, client`,
        values: [id, since],
      });
      return r.rows.map((x) => ({ tokenId: x.token_id, hour: x.hour, source: x.source, client: x.client, count: Number(x.count), firstSeen: x.first_seen, lastSeen: x.last_seen }));
    } catch (err) {
      throw translateDbError(err, 'api token usage');
    }
  }

  async deleteUsageBefore(before: Date, limit: number): Promise<number> {
    try {
      const r = await this.pool.query({
        text: `DELETE FROM token.api_token_usage WHERE ctid IN (SELECT ctid FROM token.api_token_usage WHERE last_seen < $1 LIMIT $2)`,
        values: [before, limit],
      });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'api token usage');
    }
  }

  async finishRotation(i: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken | null> {
    try {
      const r = await this.pool.query<RawRow>({
        text: `UPDATE token.api_tokens SET rotation_deadline = $4
               WHERE id = $1 AND tenant_id = $2 AND identity_id = $3 AND revoked_at IS NULL
                 AND rotated_at IS NOT NULL AND rotation_deadline > $4
               RETURNING *`,
        values: [i.id, i.tenantId, i.identityId, i.at],
      });
      const row = r.rows[0];
      return row ? fromRaw(row) : null;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }

  async touchLastUsed(uses: ReadonlyArray<{ id: string; at: Date }>): Promise<void> {
    if (uses.length === 0) return;
    try {
      await this.db.$executeRaw`
        UPDATE token.api_tokens t SET last_used_at = v.at
        FROM unnest(${uses.map((u) => u.id)}::uuid[], ${uses.map((u) => u.at.toISOString())}::timestamptz[]) AS v(id, at)
        WHERE t.id = v.id AND (t.last_used_at IS NULL OR t.last_used_at < v.at)`;
    } catch (err) {
      throw translateDbError(err, 'api token');
    }
  }
}

/** A row that came through `json_agg`: timestamps as ISO text, bytea as `\x…` hex. */
function fromJson(j: RawRow): ApiToken {
  const date = (v: unknown) => (v === null ? null : new Date(v as string));
  const hex = j.token_hash as unknown as string;
  return fromRaw({
    ...j,
    token_hash: Buffer.from(hex.replace(/^\\x/, ''), 'hex'),
    created_at: date(j.created_at) as Date,
    expires_at: date(j.expires_at) as Date,
    last_used_at: date(j.last_used_at),
    rotated_at: date(j.rotated_at),
    rotation_deadline: date(j.rotation_deadline),
    revoked_at: date(j.revoked_at),
  });
}
