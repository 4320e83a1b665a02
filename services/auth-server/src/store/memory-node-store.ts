import { alreadyExists } from '@mezite/identity';
import { hostNamesOf, type Node, type NodeStore } from '../domain/node';
import type { Revocation, RevocationStore } from '../domain/revocation';

const copy = (n: Node): Node => ({ ...n, labels: { ...n.labels } });

/** NodeStore in memory (unit tests). */
export class MemoryNodeStore implements NodeStore {
  private readonly nodes = new Map<string, Node>();

  async create(n: Node): Promise<void> {
    for (const x of this.nodes.values()) if (x.tenantId === n.tenantId && x.name === n.name) throw alreadyExists(`node "${n.name}" already exists`);
    this.nodes.set(n.id, copy(n));
  }
  async get(tenantId: string, name: string): Promise<Node | null> {
    const n = [...this.nodes.values()].find((x) => x.tenantId === tenantId && x.name === name);
    return n ? copy(n) : null;
  }
  async getById(tenantId: string, id: string): Promise<Node | null> {
    const n = this.nodes.get(id);
    return n && n.tenantId === tenantId ? copy(n) : null;
  }
  async hostNamesOfOtherTenants(tenantId: string, hostNames: string[]): Promise<string[]> {
    const taken = new Set<string>();
    for (const n of this.nodes.values()) if (n.tenantId !== tenantId) for (const h of hostNamesOf(n)) taken.add(h);
    return hostNames.filter((h) => taken.has(h));
  }
  async findByHostKey(fingerprint: string): Promise<Node | null> {
    const n = [...this.nodes.values()].find((x) => x.hostKeyFingerprint === fingerprint);
    return n ? copy(n) : null;
  }
  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Node[]> {
    return [...this.nodes.values()]
      .filter((n) => n.tenantId === tenantId && (opts.afterName === undefined || n.name > opts.afterName))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, opts.limit)
      .map(copy);
  }
  async delete(tenantId: string, id: string): Promise<boolean> {
    const n = this.nodes.get(id);
    return !!n && n.tenantId === tenantId && this.nodes.delete(id);
  }
  async recordJoin(tenantId: string, id: string, j: { hostPublicKey: string; hostKeyFingerprint: string; at: Date; certExpiresAt: Date }): Promise<void> {
    if ([...this.nodes.values()].some((x) => x.id !== id && x.hostKeyFingerprint === j.hostKeyFingerprint)) throw alreadyExists('host key already enrolled');
    const n = this.nodes.get(id);
    if (n && n.tenantId === tenantId) Object.assign(n, { hostPublicKey: j.hostPublicKey, hostKeyFingerprint: j.hostKeyFingerprint, joinedAt: j.at, lastSeenAt: j.at, certExpiresAt: j.certExpiresAt });
  }
  async recordRenewal(tenantId: string, id: string, r: { at: Date; certExpiresAt: Date }): Promise<void> {
    const n = this.nodes.get(id);
    if (n && n.tenantId === tenantId) Object.assign(n, { lastSeenAt: r.at, certExpiresAt: r.certExpiresAt });
  }
}

/** RevocationStore in memory (unit tests). */
export class MemoryRevocationStore implements RevocationStore {
  readonly rows: Revocation[] = [];
  async add(r: Revocation): Promise<void> {
    this.rows.push({ ...r });
  }
  async isRevoked(q: { serial: string; subjectId: string }, now: Date): Promise<boolean> {
    return this.rows.some((r) => r.expiresAt > now && (r.serial === q.serial || r.subjectId === q.subjectId));
  }
  async listLive(now: Date): Promise<Revocation[]> {
    return this.rows.filter((r) => r.expiresAt > now).map((r) => ({ ...r }));
  }
  async deleteExpired(before: Date, limit: number): Promise<number> {
    let n = 0;
    for (let i = this.rows.length - 1; i >= 0 && n < limit; i--) {
      if ((this.rows[i] as Revocation).expiresAt < before) {
        this.rows.splice(i, 1);
        n++;
      }
    }
    return n;
  }
}
