import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit';

/** The hash before the first record. */
export const GENESIS: Buffer = Buffer.alloc(32);

/** An audit record with its place in the chain. */
export interface ChainedEvent extends AuditEvent {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
}

/** The outcome of verifying the chain. */
export interface ChainReport {
  ok: boolean;
  checked: number;
  /** Where the chain breaks; 0 when ok. */
  firstBadSeq: number;
  problem: string;
}

/**
 * sha256(prev_hash ‖ canonical JSON of the record). The JSON is an array in a fixed
 * order with details sorted by key, so the same record always hashes the same.
 */
export function chainHash(prev: Buffer, e: Omit<ChainedEvent, 'prevHash' | 'hash'>): Buffer {
  const details = Object.keys(e.details)
    .sort()
    .map((k) => [k, e.details[k]]);
  const canonical = JSON.stringify([e.seq, e.id, e.tenantId, e.time.toISOString(), e.type, e.actor, e.target, e.result, e.requestId, details]);
  return createHash('sha256').update(prev).update(canonical).digest();
}

/**
 * Verifies records ordered by seq against the chain head: each must follow the one
 * before (seq + 1, prev_hash = previous hash) and hash to its stored hash, and the last
 * must be the head — so an edit, a deletion (also of the newest records), or a
 * reordering is reported with the first sequence number where it shows.
 */
export function verifyChain(events: Iterable<ChainedEvent>, head: { seq: number; hash: Buffer }): ChainReport {
  const v = new ChainVerifier();
  for (const e of events) {
    const bad = v.next(e);
    if (bad) return bad;
  }
  return v.end(head);
}

/**
 * verifyChain one record at a time, holding only the previous hash: a caller reads the
 * chain in batches (PrismaAuditLog.verify) and memory stays constant however long it is.
 */
export class ChainVerifier {
  private prev: Buffer = GENESIS;
  private expectSeq = 1;

  /** Checks the next record (in seq order); the report of the first break, or null while intact. */
  next(e: ChainedEvent): ChainReport | null {
    const bad = (problem: string): ChainReport => ({ ok: false, checked: e.seq - 1, firstBadSeq: e.seq, problem });
    if (e.seq !== this.expectSeq) return { ok: false, checked: this.expectSeq - 1, firstBadSeq: this.expectSeq, problem: e.seq > this.expectSeq ? `record ${this.expectSeq} is missing` : `record ${e.seq} is out of order` };
    if (!e.prevHash.equals(this.prev)) return bad(`record ${e.seq} does not follow record ${e.seq - 1} (deleted or reordered)`);
    if (!chainHash(this.prev, e).equals(e.hash)) return bad(`record ${e.seq} was modified`);
    this.prev = e.hash;
    this.expectSeq++;
    return null;
  }

  /** After the last record: the chain must end at the head. */
  end(head: { seq: number; hash: Buffer }): ChainReport {
    const last = this.expectSeq - 1;
    if (head.seq !== last || !head.hash.equals(this.prev)) {
      return { ok: false, checked: last, firstBadSeq: this.expectSeq, problem: `the chain ends at record ${last} but the head says ${head.seq}: newest records were deleted` };
    }
    return { ok: true, checked: last, firstBadSeq: 0, problem: '' };
  }
}
