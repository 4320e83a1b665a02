import { randomUUID } from 'node:crypto';
import { translateDbError } from '@mezite/platform';
import type { AuditEvent, AuditLog } from '../domain/audit';
import { chainHash, verifyChain, type ChainReport, type ChainedEvent } from '../domain/audit-chain';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['auditEvent']['findFirst']>>>;
const toEvent = (r: Row): AuditEvent => ({ id: r.id, tenantId: r.tenantId, time: r.time, type: r.type, actor: r.actor, target: r.target, result: r.result as AuditEvent['result'], requestId: r.requestId, details: r.details as Record<string, string> });

/** PostgreSQL text cannot hold NUL: a caller's hostile input must not make the audit write (and so the action) fail. */
const clean = (s: string) => s.replace(/\0/g, '\uFFFD');
const cleanDetails = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [clean(k), clean(String(v))]));

/** Most records appended in one transaction. */
const MAX_BATCH = 500;

interface Pending {
  event: Omit<AuditEvent, 'id' | 'time'> & { time?: Date };
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * AuditLog on PostgreSQL, hash-chained. An append locks the chain head row, links the
 * records to the previous hash and moves the head, in one transaction: appends from all
 * replicas form one chain. Records arriving while a transaction runs are written
 * together by the next one (group commit), so a burst costs one transaction and one
 * pooled connection rather than one each — 100 concurrent joins no longer queue 100
 * transactions for the head lock. Each caller still waits for its own record to be
 * committed; a failed write rejects every record of the batch, so their actions fail
 * closed.
 */
export class PrismaAuditLog implements AuditLog {
  private queue: Pending[] = [];
  private writing = false;

  constructor(private readonly db: PrismaClient) {}

  record(e: Omit<AuditEvent, 'id' | 'time'> & { time?: Date }): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event: e, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          await this.append(batch.map((p) => p.event));
          for (const p of batch) p.resolve();
        } catch (err) {
          const e = translateDbError(err, 'audit event');
          for (const p of batch) p.reject(e);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async append(events: Array<Omit<AuditEvent, 'id' | 'time'> & { time?: Date }>): Promise<void> {
    await this.db.$transaction(
      async (tx) => {
        const heads = await tx.$queryRaw<Array<{ seq: bigint; hash: Uint8Array }>>`SELECT seq, hash FROM auth.audit_chain_head WHERE id = 1 FOR UPDATE`;
        const head = heads[0];
        if (!head) throw new Error('audit chain head is missing');
        let prev: Buffer = Buffer.from(head.hash);
        let seq = Number(head.seq);
        const rows = [];
        for (const e of events) {
          seq += 1;
          const event = { id: randomUUID(), tenantId: e.tenantId, time: e.time ?? new Date(), type: e.type, actor: clean(e.actor), target: clean(e.target), result: e.result, requestId: clean(e.requestId), details: cleanDetails(e.details), seq };
          const hash = chainHash(prev, event);
          rows.push({ ...event, seq: BigInt(seq), prevHash: new Uint8Array(prev), hash: new Uint8Array(hash) });
          prev = hash;
        }
        await tx.auditEvent.createMany({ data: rows });
        await tx.auditChainHead.update({ where: { id: 1 }, data: { seq: BigInt(seq), hash: new Uint8Array(prev) } });
      },
      // Replicas take turns on the head lock: wait for it rather than fail a burst.
      { maxWait: 10_000, timeout: 15_000 },
    );
  }

  async list(tenantId: string, f: { since?: Date; typePrefix?: string; limit: number; before?: { time: Date; id: string } }): Promise<AuditEvent[]> {
    try {
      const rows = await this.db.auditEvent.findMany({
        where: {
          // Events no tenant can be attributed to (a join with an unknown token) are shown to every admin.
          OR: [{ tenantId }, { tenantId: null }],
          ...(f.since ? { time: { gte: f.since } } : {}),
          ...(f.typePrefix ? { type: { startsWith: f.typePrefix } } : {}),
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

  /** Verifies the whole chain, reading it in pages by seq. */
  async verify(): Promise<ChainReport> {
    try {
      const head = await this.db.auditChainHead.findUnique({ where: { id: 1 } });
      if (!head) return { ok: false, checked: 0, firstBadSeq: 1, problem: 'the chain head is missing' };
      const events: ChainedEvent[] = [];
      let after = -1n;
      for (;;) {
        const rows = await this.db.auditEvent.findMany({ where: { seq: { gt: after } }, orderBy: { seq: 'asc' }, take: 5000 });
        for (const r of rows) events.push({ ...toEvent(r), seq: Number(r.seq), prevHash: Buffer.from(r.prevHash ?? []), hash: Buffer.from(r.hash ?? []) });
        if (rows.length < 5000) break;
        after = rows[rows.length - 1]?.seq ?? after;
      }
      return verifyChain(events, { seq: Number(head.seq), hash: Buffer.from(head.hash) });
    } catch (err) {
      throw translateDbError(err, 'audit log');
    }
  }
}
