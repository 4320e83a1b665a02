import { alreadyExists } from '@mezite/identity';
import type { IssuedCertificate, IssuedCertificateStore } from '../domain/issued-certificate';

const copy = (c: IssuedCertificate): IssuedCertificate => ({ ...c, principals: [...c.principals] });
const byAge = (a: IssuedCertificate, b: IssuedCertificate) => a.createdAt.getTime() - b.createdAt.getTime() || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

/** IssuedCertificateStore in memory (unit tests). */
export class MemoryIssuedCertificateStore implements IssuedCertificateStore {
  private readonly certs = new Map<string, IssuedCertificate>();

  async insert(cert: IssuedCertificate): Promise<void> {
    const key = `${cert.caId}/${cert.serial}`;
    if (this.certs.has(key)) throw alreadyExists('issued certificate already exists');
    this.certs.set(key, copy(cert));
  }

  async find(caId: string, serial: bigint): Promise<IssuedCertificate | null> {
    const c = this.certs.get(`${caId}/${serial}`);
    return c ? copy(c) : null;
  }

  async listBySubject(subjectId: string, opts: { unexpiredAt?: Date } = {}): Promise<IssuedCertificate[]> {
    const after = opts.unexpiredAt?.getTime();
    return [...this.certs.values()]
      .filter((c) => c.subjectId === subjectId && (after === undefined || c.validBefore.getTime() > after))
      .sort(byAge)
      .map(copy);
  }

  async listRevocable(q: { subjectIds: string[]; serials: bigint[]; unexpiredAt: Date }): Promise<IssuedCertificate[]> {
    const ids = new Set(q.subjectIds);
    const serials = new Set(q.serials);
    return [...this.certs.values()]
      .filter((c) => c.validBefore > q.unexpiredAt && ((c.subjectId !== null && ids.has(c.subjectId)) || serials.has(c.serial)))
      .sort((a, b) => a.caId.localeCompare(b.caId) || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0))
      .map(copy);
  }

  async findBySerial(serial: bigint): Promise<IssuedCertificate | null> {
    const c = [...this.certs.values()].find((x) => x.serial === serial);
    return c ? copy(c) : null;
  }

  async lastExpiry(caId: string): Promise<Date | null> {
    let last: Date | null = null;
    for (const c of this.certs.values()) if (c.caId === caId && (!last || c.validBefore > last)) last = c.validBefore;
    return last;
  }

  /** How many certificates were logged (tests). */
  get size(): number {
    return this.certs.size;
  }
}
