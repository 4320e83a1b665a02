import { translateDbError } from '@mezite/platform';
import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';
import type { PrismaClient } from './prisma';

/** RenewalChallengeStore on PostgreSQL: consumption is one conditional UPDATE. */
export class PrismaRenewalChallengeStore implements RenewalChallengeStore {
  constructor(private readonly db: PrismaClient) {}

  async create(c: RenewalChallenge): Promise<void> {
    try {
      await this.db.renewalChallenge.create({
        data: { ...c, subjectKind: c.subjectKind ?? 'bot', challenge: new Uint8Array(c.challenge), presentedGeneration: BigInt(c.presentedGeneration), botGeneration: c.botGeneration === undefined ? null : BigInt(c.botGeneration) },
      });
    } catch (err) {
      throw translateDbError(err, 'renewal challenge');
    }
  }

  async consume(id: string, now: Date): Promise<RenewalChallenge | null> {
    try {
      const rows = await this.db.$queryRaw<Array<{ id: string; bot_id: string; tenant_id: string; challenge: Uint8Array; certificate: string; presented_generation: bigint; expires_at: Date; subject_kind: string; bot_generation: bigint | null }>>`
        UPDATE auth.renewal_challenges SET used_at = ${now}
        WHERE id = ${id}::uuid AND used_at IS NULL AND expires_at > ${now}
        RETURNING id, bot_id, tenant_id, challenge, certificate, presented_generation, expires_at, subject_kind, bot_generation`;
      const r = rows[0];
      if (!r) return null;
      return { id: r.id, subjectKind: r.subject_kind === 'node' ? 'node' : 'bot', botId: r.bot_id, tenantId: r.tenant_id, challenge: Buffer.from(r.challenge), certificate: r.certificate, presentedGeneration: Number(r.presented_generation), ...(r.bot_generation === null ? {} : { botGeneration: Number(r.bot_generation) }), expiresAt: r.expires_at };
    } catch (err) {
      throw translateDbError(err, 'renewal challenge');
    }
  }
}
