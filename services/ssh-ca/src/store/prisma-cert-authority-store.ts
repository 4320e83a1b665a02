import { isMeziteError } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { CaAlgorithm, CaType, CertAuthority, CertAuthorityStore } from '../domain/cert-authority';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['certAuthority']['findFirst']>>>;
const toDomain = (r: Row): CertAuthority => ({ ...r, type: r.type as CaType, algorithm: r.algorithm as CaAlgorithm, encryptedPrivateKey: Buffer.from(r.encryptedPrivateKey) });

/** CertAuthorityStore on PostgreSQL (schema `sshca`). */
export class PrismaCertAuthorityStore implements CertAuthorityStore {
  constructor(private readonly db: PrismaClient) {}

  async list(type?: CaType): Promise<CertAuthority[]> {
    try {
      const rows = await this.db.certAuthority.findMany({ where: type ? { type } : {}, orderBy: { createdAt: 'asc' } });
      return rows.map(toDomain);
    } catch (err) {
      throw translateDbError(err, 'cert authority');
    }
  }

  async insertActiveIfNone(ca: CertAuthority): Promise<CertAuthority> {
    try {
      await this.db.certAuthority.create({ data: { ...ca, encryptedPrivateKey: new Uint8Array(ca.encryptedPrivateKey) } });
      return ca;
    } catch (err) {
      const e = translateDbError(err, 'cert authority');
      if (!isMeziteError(e, 'AlreadyExists')) throw e;
      const active = (await this.list(ca.type)).find((c) => c.active);
      if (!active) throw e;
      return active;
    }
  }
}
