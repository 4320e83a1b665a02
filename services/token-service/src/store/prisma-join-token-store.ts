import { translateDbError } from '@mezite/platform';
import type { JoinToken, SubjectKind } from '../domain/join-token';
import type { JoinTokenStore } from '../domain/join-token-store';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = Awaited<ReturnType<PrismaClient['joinToken']['findUnique']>>;

function toDomain(r: NonNullable<Row>): JoinToken {
  return { ...r, subjectKind: r.subjectKind as SubjectKind, tokenHash: Buffer.from(r.tokenHash) };
}

/**
 * A row of `RETURNING` in a raw query: column names as in SQL. Raw queries name the
 * schema (`token.join_tokens`): the adapter's `schema` option qualifies only the
 * queries Prisma builds, and it is fixed by `@@schema("token")` anyway.
 */
interface RawRow {
  id: string;
  tenant_id: string;
  subject_kind: string;
  subject_id: string;
  token_hash: Uint8Array;
  created_at: Date;
  expires_at: Date;
  redeemed_at: Date | null;
  revoked_at: Date | null;
  claim_id: string | null;
  claimed_until: Date | null;
}

function fromRaw(r: RawRow): JoinToken {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    subjectKind: r.subject_kind as SubjectKind,
    subjectId: r.subject_id,
    tokenHash: Buffer.from(r.token_hash),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    redeemedAt: r.redeemed_at,
    revokedAt: r.revoked_at,
    claimId: r.claim_id,
    claimedUntil: r.claimed_until,
  };
}

/**
 * JoinTokenStore on PostgreSQL (schema `token`). Claim, confirm and release run on
 * every join: each is one statement, sent straight through `pg` (prisma.ts, pgPoolOf).
 */
export class PrismaJoinTokenStore implements JoinTokenStore {
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  async create(t: JoinToken): Promise<void> {
    try {
      await this.db.joinToken.create({ data: { ...t, tokenHash: new Uint8Array(t.tokenHash) } });
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number> {
    try {
      const r = await this.db.joinToken.updateMany({ where: { tenantId, subjectId, redeemedAt: null, revokedAt: null }, data: { revokedAt: at } });
      return r.count;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async findByHash(tokenHash: Buffer): Promise<JoinToken | null> {
    try {
      const r = await this.db.joinToken.findUnique({ where: { tokenHash: new Uint8Array(tokenHash) } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async claim(tokenHash: Buffer, c: { claimId: string; at: Date; until: Date }): Promise<JoinToken | null> {
    try {
      // One statement decides the winner: concurrent claims queue on the row lock and
      // re-check the WHERE against the committed row, so only the first one matches.
      const { rows } = await this.pool.query<RawRow>({
        name: 'token.join_claim',
        text: `UPDATE token.join_tokens SET claim_id = $1::uuid, claimed_until = $2
         WHERE token_hash = $3 AND redeemed_at IS NULL AND revoked_at IS NULL
           AND expires_at > $4 AND (claimed_until IS NULL OR claimed_until < $4)
         RETURNING id, tenant_id, subject_kind, subject_id, token_hash, created_at, expires_at, redeemed_at, revoked_at, claim_id, claimed_until`,
        values: [c.claimId, c.until, tokenHash, c.at],
      });
      const r = rows[0];
      return r ? fromRaw(r) : null;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  // Confirm and release are raw single statements too, so the claim check and the
  // write cannot be split by a concurrent claim (STYLE.md §5).
  async confirm(claimId: string, at: Date): Promise<boolean> {
    try {
      const r = await this.pool.query({ name: 'token.join_confirm', text: 'UPDATE token.join_tokens SET redeemed_at = $1 WHERE claim_id = $2::uuid AND redeemed_at IS NULL AND revoked_at IS NULL', values: [at, claimId] });
      return r.rowCount === 1;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }

  async release(claimId: string): Promise<boolean> {
    try {
      const r = await this.pool.query({ name: 'token.join_release', text: 'UPDATE token.join_tokens SET claim_id = NULL, claimed_until = NULL WHERE claim_id = $1::uuid AND redeemed_at IS NULL', values: [claimId] });
      return r.rowCount === 1;
    } catch (err) {
      throw translateDbError(err, 'join token');
    }
  }
}
