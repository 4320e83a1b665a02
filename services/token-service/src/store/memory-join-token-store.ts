import { alreadyExists } from '@mezite/identity';
import type { JoinToken } from '../domain/join-token';
import type { JoinTokenStore } from '../domain/join-token-store';

/** JoinTokenStore in memory, for unit tests and single-process use. */
export class MemoryJoinTokenStore implements JoinTokenStore {
  private readonly byId = new Map<string, JoinToken>();
  private readonly byHash = new Map<string, string>();

  async create(t: JoinToken): Promise<void> {
    const h = t.tokenHash.toString('hex');
    if (this.byId.has(t.id) || this.byHash.has(h)) throw alreadyExists('join token already exists');
    this.byId.set(t.id, { ...t, tokenHash: Buffer.from(t.tokenHash) });
    this.byHash.set(h, t.id);
  }

  async revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number> {
    let n = 0;
    for (const t of this.byId.values()) {
      if (t.tenantId === tenantId && t.subjectId === subjectId && !t.redeemedAt && !t.revokedAt) {
        t.revokedAt = at;
        n++;
      }
    }
    return n;
  }

  async findByHash(tokenHash: Buffer): Promise<JoinToken | null> {
    const id = this.byHash.get(tokenHash.toString('hex'));
    const t = id ? this.byId.get(id) : undefined;
    return t ? { ...t, tokenHash: Buffer.from(t.tokenHash) } : null;
  }

  async claim(tokenHash: Buffer, c: { claimId: string; at: Date; until: Date }): Promise<JoinToken | null> {
    // No await between the check and the write: atomic on the one JS thread.
    const id = this.byHash.get(tokenHash.toString('hex'));
    const t = id ? this.byId.get(id) : undefined;
    if (!t || t.redeemedAt || t.revokedAt || t.expiresAt <= c.at || (t.claimedUntil && t.claimedUntil >= c.at)) return null;
    t.claimId = c.claimId;
    t.claimedUntil = c.until;
    return { ...t, tokenHash: Buffer.from(t.tokenHash) };
  }

  async confirm(claimId: string, at: Date): Promise<boolean> {
    const t = this.byClaim(claimId);
    if (!t || t.redeemedAt || t.revokedAt) return false;
    t.redeemedAt = at;
    return true;
  }

  async release(claimId: string): Promise<boolean> {
    const t = this.byClaim(claimId);
    if (!t || t.redeemedAt) return false;
    t.claimId = null;
    t.claimedUntil = null;
    return true;
  }

  private byClaim(claimId: string): JoinToken | undefined {
    for (const t of this.byId.values()) if (t.claimId === claimId) return t;
    return undefined;
  }
}
