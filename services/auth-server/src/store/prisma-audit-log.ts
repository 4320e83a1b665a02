import { randomUUID } from 'node:crypto';
import { translateDbError } from '@mezite/platform';
import type { AuditEvent, AuditLog } from '../domain/audit';
import type { PrismaClient } from './prisma';

/** AuditLog on PostgreSQL. A failed write throws, so the caller's action fails closed. */
export class PrismaAuditLog implements AuditLog {
  constructor(private readonly db: PrismaClient) {}

  async record(e: Omit<AuditEvent, 'id' | 'time'> & { time?: Date }): Promise<void> {
    try {
      await this.db.auditEvent.create({
        data: { id: randomUUID(), tenantId: e.tenantId, time: e.time ?? new Date(), type: e.type, actor: e.actor, target: e.target, result: e.result, requestId: e.requestId, details: e.details },
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
      return rows.map((r) => ({ ...r, result: r.result as AuditEvent['result'], details: r.details as Record<string, string> }));
    } catch (err) {
      throw translateDbError(err, 'audit event');
    }
  }
}
