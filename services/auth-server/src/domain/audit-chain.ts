import { createHash, createHmac } from 'node:crypto';
import type { AuditEvent } from './audit';

/** The hash before the first record. */
export const GENESIS: Buffer = Buffer.alloc(32);

/** An audit record with its place in the chain. */
export interface ChainedEvent extends AuditEvent {
  seq: number;
  prevHash: Buffer;
  hash: Buffer;
  /** The audit key the link is keyed with; null for a record from before keying (SHA-256). */
  keyId?: string | null;
}

/** An HMAC key for the chain, kept outside the database; its id is stored with each record. */
export interface AuditKey {
  id: string;
  secret: Buffer;
}

/**
 * How links are checked: records from `keyedFrom` on are HMAC-SHA256 under one of
 * `keys` (by id); records before it were written before the upgrade and keep the
 * unkeyed SHA-256 rule. Without keying, every record is checked by the unkeyed rule.
 */
export interface ChainKeying {
  keys: ReadonlyMap<string, Buffer>;
  keyedFrom: number;
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
 * HMAC-SHA256 under the audit key of (key id ‖ prev link ‖ chainHash of the record): whoever
 * can write the database but does not hold the key cannot recompute a link.
 */
export function keyedChainHash(key: AuditKey, prev: Buffer, e: Omit<ChainedEvent, 'prevHash' | 'hash'>): Buffer {
  return createHmac('sha256', key.secret).update(`mezite.audit.v2\0${key.id}\0`).update(prev).update(chainHash(prev, e)).digest();
}

/** Why one record's stored link is wrong under the keying, or '' when it is right. */
export function checkLink(prev: Buffer, e: ChainedEvent, keying?: ChainKeying): string {
  const keyed = keying !== undefined && e.seq >= keying.keyedFrom;
  if (!keyed) {
    if (e.keyId) return `record ${e.seq} claims a key but comes before the keyed switch point`;
    return chainHash(prev, e).equals(e.hash) ? '' : `record ${e.seq} was modified`;
  }
  if (!e.keyId) return `record ${e.seq} was modified (its link is not keyed)`;
  const secret = keying.keys.get(e.keyId);
  if (!secret) return `record ${e.seq} is keyed with unknown audit key "${e.keyId}"`;
  return keyedChainHash({ id: e.keyId, secret }, prev, e).equals(e.hash) ? '' : `record ${e.seq} was modified`;
}

/**
 * Verifies records ordered by seq against the chain head: each must follow the one
 * before (seq + 1, prev_hash = previous hash) and link to its stored hash (checkLink:
 * keyed from the switch point on), and the last
 * must be the head — so an edit, a deletion (also of the newest records), or a
 * reordering is reported with the first sequence number where it shows.
 */
export function verifyChain(events: Iterable<ChainedEvent>, head: { seq: number; hash: Buffer }, keying?: ChainKeying): ChainReport {
  const v = new ChainVerifier(keying);
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

  constructor(private readonly keying?: ChainKeying) {}

  /** Checks the next record (in seq order); the report of the first break, or null while intact. */
  next(e: ChainedEvent): ChainReport | null {
    const bad = (problem: string): ChainReport => ({ ok: false, checked: e.seq - 1, firstBadSeq: e.seq, problem });
    if (e.seq !== this.expectSeq) return { ok: false, checked: this.expectSeq - 1, firstBadSeq: this.expectSeq, problem: e.seq > this.expectSeq ? `record ${this.expectSeq} is missing` : `record ${e.seq} is out of order` };
    if (!e.prevHash.equals(this.prev)) return bad(`record ${e.seq} does not follow record ${e.seq - 1} (deleted or reordered)`);
    const wrong = checkLink(this.prev, e, this.keying);
    if (wrong) return bad(wrong);
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
