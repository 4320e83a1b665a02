import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { invalidArgument, type Clock } from '@mezite/identity';
import type { ChainReport } from './audit-chain';

/**
 * A signed statement of the audit chain at one moment: record `seq` has link `hash`,
 * and links are keyed from `keyedFrom` on. Exported to write-once storage, it proves
 * what the chain was: a later truncation, rewrite, or moved switch point no longer
 * matches it, whatever else in the database was changed to agree.
 */
export interface AuditCheckpoint {
  seq: number;
  hash: Buffer;
  time: Date;
  /** The signing key's id: the first 16 hex digits of SHA-256 over its SPKI. */
  keyId: string;
  keyedFrom: number;
  /** Ed25519 over checkpointPayload. */
  signature: Buffer;
}

/** The bytes signed: a JSON array in a fixed order, with a domain separator. */
export function checkpointPayload(c: Omit<AuditCheckpoint, 'signature'>): Buffer {
  return Buffer.from(JSON.stringify(['mezite.audit.checkpoint.v1', c.seq, c.hash.toString('hex'), c.time.toISOString(), c.keyId, c.keyedFrom]));
}

/** Ed25519 signing key of checkpoints, from a 32-byte seed kept outside the database. */
export class CheckpointSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;

  constructor(seed: Buffer) {
    if (seed.length !== 32) throw new Error('the checkpoint signing key is a 32-byte Ed25519 seed');
    this.privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    this.publicKey = createPublicKey(this.privateKey);
    this.keyId = createHash('sha256').update(this.publicKey.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16);
  }

  sign(c: Omit<AuditCheckpoint, 'signature' | 'keyId'>): AuditCheckpoint {
    const unsigned = { ...c, keyId: this.keyId };
    return { ...unsigned, signature: sign(null, checkpointPayload(unsigned), this.privateKey) };
  }

  /** True when this key signed exactly this checkpoint. */
  verify(c: AuditCheckpoint): boolean {
    return c.keyId === this.keyId && verify(null, checkpointPayload(c), this.publicKey, c.signature);
  }
}

/** One exported line: `{"seq":…,"hash":"<hex>","time":"…","key_id":"…","keyed_from":…,"signature":"<base64>"}`. */
export function checkpointToJson(c: AuditCheckpoint): Record<string, string | number> {
  return { seq: c.seq, hash: c.hash.toString('hex'), time: c.time.toISOString(), key_id: c.keyId, keyed_from: c.keyedFrom, signature: c.signature.toString('base64') };
}

/** Reads one exported line back, refusing anything malformed (InvalidArgument). */
export function checkpointFromJson(o: unknown): AuditCheckpoint {
  const r = (o ?? {}) as Record<string, unknown>;
  const bad = (what: string) => invalidArgument(`checkpoint: ${what}`);
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 0) throw bad('seq must be a whole number');
  if (!Number.isSafeInteger(r.keyed_from) || (r.keyed_from as number) < 1) throw bad('keyed_from must be a whole number ≥ 1');
  if (typeof r.hash !== 'string' || !/^[0-9a-f]{64}$/.test(r.hash)) throw bad('hash must be 64 hex digits');
  if (typeof r.key_id !== 'string' || !/^[0-9a-f]{16}$/.test(r.key_id)) throw bad('key_id must be 16 hex digits');
  if (typeof r.signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(r.signature)) throw bad('signature must be 64 bytes, base64');
  const time = typeof r.time === 'string' ? new Date(r.time) : new Date(NaN);
  if (Number.isNaN(time.getTime())) throw bad('time must be an RFC 3339 time');
  return { seq: r.seq as number, hash: Buffer.from(r.hash, 'hex'), time, keyId: r.key_id, keyedFrom: r.keyed_from as number, signature: Buffer.from(r.signature, 'base64') };
}

/** What checkpoints are made from and checked against. */
export interface AuditCheckpointStore {
  /** The chain head: the newest record's seq and link, and the keyed switch point. */
  chainHead(): Promise<{ seq: number; hash: Buffer; keyedFrom: number }>;
  /** The stored link of record `seq`, or null when there is none. */
  linkAt(seq: number): Promise<Buffer | null>;
  /** Keeps a checkpoint; one per seq (a second for the same seq returns the first). */
  saveCheckpoint(c: AuditCheckpoint): Promise<AuditCheckpoint>;
  /** Checkpoints with seq > afterSeq, oldest first. */
  listCheckpoints(afterSeq: number, limit: number): Promise<AuditCheckpoint[]>;
}

/** Signs checkpoints of the chain head, and checks exported ones against the chain. */
export class AuditCheckpoints {
  private readonly store: AuditCheckpointStore;
  private readonly signer: CheckpointSigner;
  private readonly clock: Clock;

  constructor(o: { store: AuditCheckpointStore; signer: CheckpointSigner; clock: Clock }) {
    if (!o.store || !o.signer || !o.clock) throw new Error('AuditCheckpoints needs store, signer and clock');
    this.store = o.store;
    this.signer = o.signer;
    this.clock = o.clock;
  }

  /** Signs and keeps a checkpoint of the current head. */
  async checkpoint(): Promise<AuditCheckpoint> {
    const head = await this.store.chainHead();
    return this.store.saveCheckpoint(this.signer.sign({ seq: head.seq, hash: head.hash, time: this.clock.now(), keyedFrom: head.keyedFrom }));
  }

  list(afterSeq: number, limit: number): Promise<AuditCheckpoint[]> {
    return this.store.listCheckpoints(afterSeq, limit);
  }

  /**
   * Checks checkpoints (exported earlier, so not from this database) against the chain:
   * each must carry this server's signature, the chain must still reach its record
   * with the same link, and the switch point must not have moved. The first problem
   * (by seq) is reported; null when all hold.
   */
  async verify(checkpoints: AuditCheckpoint[]): Promise<ChainReport | null> {
    const head = await this.store.chainHead();
    for (const c of [...checkpoints].sort((a, b) => a.seq - b.seq)) {
      const at = c.time.toISOString();
      const fail = (firstBadSeq: number, problem: string): ChainReport => ({ ok: false, checked: 0, firstBadSeq, problem });
      if (!this.signer.verify(c)) return fail(c.seq, `the checkpoint of record ${c.seq} (${at}) is not signed by this server's checkpoint key ${this.signer.keyId}`);
      if (c.keyedFrom !== head.keyedFrom) return fail(Math.min(c.keyedFrom, head.keyedFrom), `the keyed switch point moved from ${c.keyedFrom} to ${head.keyedFrom} since the checkpoint of ${at}: records were rewritten`);
      if (c.seq > head.seq) return fail(head.seq + 1, `the chain ends at record ${head.seq} but the checkpoint of ${at} covers record ${c.seq}: newest records were deleted`);
      if (c.seq === 0) continue;
      const link = await this.store.linkAt(c.seq);
      if (!link) return fail(c.seq, `record ${c.seq} is missing but the checkpoint of ${at} covers it`);
      if (!link.equals(c.hash)) return fail(c.seq, `record ${c.seq} does not match the checkpoint of ${at}: it or an earlier record was rewritten`);
    }
    return null;
  }
}
