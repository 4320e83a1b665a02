import { translateDbError } from '@mezite/platform';
import type { AuditCheckpoint, AuditCheckpointStore } from '../domain/audit-checkpoint';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['auditCheckpoint']['findFirst']>>>;
const toCheckpoint = (r: Row): AuditCheckpoint => ({ seq: Number(r.seq), hash: Buffer.from(r.hash), time: r.time, keyId: r.keyId, keyedFrom: Number(r.keyedFrom), signature: Buffer.from(r.signature) });

/** Checkpoints of the audit chain on PostgreSQL (auth.audit_checkpoints), beside the chain they cover. */
export class PrismaAuditCheckpointStore implements AuditCheckpointStore {
  constructor(private readonly db: PrismaClient) {}

  async chainHead(): Promise<{ seq: number; hash: Buffer; keyedFrom: number }> {
    try {
      const h = await this.db.auditChainHead.findUnique({ where: { id: 1 } });
      if (!h) throw new Error('audit chain head is missing');
      return { seq: Number(h.seq), hash: Buffer.from(h.hash), keyedFrom: Number(h.keyedFrom) };
    } catch (err) {
      throw translateDbError(err, 'audit chain head');
    }
  }

  async linkAt(seq: number): Promise<Buffer | null> {
    try {
      const r = await this.db.auditEvent.findUnique({ where: { seq: BigInt(seq) }, select: { hash: true } });
      return r?.hash ? Buffer.from(r.hash) : null;
    } catch (err) {
      throw translateDbError(err, 'audit event');
    }
  }

  async saveCheckpoint(c: AuditCheckpoint): Promise<AuditCheckpoint> {
    try {
      await this.db.$executeRaw`INSERT INTO auth.audit_checkpoints (seq, hash, time, key_id, keyed_from, signature)
        VALUES (${BigInt(c.seq)}, ${c.hash}, ${c.time}, ${c.keyId}, ${BigInt(c.keyedFrom)}, ${c.signature}) ON CONFLICT (seq) DO NOTHING`;
      const kept = await this.db.auditCheckpoint.findUniqueOrThrow({ where: { seq: BigInt(c.seq) } });
      return toCheckpoint(kept);
    } catch (err) {
      throw translateDbError(err, 'audit checkpoint');
    }
  }

  async listCheckpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    try {
      const rows = await this.db.auditCheckpoint.findMany({ where: { seq: { gt: BigInt(afterSeq) } }, orderBy: { seq: 'asc' }, take: limit });
      return rows.map(toCheckpoint);
    } catch (err) {
      throw translateDbError(err, 'audit checkpoint');
    }
  }
}
