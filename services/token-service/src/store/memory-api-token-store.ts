import { alreadyExists, type KeyUsage } from '@mezite/identity';
import type { ApiToken } from '../domain/api-token';
import type { ApiTokenRotation, ApiTokenStore } from '../domain/api-token-store';
import { OTHER_PRESENTER, sortUsage, type ApiTokenUsage } from '../domain/api-token-usage';
import { countKeys } from './key-usage';

const copy = (t: ApiToken): ApiToken => ({ ...t, tokenHash: Buffer.from(t.tokenHash) });
const isLive = (t: ApiToken, at: Date) => !t.revokedAt && t.expiresAt > at && (!t.rotationDeadline || t.rotationDeadline > at);

/**
 * ApiTokenStore in memory, for unit tests and single-process use. Every method
 * checks and writes without an await in between: atomic on the one JS thread, as the
 * conditional statements are in PostgreSQL.
 */
export class MemoryApiTokenStore implements ApiTokenStore {
  private readonly byId = new Map<string, ApiToken>();
  private readonly byHash = new Map<string, string>();
  /** Usage rows by `token/hour/source/client`. */
  private readonly usage = new Map<string, ApiTokenUsage>();

  async create(t: ApiToken): Promise<void> {
    this.insert(t);
  }

  async createMany(ts: readonly ApiToken[]): Promise<void> {
    const ids = new Set(ts.map((t) => t.id));
    const hashes = new Set(ts.map((t) => t.tokenHash.toString('hex')));
    if (ids.size < ts.length || hashes.size < ts.length || ts.some((t) => this.byId.has(t.id) || this.byHash.has(t.tokenHash.toString('hex')))) throw alreadyExists('api token already exists');
    for (const t of ts) this.insert(t);
  }

  async findByHash(tokenHash: Buffer): Promise<ApiToken | null> {
    const id = this.byHash.get(tokenHash.toString('hex'));
    const t = id ? this.byId.get(id) : undefined;
    return t ? copy(t) : null;
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<ApiToken | null> {
    for (const h of tokenHashes) {
      const t = await this.findByHash(h);
      if (t) return t;
    }
    return null;
  }

  async rehash(r: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean> {
    const t = this.byId.get(r.id);
    const to = r.to.toString('hex');
    if (!t || !t.tokenHash.equals(r.from) || this.byHash.has(to)) return false;
    this.byHash.delete(r.from.toString('hex'));
    this.byHash.set(to, t.id);
    t.tokenHash = Buffer.from(r.to);
    t.pepperId = r.pepperId;
    return true;
  }

  async countLiveByPepper(at: Date): Promise<KeyUsage[]> {
    return countKeys([...this.byId.values()].filter((t) => isLive(t, at)).map((t) => t.pepperId));
  }

  async stampPepper(pepperId: string): Promise<number> {
    let n = 0;
    for (const t of this.byId.values()) {
      if (t.pepperId === undefined) {
        t.pepperId = pepperId;
        n++;
      }
    }
    return n;
  }

  async findById(id: string): Promise<ApiToken | null> {
    const t = this.byId.get(id);
    return t ? copy(t) : null;
  }

  async listLive(tenantId: string, identityId: string, at: Date): Promise<ApiToken[]> {
    return [...this.byId.values()]
      .filter((t) => t.tenantId === tenantId && t.identityId === identityId && isLive(t, at))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
      .map(copy);
  }

  async rotate(r: { id: string; tenantId: string; identityId: string; at: Date; deadline: Date; successor: ApiToken }): Promise<ApiTokenRotation | null> {
    const t = this.byId.get(r.id);
    if (!t || t.tenantId !== r.tenantId || t.identityId !== r.identityId || t.rotatedAt || t.revokedAt || t.expiresAt <= r.at) return null;
    this.insert(r.successor);
    t.rotatedAt = r.at;
    t.rotationDeadline = r.deadline;
    t.replacedBy = r.successor.id;
    const cutOff: ApiToken[] = [];
    for (const p of this.byId.values()) {
      if (p.replacedBy === t.id && !p.revokedAt && p.rotationDeadline && p.rotationDeadline > r.at) {
        p.rotationDeadline = r.at;
        cutOff.push(copy(p));
      }
    }
    return { rotated: copy(t), cutOff };
  }

  async revokeChain(r: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken[] | null> {
    const first = this.byId.get(r.id);
    if (!first || first.tenantId !== r.tenantId || first.identityId !== r.identityId) return null;
    const chain: ApiToken[] = [];
    for (let t: ApiToken | undefined = first; t && !chain.includes(t); t = t.replacedBy ? this.byId.get(t.replacedBy) : undefined) {
      t.revokedAt ??= r.at;
      chain.push(t);
    }
    return chain.map(copy);
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    const dead = (t: ApiToken) => t.expiresAt < before || (t.revokedAt !== null && t.revokedAt < before) || (t.rotationDeadline !== null && t.rotationDeadline < before);
    const all = [...this.byId.values()];
    const gone = all.filter((t) => dead(t) && !all.some((r) => r.replacedBy === t.id && !dead(r))).slice(0, limit);
    for (const t of gone) {
      for (const r of all) if (r.replacedBy === t.id) r.replacedBy = null;
      this.byId.delete(t.id);
      this.byHash.delete(t.tokenHash.toString('hex'));
      for (const [k, u] of this.usage) if (u.tokenId === t.id) this.usage.delete(k);
    }
    return gone.length;
  }

  async touchLastUsed(uses: ReadonlyArray<{ id: string; at: Date }>): Promise<void> {
    for (const u of uses) {
      const t = this.byId.get(u.id);
      if (t && (!t.lastUsedAt || t.lastUsedAt < u.at)) t.lastUsedAt = u.at;
    }
  }

  async addUsage(rows: readonly ApiTokenUsage[], maxPresenters: number): Promise<void> {
    // New presenters with the most uses first, as the PostgreSQL statement ranks them.
    const ordered = [...rows].sort((a, b) => b.count - a.count || a.source.localeCompare(b.source) || a.client.localeCompare(b.client));
    for (let r of ordered) {
      if (!this.byId.has(r.tokenId)) continue;
      let k = `${r.tokenId}/${r.hour.getTime()}/${r.source}/${r.client}`;
      const isOther = r.source === OTHER_PRESENTER && r.client === '';
      if (!this.usage.has(k) && !isOther) {
        const stored = [...this.usage.values()].filter((u) => u.tokenId === r.tokenId && u.hour.getTime() === r.hour.getTime() && !(u.source === OTHER_PRESENTER && u.client === '')).length;
        if (stored >= maxPresenters) {
          r = { ...r, source: OTHER_PRESENTER, client: '' };
          k = `${r.tokenId}/${r.hour.getTime()}/${r.source}/${r.client}`;
        }
      }
      const e = this.usage.get(k);
      if (!e) {
        this.usage.set(k, { ...r });
        continue;
      }
      e.count += r.count;
      if (r.firstSeen < e.firstSeen) e.firstSeen = r.firstSeen;
      if (r.lastSeen > e.lastSeen) e.lastSeen = r.lastSeen;
    }
  }

  async listUsage(id: string, since: Date): Promise<ApiTokenUsage[]> {
    return sortUsage([...this.usage.values()].filter((u) => u.tokenId === id && u.hour >= since).map((u) => ({ ...u })));
  }

  async deleteUsageBefore(before: Date, limit: number): Promise<number> {
    let n = 0;
    for (const [k, u] of this.usage) {
      if (n >= limit) break;
      if (u.lastSeen < before) {
        this.usage.delete(k);
        n++;
      }
    }
    return n;
  }

  async finishRotation(r: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken | null> {
    const t = this.byId.get(r.id);
    if (!t || t.tenantId !== r.tenantId || t.identityId !== r.identityId || t.revokedAt || !t.rotatedAt || !t.rotationDeadline || t.rotationDeadline <= r.at) return null;
    t.rotationDeadline = r.at;
    return copy(t);
  }

  private insert(t: ApiToken): void {
    const h = t.tokenHash.toString('hex');
    if (this.byId.has(t.id) || this.byHash.has(h)) throw alreadyExists('api token already exists');
    this.byId.set(t.id, copy(t));
    this.byHash.set(h, t.id);
  }
}
