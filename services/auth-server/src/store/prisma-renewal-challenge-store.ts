import { translateDbError } from '@mezite/platform';
import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

/**
 * RenewalChallengeStore on PostgreSQL: creation is a short transaction (the subject's
 * lock, trim, INSERT), consumption one conditional UPDATE, both straight on `pg`
 * (every renewal; prisma.ts, pgPoolOf).
 */
export class PrismaRenewalChallengeStore implements RenewalChallengeStore {
  private readonly pool: PgPool;

  constructor(db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async create(c: RenewalChallenge, bound: { keep: number; now: Date }): Promise<void> {
    let client;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translateDbError(err, 'renewal challenge');
    }
    // A checked-out client has no listener of the pool's (see PrismaJoinTokenStore).
    let broken = false;
    const onError = () => (broken = true);
    client.on('error', onError);
    let open = false;
    try {
      // One subject's creations take turns (a transaction-scoped advisory lock on its
      // id), so concurrent callers cannot each leave keep - 1 and add one.
      await client.query("BEGIN; SET LOCAL lock_timeout = '5s'");
      open = true;
      await client.query({ name: 'auth.challenge_subject_lock', text: 'SELECT pg_advisory_xact_lock(hashtextextended($1::text, 20261))', values: [c.botId] });
      await client.query({
        name: 'auth.challenge_trim',
        text: `DELETE FROM auth.renewal_challenges
               WHERE bot_id = $1 AND tenant_id = $2 AND subject_kind = $3 AND used_at IS NULL
                 AND (expires_at <= $4 OR id IN (
                   SELECT id FROM auth.renewal_challenges
                   WHERE bot_id = $1 AND tenant_id = $2 AND subject_kind = $3 AND used_at IS NULL AND expires_at > $4
                   ORDER BY expires_at DESC, id DESC OFFSET $5))`,
        values: [c.botId, c.tenantId, c.subjectKind ?? 'bot', bound.now, Math.max(0, bound.keep - 1)],
      });
      await client.query({
        name: 'auth.challenge_create',
        text: `INSERT INTO auth.renewal_challenges (id, bot_id, tenant_id, challenge, certificate, presented_generation, expires_at, subject_kind, bot_generation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        values: [c.id, c.botId, c.tenantId, c.challenge, c.certificate, c.presentedGeneration, c.expiresAt, c.subjectKind ?? 'bot', c.botGeneration ?? null],
      });
      await client.query('COMMIT');
      open = false;
    } catch (err) {
      if (open) await client.query('ROLLBACK').catch(() => (broken = true));
      throw translateDbError(err, 'renewal challenge');
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    try {
      const r = await this.pool.query({ text: 'DELETE FROM auth.renewal_challenges WHERE id IN (SELECT id FROM auth.renewal_challenges WHERE expires_at < $1 LIMIT $2)', values: [before, limit] });
      return r.rowCount ?? 0;
    } catch (err) {
      throw translateDbError(err, 'renewal challenge');
    }
  }

  async consume(id: string, now: Date): Promise<RenewalChallenge | null> {
    try {
      const { rows } = await this.pool.query<{ id: string; bot_id: string; tenant_id: string; challenge: Buffer; certificate: string; presented_generation: string; expires_at: Date; subject_kind: string; bot_generation: string | null }>({
        name: 'auth.challenge_consume',
        text: `UPDATE auth.renewal_challenges SET used_at = $2
         WHERE id = $1::uuid AND used_at IS NULL AND expires_at > $2
         RETURNING id, bot_id, tenant_id, challenge, certificate, presented_generation, expires_at, subject_kind, bot_generation`,
        values: [id, now],
      });
      const r = rows[0];
      if (!r) return null;
      return { id: r.id, subjectKind: r.subject_kind === 'node' ? 'node' : 'bot', botId: r.bot_id, tenantId: r.tenant_id, challenge: Buffer.from(r.challenge), certificate: r.certificate, presentedGeneration: Number(r.presented_generation), ...(r.bot_generation === null ? {} : { botGeneration: Number(r.bot_generation) }), expiresAt: r.expires_at };
    } catch (err) {
      throw translateDbError(err, 'renewal challenge');
    }
  }
}
