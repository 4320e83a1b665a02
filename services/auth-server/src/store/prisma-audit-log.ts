import { randomUUID } from 'node:crypto';
import { translateDbError } from '@mezite/platform';
import type { AuditEvent, AuditLog } from '../domain/audit';
import { chainHash, verifyChain, type ChainReport, type ChainedEvent } from '../domain/audit-chain';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['auditEvent']['findFirst']>>>;
const toEvent = (r: Row): AuditEvent => ({ id: r.id, tenantId: r.tenantId, time: r.time, type: r.type, actor: r.actor, target: r.target, result: r.result as AuditEvent['result'], requestId: r.requestId, details: r.details as Record<string, string> });

/**
 * AuditLog on PostgreSQL, hash-chained. An append locks the chain head row, links the
 * record to the previous hash and moves the head, in one transaction: appends from all
 * replicas form one chain. A failed write throws, so the caller's action fails closed.
 */
export class PrismaAuditLog implements AuditLog {
  constructor(private readonly db: PrismaClient) {}

  async record(e: Omit<AuditEvent, 'id' | 'time'> & { time?: Date }): Promise<void> {
    try {
      await this.db.$transaction(async (tx) => {
        const heads = await tx.$queryRaw<Array<{ seq: bigint; hash: Uint8Array }>>`SELECT seq, hash FROM auth.audit_chain_head WHERE id = 1 FOR UPDATE`;
        const head = heads[0];
        if (!head) throw new Error('audit chain head is missing');
        const prev = Buffer.from(head.hash);
        const event = { id: randomUUID(), tenantId: e.tenantId, time: e.time ?? new Date(), type: e.type, actor: e.actor, target: e.target, result: e.result, requestId: e.requestId, details: e.details, seq: Number(head.seq) + 1 };
        const hash = chainHash(prev, event);
        await tx.auditEvent.create({ data: { ...event, seq: BigInt(event.seq), prevHash: new Uint8Array(prev), hash: new Uint8Array(hash) } });
        await tx.auditChainHead.update({ where: { id: 1 }, data: { seq: BigInt(event.seq), hash: new Uint8Array(hash) } });
      });
    } catch (err) {
      throw translateDbError(err, 'audit event');
    }
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
