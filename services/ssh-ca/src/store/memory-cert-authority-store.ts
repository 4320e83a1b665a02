import type { CaType, CertAuthority, CertAuthorityStore } from '../domain/cert-authority';

/** CertAuthorityStore in memory (unit tests). */
export class MemoryCertAuthorityStore implements CertAuthorityStore {
  private readonly cas: CertAuthority[] = [];

  async list(type?: CaType): Promise<CertAuthority[]> {
    return this.cas.filter((c) => !type || c.type === type).map((c) => ({ ...c }));
  }

  async insertActiveIfNone(ca: CertAuthority): Promise<CertAuthority> {
    const active = this.cas.find((c) => c.type === ca.type && c.active);
    if (active) return { ...active };
    this.cas.push({ ...ca });
    return { ...ca };
  }
}
