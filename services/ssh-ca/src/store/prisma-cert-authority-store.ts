import { isMeziteError, type KeyUsage } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { CaAlgorithm, CaState, CaType, CertAuthority, CertAuthorityStore } from '../domain/cert-authority';
import type { PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['certAuthority']['findFirst']>>>;
const toDomain = (r: Row): CertAuthority => ({
  id: r.id,
  type: r.type as CaType,
  algorithm: r.algorithm as CaAlgorithm,
  publicKey: r.publicKey,
  fingerprint: r.fingerprint,
  encryptedPrivateKey: Buffer.from(r.encryptedPrivateKey),
  ...(r.kekId === null ? {} : { kekId: r.kekId }),
  state: r.state as CaState,
  createdAt: r.createdAt,
  stateChangedAt: r.stateChangedAt,
});
const toRow = (ca: CertAuthority, state: CaState) => ({
  id: ca.id,
  type: ca.type,
  algorithm: ca.algorithm,
  publicKey: ca.publicKey,
  fingerprint: ca.fingerprint,
  encryptedPrivateKey: new Uint8Array(ca.encryptedPrivateKey),
  kekId: ca.kekId ?? null,
  state,
  createdAt: ca.createdAt,
});

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
      await this.db.certAuthority.create({ data: toRow(ca, 'active') });
      return { ...ca, state: 'active' };
    } catch (err) {
      const e = translateDbError(err, 'cert authority');
      if (!isMeziteError(e, 'AlreadyExists')) throw e;
      const active = (await this.list(ca.type)).find((c) => c.state === 'active');
      if (!active) throw e;
      return active;
    }
  }

  async insertNext(ca: CertAuthority): Promise<void> {
    try {
      await this.db.certAuthority.create({ data: toRow(ca, 'next') });
    } catch (err) {
      throw translateDbError(err, `${ca.type} CA rotation (one is already in progress)`);
    }
  }

  async transition(type: CaType, moves: Array<{ id: string; from: CaState; to: CaState }>, at: Date): Promise<boolean> {
    try {
      return await this.db.$transaction(async (tx) => {
        // Leave the signing state first, so the one-active index holds at every statement.
        const ordered = [...moves].sort((a, b) => Number(b.from === 'active') - Number(a.from === 'active'));
        for (const m of ordered) {
          const r = await tx.certAuthority.updateMany({ where: { id: m.id, type, state: m.from }, data: { state: m.to, stateChangedAt: at } });
          if (r.count !== 1) throw new StaleTransition();
        }
        return true;
      });
    } catch (err) {
      if (err instanceof StaleTransition) return false;
      const e = translateDbError(err, 'cert authority');
      if (isMeziteError(e, 'AlreadyExists')) return false;
      throw e;
    }
  }

  async rewrap(r: { id: string; from: Buffer; to: Buffer; kekId: string }): Promise<boolean> {
    try {
      const n = await this.db.$executeRaw`
        UPDATE sshca.cert_authorities SET encrypted_private_key = ${new Uint8Array(r.to)}, kek_id = ${r.kekId}
        WHERE id = ${r.id}::uuid AND encrypted_private_key = ${new Uint8Array(r.from)}`;
      return n === 1;
    } catch (err) {
      throw translateDbError(err, 'cert authority');
    }
  }

  async countByKek(): Promise<KeyUsage[]> {
    try {
      const rows = await this.db.certAuthority.groupBy({ by: ['kekId'], _count: { _all: true }, orderBy: { kekId: 'asc' } });
      return rows.map((r) => ({ keyId: r.kekId, rows: r._count._all }));
    } catch (err) {
      throw translateDbError(err, 'cert authority');
    }
  }
}

/** Rolls the transaction back when a move no longer applies. */
class StaleTransition extends Error {}
