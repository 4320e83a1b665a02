import { alreadyExists, type KeyUsage } from '@mezite/identity';
import type { Session, SessionStore } from '../domain/session';

const copy = (s: Session): Session => ({ ...s, roles: [...s.roles], amr: [...s.amr], tokenHash: Buffer.from(s.tokenHash) });

/** SessionStore in memory, for unit tests. */
export class MemorySessionStore implements SessionStore {
  private readonly byId = new Map<string, Session>();

  /** Every stored session (tests). */
  get rows(): Session[] {
    return [...this.byId.values()].map(copy);
  }

  async create(s: Session): Promise<void> {
    if (this.byId.has(s.id) || [...this.byId.values()].some((x) => x.tokenHash.equals(s.tokenHash))) throw alreadyExists('session already exists');
    this.byId.set(s.id, copy(s));
  }

  async findByHash(tokenHash: Buffer): Promise<Session | null> {
    const s = [...this.byId.values()].find((x) => x.tokenHash.equals(tokenHash));
    return s ? copy(s) : null;
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<Session | null> {
    const s = [...this.byId.values()].find((x) => tokenHashes.some((h) => x.tokenHash.equals(h)));
    return s ? copy(s) : null;
  }

  async revoke(id: string, at: Date): Promise<void> {
    const s = this.byId.get(id);
    if (s && !s.revokedAt) s.revokedAt = at;
  }

  async rehash(r: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    const s = this.byId.get(r.id);
    if (!s || !s.tokenHash.equals(r.from)) return false;
    s.tokenHash = Buffer.from(r.to);
    s.pepperId = r.pepperId;
    return true;
  }

  async countLiveByPepper(at: Date): Promise<KeyUsage[]> {
    const m = new Map<string | null, number>();
    for (const s of this.byId.values()) {
      if (s.revokedAt || s.expiresAt <= at) continue;
      m.set(s.pepperId ?? null, (m.get(s.pepperId ?? null) ?? 0) + 1);
    }
    return [...m.entries()].map(([keyId, rows]) => ({ keyId, rows })).sort((a, b) => (a.keyId === b.keyId ? 0 : a.keyId === null ? 1 : b.keyId === null ? -1 : a.keyId < b.keyId ? -1 : 1));
  }

  async stampPepper(pepperId: string): Promise<number> {
    let n = 0;
    for (const s of this.byId.values()) {
      if (s.pepperId === undefined) {
        s.pepperId = pepperId;
        n++;
      }
    }
    return n;
  }

  /** A session ends when it expires or is revoked, whichever comes first. */
  async deleteExpired(before: Date, limit: number): Promise<number> {
    let n = 0;
    for (const [id, s] of this.byId) {
      if (n >= limit) break;
      if (s.expiresAt < before || (s.revokedAt !== null && s.revokedAt < before)) {
        this.byId.delete(id);
        n++;
      }
    }
    return n;
  }

  async listBootstrap(tenantId: string): Promise<Session[]> {
    return [...this.byId.values()]
      .filter((s) => s.tenantId === tenantId && s.authMethod === 'bootstrap-admin' && !s.revokedAt)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map(copy);
  }

  async replaceBootstrap(s: Session): Promise<{ revoked: number }> {
    let revoked = 0;
    for (const x of this.byId.values()) {
      if (x.tenantId === s.tenantId && x.authMethod === 'bootstrap-admin' && !x.revokedAt) {
        x.revokedAt = s.createdAt;
        revoked++;
      }
    }
    await this.create(s);
    return { revoked };
  }

  async revokeBootstrap(tenantId: string, at: Date): Promise<number> {
    let n = 0;
    for (const x of this.byId.values()) {
      if (x.tenantId === tenantId && x.authMethod === 'bootstrap-admin' && !x.revokedAt && x.expiresAt > at) {
        x.revokedAt = at;
        n++;
      }
    }
    return n;
  }
}
