import { translateDbError } from '@mezite/platform';
import type { CaType } from '../domain/cert-authority';
import type { IssuedCertificate, IssuedCertificateStore } from '../domain/issued-certificate';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['issuedCertificate']['findUnique']>>>;
const toDomain = (r: Row): IssuedCertificate => ({ ...r, type: r.type as CaType });

/** IssuedCertificateStore on PostgreSQL (schema `sshca`, table `issued_certificates`). */
export class PrismaIssuedCertificateStore implements IssuedCertificateStore {
  constructor(private readonly db: PrismaClient) {}

  async insert(cert: IssuedCertificate): Promise<void> {
    try {
      await this.db.issuedCertificate.create({ data: cert });
    } catch (err) {
      throw translateDbError(err, 'issued certificate');
    }
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
