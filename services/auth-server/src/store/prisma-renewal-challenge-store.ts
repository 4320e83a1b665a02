import { translateDbError } from '@mezite/platform';
import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

/**
 * RenewalChallengeStore on PostgreSQL: creation is one INSERT, consumption one
 * conditional UPDATE, both straight on `pg` (every renewal; prisma.ts, pgPoolOf).
 */
export class PrismaRenewalChallengeStore implements RenewalChallengeStore {
  private readonly pool: PgPool;

  constructor(db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async create(c: RenewalChallenge): Promise<void> {
    try {
      await this.pool.query({
        name: 'auth.challenge_create',
        text: `INSERT INTO auth.renewal_challenges (id, bot_id, tenant_id, challenge, certificate, presented_generation, expires_at, subject_kind, bot_generation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        values: [c.id, c.botId, c.tenantId, c.challenge, c.certificate, c.presentedGeneration, c.expiresAt, c.subjectKind ?? 'bot', c.botGeneration ?? null],
      });
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
