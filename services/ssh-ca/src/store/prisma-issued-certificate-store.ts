import { alreadyExists } from '@mezite/identity';
import { GroupCommit, translateDbError } from '@mezite/platform';
import type { CaType } from '../domain/cert-authority';
import type { IssuedCertificate, IssuedCertificateStore } from '../domain/issued-certificate';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['issuedCertificate']['findUnique']>>>;
const toDomain = (r: Row): IssuedCertificate => ({ ...r, type: r.type as CaType });

/** Columns of one row as `jsonb_to_recordset` reads them (bigints as strings: JSON numbers stop at 2^53). */
const RECORD = `r(ca_id uuid, serial bigint, type text, key_id text, principals text[], subject_id uuid, tenant_id uuid,
  public_key_fingerprint text, valid_after timestamptz, valid_before timestamptz, created_at timestamptz)`;

/**
 * IssuedCertificateStore on PostgreSQL (schema `sshca`, table `issued_certificates`).
 * Inserts are group-committed on `pg`: certificates signed while an insert is under way
 * are written together by the next one, one multi-row statement (`ON CONFLICT DO
 * NOTHING` tells each caller whether its serial was new), so a burst of joins and
 * renewals costs a few statements and one pooled connection, not one each. Each caller
 * still returns only once its row is committed: the log stays written before the
 * certificate leaves ssh-ca.
 */
export class PrismaIssuedCertificateStore implements IssuedCertificateStore {
  private readonly pool: PgPool;
  private readonly inserts: GroupCommit<IssuedCertificate, boolean>;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
    this.inserts = new GroupCommit({ write: (batch) => this.insertMany(batch) });
  }

  async insert(cert: IssuedCertificate): Promise<void> {
    let inserted: boolean;
    try {
      inserted = await this.inserts.submit(cert);
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
    if (!inserted) throw alreadyExists('issued certificate already exists');
  }

  /** One statement for the batch; true for each row written, false for a `(caId, serial)` already logged. */
  private async insertMany(batch: IssuedCertificate[]): Promise<boolean[]> {
    const rows = batch.map((c) => ({
      ca_id: c.caId.toLowerCase(),
      serial: c.serial.toString(),
      type: c.type,
      key_id: c.keyId,
      principals: c.principals,
      subject_id: c.subjectId,
      tenant_id: c.tenantId,
      public_key_fingerprint: c.publicKeyFingerprint,
      valid_after: c.validAfter.toISOString(),
      valid_before: c.validBefore.toISOString(),
      created_at: c.createdAt.toISOString(),
    }));
    const r = await this.pool.query<{ ca_id: string; serial: string }>({
      name: 'sshca.issued_insert',
      text: `INSERT INTO sshca.issued_certificates (ca_id, serial, type, key_id, principals, subject_id, tenant_id, public_key_fingerprint, valid_after, valid_before, created_at)
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS ${RECORD}
       ON CONFLICT (ca_id, serial) DO NOTHING
       RETURNING ca_id, serial`,
      values: [JSON.stringify(rows)],
    });
    const written = new Set(r.rows.map((w) => `${w.ca_id}/${w.serial}`));
    // Two items of one batch with the same key (never, with random 63-bit serials): the first wins.
    return rows.map((w) => written.delete(`${w.ca_id}/${w.serial}`));
  }

  async find(caId: string, serial: bigint): Promise<IssuedCertificate | null> {
    try {
      const r = await this.db.issuedCertificate.findUnique({ where: { caId_serial: { caId, serial } } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
  }

  async listBySubject(subjectId: string, opts: { unexpiredAt?: Date } = {}): Promise<IssuedCertificate[]> {
    try {
      const rows = await this.db.issuedCertificate.findMany({
        where: { subjectId, ...(opts.unexpiredAt ? { validBefore: { gt: opts.unexpiredAt } } : {}) },
        orderBy: [{ createdAt: 'asc' }, { serial: 'asc' }],
      });
      return rows.map(toDomain);
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
  }

  async listRevocable(q: { subjectIds: string[]; serials: bigint[]; unexpiredAt: Date }): Promise<IssuedCertificate[]> {
    if (q.subjectIds.length === 0 && q.serials.length === 0) return [];
    try {
      const rows = await this.db.issuedCertificate.findMany({
        where: { validBefore: { gt: q.unexpiredAt }, OR: [{ subjectId: { in: q.subjectIds } }, { serial: { in: q.serials } }] },
        orderBy: [{ caId: 'asc' }, { serial: 'asc' }],
      });
      return rows.map(toDomain);
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
  }

  async findBySerial(serial: bigint): Promise<IssuedCertificate | null> {
    try {
      const r = await this.db.issuedCertificate.findFirst({ where: { serial } });
      return r ? toDomain(r) : null;
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
  }

  async lastExpiry(caId: string): Promise<Date | null> {
    try {
      const r = await this.db.issuedCertificate.aggregate({ where: { caId }, _max: { validBefore: true } });
      return r._max.validBefore ?? null;
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
  }
}
