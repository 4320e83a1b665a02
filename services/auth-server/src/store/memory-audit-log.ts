import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../domain/audit';

/** AuditLog in memory (unit tests); `failNext` simulates a write failure. */
export class MemoryAuditLog implements AuditLog {
  readonly events: AuditEvent[] = [];
  failNext = false;

  async record(e: Omit<AuditEvent, 'id' | 'time'> & { time?: Date }): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('audit store down');
    }
    this.events.push({ ...e, id: randomUUID(), time: e.time ?? new Date() });
  }

  async list(tenantId: string, f: { since?: Date; typePrefix?: string; requestId?: string; limit: number }): Promise<AuditEvent[]> {
    return this.events
      .filter((e) => (e.tenantId === tenantId || e.tenantId === null) && (!f.since || e.time >= f.since) && (!f.typePrefix || e.type.startsWith(f.typePrefix)) && (!f.requestId || e.requestId === f.requestId))
      .reverse()
      .slice(0, f.limit);
  }
}
