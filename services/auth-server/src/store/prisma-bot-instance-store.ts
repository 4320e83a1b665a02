import { translateDbError } from '@mezite/platform';
import type { BotLock } from '../domain/bot';
import type { BotHeartbeat, BotInstance, BotInstanceStore, InstanceActivity, LineageStep } from '../domain/bot-instance';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

interface InstanceRow {
  id: string;
  tenant_id: string;
  bot_id: string;
  generation: string;
  join_method: string;
  join_token_id: string | null;
  created_at: Date;
  last_renewal_at: Date | null;
  last_address: string;
  heartbeat: (Omit<BotHeartbeat, 'destinations'> & { destinations: Array<{ destination: string; healthy: boolean; error: string; updatedAt: string | null }> }) | null;
  cert_expires_at: Date | null;
  lock_reason: string | null;
  locked_at: Date | null;
  locked_by: string | null;
  legacy_generation: string | null;
}

interface StepRow {
  instance_id: string;
  generation: string;
  public_key: string;
  key_fingerprint: string;
  serial: string;
  certificate: string;
  issued_at: Date;
  expires_at: Date;
  address: string;
  request_id: string;
}

const I_COLUMNS = 'id, tenant_id, bot_id, generation, join_method, join_token_id, created_at, last_renewal_at, last_address, heartbeat, cert_expires_at, lock_reason, locked_at, locked_by, legacy_generation';
const S_COLUMNS = 'instance_id, generation, public_key, key_fingerprint, serial, certificate, issued_at, expires_at, address, request_id';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function instanceFromRow(r: InstanceRow): BotInstance {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    botId: r.bot_id,
    generation: Number(r.generation),
    joinMethod: r.join_method,
    joinTokenId: r.join_token_id,
    createdAt: r.created_at,
    lastRenewalAt: r.last_renewal_at,
    lastAddress: r.last_address,
    heartbeat: r.heartbeat ? { ...r.heartbeat, destinations: (r.heartbeat.destinations ?? []).map((d) => ({ ...d, updatedAt: d.updatedAt ? new Date(d.updatedAt) : null })) } : null,
    certExpiresAt: r.cert_expires_at,
    lock: r.locked_at ? { reason: r.lock_reason ?? '', lockedAt: r.locked_at, expiresAt: null, lockedBy: r.locked_by ?? '' } : null,
    legacyGeneration: r.legacy_generation === null ? null : Number(r.legacy_generation),
  };
}

function stepFromRow(r: StepRow): LineageStep {
  return {
    instanceId: r.instance_id,
    generation: Number(r.generation),
    publicKey: r.public_key,
    keyFingerprint: r.key_fingerprint,
    serial: r.serial,
    certificate: r.certificate,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    address: r.address,
    requestId: r.request_id,
  };
}

const stepValues = (s: LineageStep) => [s.instanceId, s.generation, s.publicKey, s.keyFingerprint, s.serial, s.certificate, s.issuedAt, s.expiresAt, s.address, s.requestId];

/** Anything that runs a query: the pool, or one connection inside a transaction. */
interface Queryable {
  query: PgPool['query'];
}

/**
 * Stores a new instance at its first generation, with that step and the bot's last-seen
 * columns, in one statement (a join's part of the redemption transaction).
 */
export async function insertInstance(q: Queryable, i: BotInstance, first: LineageStep): Promise<void> {
  await q.query({
    name: 'auth.bot_instance_insert',
    text: `WITH inst AS (
             INSERT INTO auth.bot_instances (id, tenant_id, bot_id, generation, join_method, join_token_id, created_at, last_renewal_at, last_address, heartbeat, cert_expires_at)
             VALUES ($11, $12, $13, $2, $14, $15, $16, $16, $9, $17, $8) RETURNING bot_id),
           step AS (
             INSERT INTO auth.bot_instance_generations (${S_COLUMNS}) SELECT $1::uuid, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::timestamptz, $8::timestamptz, $9::text, $10::text FROM inst)
           UPDATE auth.bots SET generation = GREATEST(generation, $2), last_seen_at = $16, cert_expires_at = GREATEST(cert_expires_at, $8)
           WHERE id = (SELECT bot_id FROM inst)`,
    values: [...stepValues(first), i.id, i.tenantId, i.botId, i.joinMethod, i.joinTokenId, i.createdAt, i.heartbeat ? JSON.stringify(i.heartbeat) : null],
  });
}

/**
 * BotInstanceStore on PostgreSQL (`auth.bot_instances`, `auth.bot_instance_generations`).
 * A renewal's read of its instance and step and its advance are single statements on
 * `pg` (prisma.ts, pgPoolOf), like the rest of the join and renewal path.
 */
export class PrismaBotInstanceStore implements BotInstanceStore {
  private readonly pool: PgPool;

  constructor(db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDbError(err, 'bot instance');
    }
  }

  get(tenantId: string, id: string): Promise<BotInstance | null> {
    if (!UUID.test(tenantId) || !UUID.test(id)) return Promise.resolve(null);
    return this.run(async () => {
      const r = await this.pool.query<InstanceRow>({ name: 'auth.bot_instance_get', text: `SELECT ${I_COLUMNS} FROM auth.bot_instances WHERE id = $1 AND tenant_id = $2`, values: [id, tenantId] });
      return r.rows[0] ? instanceFromRow(r.rows[0]) : null;
    });
  }

  list(tenantId: string, opts: { botId?: string; limit: number; after?: { createdAt: Date; id: string } }): Promise<BotInstance[]> {
    if (!UUID.test(tenantId) || (opts.botId !== undefined && !UUID.test(opts.botId))) return Promise.resolve([]);
    return this.run(async () => {
      const r = await this.pool.query<InstanceRow>({
        text: `SELECT ${I_COLUMNS} FROM auth.bot_instances
               WHERE tenant_id = $1 AND ($2::uuid IS NULL OR bot_id = $2::uuid)
                 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3::timestamptz, $4::uuid))
               ORDER BY created_at DESC, id DESC LIMIT $5`,
        values: [tenantId, opts.botId ?? null, opts.after?.createdAt ?? null, opts.after?.id ?? null, opts.limit],
      });
      return r.rows.map(instanceFromRow);
    });
  }

  lineage(tenantId: string, id: string): Promise<LineageStep[]> {
    if (!UUID.test(tenantId) || !UUID.test(id)) return Promise.resolve([]);
    return this.run(async () => {
      const r = await this.pool.query<StepRow>({
        text: `SELECT ${S_COLUMNS.split(', ').map((c) => `g.${c}`).join(', ')} FROM auth.bot_instance_generations g JOIN auth.bot_instances i ON i.id = g.instance_id
               WHERE i.id = $1 AND i.tenant_id = $2 ORDER BY g.generation`,
        values: [id, tenantId],
      });
      return r.rows.map(stepFromRow);
    });
  }

  deleteExpired(before: Date, limit: number): Promise<number> {
    // Step N is needed while its own certificate or its predecessor's is valid (a
    // presentation of N-1 is judged against N's key; of N, N's own row), and the last
    // step always (it is what a copy of the live certificate is caught against).
    return this.run(async () => {
      const r = await this.pool.query({
        text: `DELETE FROM auth.bot_instance_generations d USING (
                 SELECT g.instance_id, g.generation FROM auth.bot_instance_generations g
                 JOIN auth.bot_instances i ON i.id = g.instance_id
                 WHERE g.expires_at < $1 AND g.generation < i.generation
                   AND NOT EXISTS (SELECT 1 FROM auth.bot_instance_generations p
                                   WHERE p.instance_id = g.instance_id AND p.generation = g.generation - 1 AND p.expires_at >= $1)
                 LIMIT $2) x
               WHERE d.instance_id = x.instance_id AND d.generation = x.generation`,
        values: [before, limit],
      });
      return r.rowCount ?? 0;
    });
  }

  step(tenantId: string, id: string, generation: number): Promise<LineageStep | null> {
    if (!UUID.test(tenantId) || !UUID.test(id) || !Number.isSafeInteger(generation)) return Promise.resolve(null);
    return this.run(async () => {
      const r = await this.pool.query<StepRow>({
        name: 'auth.bot_instance_step',
        text: `SELECT ${S_COLUMNS.split(', ').map((c) => `g.${c}`).join(', ')} FROM auth.bot_instance_generations g JOIN auth.bot_instances i ON i.id = g.instance_id
               WHERE g.instance_id = $1 AND i.tenant_id = $2 AND g.generation = $3`,
        values: [id, tenantId, generation],
      });
      return r.rows[0] ? stepFromRow(r.rows[0]) : null;
    });
  }

  advance(tenantId: string, s: LineageStep, a: InstanceActivity): Promise<boolean> {
    if (!UUID.test(tenantId) || !UUID.test(s.instanceId)) return Promise.resolve(false);
    return this.run(async () => {
      // One statement (STYLE.md §5): the instance moves on only from the generation before
      // the step and only while unlocked; the step's primary key refuses a second one.
      const r = await this.pool.query({
        name: 'auth.bot_instance_advance',
        text: `WITH inst AS (
                 UPDATE auth.bot_instances SET generation = $2, last_renewal_at = $11, last_address = $14, heartbeat = COALESCE($13::jsonb, heartbeat), cert_expires_at = $8
                 WHERE id = $1 AND tenant_id = $12 AND generation = $2 - 1 AND locked_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM auth.bot_instance_generations WHERE instance_id = $1 AND generation = $2)
                 RETURNING bot_id),
               step AS (
                 INSERT INTO auth.bot_instance_generations (${S_COLUMNS}) SELECT $1::uuid, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::timestamptz, $8::timestamptz, $9::text, $10::text FROM inst),
               bot AS (
                 UPDATE auth.bots SET generation = GREATEST(generation, $2), last_seen_at = $11, cert_expires_at = GREATEST(cert_expires_at, $8)
                 WHERE id = (SELECT bot_id FROM inst))
               SELECT count(*)::int AS n FROM inst`,
        values: [...stepValues(s), a.at, tenantId, a.heartbeat ? JSON.stringify(a.heartbeat) : null, a.address],
      });
      return (r.rows[0] as { n: number } | undefined)?.n === 1;
    });
  }

  lockAndRevoke(tenantId: string, id: string, lock: BotLock, extra: Array<{ serial: string; expiresAt: Date }>, at: Date): Promise<string[]> {
    if (!UUID.test(tenantId) || !UUID.test(id)) return Promise.resolve([]);
    return this.run(async () => {
      // One statement: the lock and the revocation of every live certificate of the lineage
      // (and of `extra`) commit together.
      const r = await this.pool.query<{ serial: string }>({
        name: 'auth.bot_instance_lock_revoke',
        text: `WITH inst AS (
                 UPDATE auth.bot_instances SET lock_reason = $3, locked_at = $4, locked_by = $5 WHERE id = $1 AND tenant_id = $2 RETURNING id, tenant_id),
               certs AS (
                 SELECT g.serial, g.expires_at FROM auth.bot_instance_generations g JOIN inst ON inst.id = g.instance_id WHERE g.expires_at > $6
                 UNION SELECT e.serial, e.expires_at FROM jsonb_to_recordset($7::jsonb) AS e(serial text, expires_at timestamptz) WHERE e.expires_at > $6 AND EXISTS (SELECT 1 FROM inst))
               INSERT INTO auth.revocations (id, tenant_id, subject_id, serial, reason, created_at, expires_at)
               SELECT gen_random_uuid(), $2, NULL, serial, $3, $6, expires_at FROM certs
               RETURNING serial`,
        values: [id, tenantId, lock.reason, lock.lockedAt, lock.lockedBy, at, JSON.stringify(extra.map((e) => ({ serial: e.serial, expires_at: e.expiresAt.toISOString() })))],
      });
      return r.rows.map((x) => x.serial);
    });
  }
}
