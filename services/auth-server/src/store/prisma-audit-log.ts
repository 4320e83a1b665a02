import { randomUUID } from 'node:crypto';
import { GroupCommit, translateDbError } from '@mezite/platform';
import type { AuditEvent, AuditLog } from '../domain/audit';
import { ChainVerifier, keyedChainHash, type AuditKey, type ChainReport } from '../domain/audit-chain';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['auditEvent']['findFirst']>>>;
const toEvent = (r: Row): AuditEvent => ({ id: r.id, tenantId: r.tenantId, time: r.time, type: r.type, actor: r.actor, target: r.target, result: r.result as AuditEvent['result'], requestId: r.requestId, details: r.details as Record<string, string> });

/**
 * PostgreSQL text cannot hold NUL, nor UTF-8 a lone surrogate: a caller's hostile input
 * must not make the audit write (and so the action) fail, and the hash must cover
 * exactly what is stored.
 */
const clean = (s: string) => s.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
const cleanDetails = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [clean(k), clean(String(v))]));

/** Most records appended in one transaction. */
const MAX_BATCH = 500;
/** Records read per query when verifying the chain. */
const VERIFY_BATCH = 2000;

type NewEvent = Omit<AuditEvent, 'id' | 'time'> & { time?: Date };

/** Columns of one record as `jsonb_to_recordset` reads them (hashes in hex, seq as a string). */
const RECORD = `r(id uuid, tenant_id uuid, time timestamptz, type text, actor text, target text, result text, request_id text,
  details jsonb, seq bigint, prev_hash text, hash text, key_id text)`;

/** The audit keys: new links are keyed with `current`; `previous` still verify older ones. */
export interface AuditKeys {
  current: AuditKey;
  previous?: AuditKey[];
}

/**
 * AuditLog on PostgreSQL, hash-chained. An append locks the chain head row, links the
 * records to the previous hash and moves the head, in one transaction: appends from all
 * replicas form one chain. Records arriving while a transaction runs are written
 * together by the next one (group commit), so a burst costs one transaction and one
 * pooled connection rather than one each — 100 concurrent joins no longer queue 100
 * transactions for the head lock. Each caller still waits for its own record to be
 * committed; a failed write rejects every record of the batch, so their actions fail
 * closed. The transaction runs straight on `pg` (prisma.ts, pgPoolOf) in three round
 * trips — lock and read the head; insert the records and move the head in one
 * statement; commit — because every join, renewal and grant waits for it while it
 * holds the lock that all replicas share.
 */
export class PrismaAuditLog implements AuditLog {
  private readonly pool: PgPool;
  private readonly appends: GroupCommit<NewEvent>;

  private readonly verifyBatch: number;
  private readonly keys: AuditKeys;

  /** `verifyBatch`: records read per query by verify (default 2000; tests make it small). */
  constructor(
    private readonly db: PrismaClient,
    keys: AuditKeys,
    opts: { verifyBatch?: number } = {},
  ) {
    if (!keys?.current?.secret?.length || !keys.current.id) throw new Error('PrismaAuditLog needs an audit key');
    this.keys = keys;
    this.pool = pgPoolOf(db);
    this.verifyBatch = opts.verifyBatch ?? VERIFY_BATCH;
    if (!(this.verifyBatch >= 1)) throw new Error('PrismaAuditLog: verifyBatch must be ≥ 1');
    this.appends = new GroupCommit({ maxBatch: MAX_BATCH, write: async (batch) => (await this.append(batch), batch.map(() => undefined)) });
  }

  async record(e: NewEvent): Promise<void> {
    try {
      await this.appends.submit(e);
    } catch (err) {
      throw translateDbError(err, 'audit event');
    }
  }

  private async append(events: NewEvent[]): Promise<void> {
    const c = await this.pool.connect();
    let open = false;
    let broken = false;
    // A checked-out client has no listener of the pool's: a connection PostgreSQL ends
    // between two statements would throw 'error' as unhandled and end the process.
    const onError = () => (broken = true);
    c.on('error', onError);
    try {
      // Simple protocol: the three statements in one round trip. Replicas take turns on
      // the lock; one that waits longer than 10 s is refused (55P03: Unavailable, retry).
      open = true;
      const results = (await c.query("BEGIN; SET LOCAL lock_timeout = '10s'; SELECT seq, hash FROM auth.audit_chain_head WHERE id = 1 FOR UPDATE")) as unknown as Array<{ rows: Array<{ seq: string; hash: Buffer }> }>;
      const head = results[2]?.rows[0];
      if (!head) throw new Error('audit chain head is missing');
      let prev: Buffer = head.hash;
      let seq = Number(head.seq);
      const rows = [];
      for (const e of events) {
        seq += 1;
        const event = { id: randomUUID(), tenantId: e.tenantId, time: e.time ?? new Date(), type: clean(e.type), actor: clean(e.actor), target: clean(e.target), result: e.result, requestId: clean(e.requestId), details: cleanDetails(e.details), seq };
        const hash = keyedChainHash(this.keys.current, prev, event);
        rows.push({
          id: event.id,
          tenant_id: event.tenantId,
          time: event.time.toISOString(),
          type: event.type,
          actor: event.actor,
          target: event.target,
          result: event.result,
          request_id: event.requestId,
          details: event.details,
          seq: String(seq),
          prev_hash: prev.toString('hex'),
          hash: hash.toString('hex'),
          key_id: this.keys.current.id,
        });
        prev = hash;
      }
      await c.query({
        name: 'auth.audit_append',
        text: `WITH appended AS (
           INSERT INTO auth.audit_events (id, tenant_id, time, type, actor, target, result, request_id, details, seq, prev_hash, hash, key_id)
           SELECT id, tenant_id, time, type, actor, target, result, request_id, details, seq, decode(prev_hash, 'hex'), decode(hash, 'hex'), key_id
           FROM jsonb_to_recordset($1::jsonb) AS ${RECORD}
         )
         UPDATE auth.audit_chain_head SET seq = $2, hash = $3 WHERE id = 1`,
        values: [JSON.stringify(rows), String(seq), prev],
      });
      await c.query('COMMIT');
      open = false;
    } catch (err) {
      if (open) await c.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      c.off('error', onError);
      c.release(broken); // a connection that failed or cannot even roll back is closed, not pooled
    }
  }

  async list(tenantId: string, f: { since?: Date; typePrefix?: string; requestId?: string; limit: number; before?: { time: Date; id: string } }): Promise<AuditEvent[]> {
    try {
      const rows = await this.db.auditEvent.findMany({
        where: {
          // Events no tenant can be attributed to (a join with an unknown token) are shown to every admin.
          OR: [{ tenantId }, { tenantId: null }],
          ...(f.since ? { time: { gte: f.since } } : {}),
          ...(f.typePrefix ? { type: { startsWith: f.typePrefix } } : {}),
          ...(f.requestId ? { requestId: f.requestId } : {}),
          ...(f.before ? { AND: [{ OR: [{ time: { lt: f.before.time } }, { time: f.before.time, id: { lt: f.before.id } }] }] } : {}),
        },
        orderBy: [{ time: 'desc' }, { id: 'desc' }],
        take: f.limit,
      });
      return rows.map(toEvent);
    } catch (err) {
      throw translateDbError(err, 'audit event');
    }
  }

  /** Every key a link may be keyed with, by id, and the switch point from the head row. */
  private keying(keyedFrom: bigint): { keys: Map<string, Buffer>; keyedFrom: number } {
    const keys = new Map<string, Buffer>();
    for (const k of [...(this.keys.previous ?? []), this.keys.current]) keys.set(k.id, k.secret);
    return { keys, keyedFrom: Number(keyedFrom) };
  }

  /**
   * Verifies the chain up to the head read first (records appended meanwhile are the
   * next verification's), reading it in keyset-paginated batches by seq and holding
   * one batch at a time: memory is constant however long the chain is.
   */
  async verify(): Promise<ChainReport> {
    try {
      const head = await this.db.auditChainHead.findUnique({ where: { id: 1 } });
      if (!head) return { ok: false, checked: 0, firstBadSeq: 1, problem: 'the chain head is missing' };
      const v = new ChainVerifier(this.keying(head.keyedFrom));
      let after = -1n;
      for (;;) {
        const rows = await this.db.auditEvent.findMany({ where: { seq: { gt: after, lte: head.seq } }, orderBy: { seq: 'asc' }, take: this.verifyBatch });
        for (const r of rows) {
          const bad = v.next({ ...toEvent(r), seq: Number(r.seq), prevHash: Buffer.from(r.prevHash ?? []), hash: Buffer.from(r.hash ?? []), keyId: r.keyId });
          if (bad) return bad;
        }
        if (rows.length < this.verifyBatch) break;
        after = rows[rows.length - 1]?.seq ?? after;
      }
      return v.end({ seq: Number(head.seq), hash: Buffer.from(head.hash) });
    } catch (err) {
      throw translateDbError(err, 'audit log');
    }
  }
}
