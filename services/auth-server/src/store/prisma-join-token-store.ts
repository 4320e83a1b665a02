import { translateDbError } from '@mezite/platform';
import type { JoinToken, JoinTokenStore, JoinWrites } from '../domain/join-token';
import { insertInstance } from './prisma-bot-instance-store';
import { inJoinTransaction } from './join-transaction';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

interface Row {
  id: string;
  tenant_id: string;
  subject_kind: 'bot' | 'node';
  subject_id: string;
  token_hash: Buffer;
  created_at: Date;
  expires_at: Date;
  redeemed_at: Date | null;
  revoked_at: Date | null;
  instance_id: string | null;
}

const COLUMNS = 'id, tenant_id, subject_kind, subject_id, token_hash, created_at, expires_at, redeemed_at, revoked_at, instance_id';

function fromRow(r: Row): JoinToken {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    subjectKind: r.subject_kind,
    subjectId: r.subject_id,
    tokenHash: r.token_hash,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    redeemedAt: r.redeemed_at,
    revokedAt: r.revoked_at,
    instanceId: r.instance_id,
  };
}

/**
 * JoinTokenStore on PostgreSQL (`auth.join_tokens`). A redemption is one transaction on
 * one connection: the conditional UPDATE that redeems the token (concurrent attempts
 * wait on its row lock; after the winner commits they match nothing), then the join's
 * writes (the bot instance and its first generation, or the node's host key), then
 * COMMIT. The certificate is signed while the row is held, so a token is never
 * consumed without its certificate and never yields two.
 */
export class PrismaJoinTokenStore implements JoinTokenStore {
  private readonly pool: PgPool;
  /**
   * Redemptions hold their connection while ssh-ca signs. At most half the pool does so
   * at once, so a burst of joins waits here (bounded by load shedding) instead of
   * starving the reads every call makes into the pool's connection timeout.
   */
  private readonly slots: number;
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(db: PrismaClient) {
    this.pool = pgPoolOf(db);
    this.slots = Math.max(1, Math.floor((this.pool.options.max ?? 10) / 2));
  }

  private async slot(): Promise<() => void> {
    if (this.busy >= this.slots) await new Promise<void>((r) => this.waiting.push(r));
    else this.busy++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.busy--;
    };
  }

  async create(t: JoinToken): Promise<void> {
    try {
      await this.pool.query({
        name: 'auth.join_token_create',
        text: `INSERT INTO auth.join_tokens (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        values: [t.id, t.tenantId, t.subjectKind, t.subjectId, t.tokenHash, t.createdAt, t.expiresAt, t.redeemedAt, t.revokedAt, t.instanceId],
      });
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number> {
    try {
      const r = await this.pool.query({
        name: 'auth.join_token_revoke_subject',
        text: 'UPDATE auth.join_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND subject_id = $2 AND redeemed_at IS NULL AND revoked_at IS NULL',
        values: [tenantId, subjectId, at],
      });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    try {
      const r = await this.pool.query({
        text: `DELETE FROM auth.join_tokens WHERE id IN (
                 SELECT id FROM auth.join_tokens WHERE expires_at < $1 OR redeemed_at < $1 OR revoked_at < $1 LIMIT $2)`,
        values: [before, limit],
      });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<JoinToken | null> {
    try {
      const r = await this.pool.query<Row>({ name: 'auth.join_token_by_hash', text: `SELECT ${COLUMNS} FROM auth.join_tokens WHERE token_hash = $1`, values: [tokenHash] });
      return r.rows[0] ? fromRow(r.rows[0]) : null;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<JoinToken | null> {
    if (tokenHashes.length === 0) return null;
    try {
      const r = await this.pool.query<Row>({ name: 'auth.join_token_by_hashes', text: `SELECT ${COLUMNS} FROM auth.join_tokens WHERE token_hash = ANY($1::bytea[]) LIMIT 1`, values: [[...tokenHashes]] });
      return r.rows[0] ? fromRow(r.rows[0]) : null;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async redeem<T>(tokenHash: Buffer, at: Date, work: (token: JoinToken, writes: JoinWrites) => Promise<T>): Promise<T | null> {
    const release = await this.slot();
    try {
      return await this.redeemHeld(tokenHash, at, work);
    } finally {
      release();
    }
  }

  private redeemHeld<T>(tokenHash: Buffer, at: Date, work: (token: JoinToken, writes: JoinWrites) => Promise<T>): Promise<T | null> {
    // Database errors of the writes are translated where they happen.
    const translated = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        throw translateDbError(err, what);
      }
    };
    return inJoinTransaction(
      this.pool,
      async (c) => {
        const r = await c.query<Row>({
          name: 'auth.join_token_redeem',
          text: `UPDATE auth.join_tokens SET redeemed_at = $2
                 WHERE token_hash = $1 AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > $2
                 RETURNING ${COLUMNS}`,
          values: [tokenHash, at],
        });
        return r.rows[0] ? fromRow(r.rows[0]) : null;
      },
      (c, token) => {
        const writes: JoinWrites = {
          createInstance: (instance, first) =>
            translated('bot instance', async () => {
              await insertInstance(c, instance, first);
              await c.query({ name: 'auth.join_token_instance', text: 'UPDATE auth.join_tokens SET instance_id = $2 WHERE id = $1', values: [token.id, instance.id] });
            }),
          enrollNode: (tenantId, id, j) =>
            translated('host key', async () => {
              await c.query({
                name: 'auth.node_enroll',
                text: `UPDATE auth.nodes SET host_public_key = $3, host_key_fingerprint = $4, joined_at = $5, last_seen_at = $5, cert_expires_at = $6 WHERE tenant_id = $1 AND id = $2`,
                values: [tenantId, id, j.hostPublicKey, j.hostKeyFingerprint, j.at, j.certExpiresAt],
              });
            }),
        };
        return work(token, writes);
      },
    );
  }
}
