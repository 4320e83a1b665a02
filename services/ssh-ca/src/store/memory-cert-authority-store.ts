import { alreadyExists, type KeyUsage } from '@mezite/identity';
import type { CaState, CaType, CertAuthority, CertAuthorityStore } from '../domain/cert-authority';

/** CertAuthorityStore in memory (unit tests). */
export class MemoryCertAuthorityStore implements CertAuthorityStore {
  private readonly cas: CertAuthority[] = [];

  async list(type?: CaType): Promise<CertAuthority[]> {
    return this.cas.filter((c) => !type || c.type === type).map((c) => ({ ...c }));
  }

  async insertActiveIfNone(ca: CertAuthority): Promise<CertAuthority> {
    const active = this.cas.find((c) => c.type === ca.type && c.state === 'active');
    if (active) return { ...active };
    this.cas.push({ ...ca, state: 'active' });
    return { ...ca, state: 'active' };
  }

  async insertNext(ca: CertAuthority): Promise<void> {
    if (this.cas.some((c) => c.type === ca.type && c.state === 'next')) throw alreadyExists(`a ${ca.type} CA rotation is already in progress`);
    this.cas.push({ ...ca, state: 'next' });
  }

  async transition(type: CaType, moves: Array<{ id: string; from: CaState; to: CaState }>, at: Date): Promise<boolean> {
    const found = moves.map((m) => this.cas.find((c) => c.id === m.id && c.type === type && c.state === m.from));
    if (found.some((c) => !c)) return false;
    moves.forEach((m, i) => Object.assign(found[i] as CertAuthority, { state: m.to, stateChangedAt: at }));
    return true;
  }

  async rewrap(r: { id: string; from: Buffer; to: Buffer; kekId: string }): Promise<boolean> {
    const ca = this.cas.find((c) => c.id === r.id);
    if (!ca || !ca.encryptedPrivateKey.equals(r.from)) return false;
    ca.encryptedPrivateKey = Buffer.from(r.to);
    ca.kekId = r.kekId;
    return true;
  }

  async countByKek(): Promise<KeyUsage[]> {
    const m = new Map<string | null, number>();
    for (const c of this.cas) m.set(c.kekId ?? null, (m.get(c.kekId ?? null) ?? 0) + 1);
    return [...m.entries()].map(([keyId, rows]) => ({ keyId, rows }));
  }
}
