import { alreadyExists } from '@mezite/identity';
import type { JoinToken, JoinTokenStore, JoinWrites } from '../domain/join-token';
import type { NodeStore } from '../domain/node';
import type { MemoryBotInstanceStore } from './memory-bot-instance-store';
import { deleteWhere } from './memory-retention';

const copy = (t: JoinToken): JoinToken => ({ ...t, tokenHash: Buffer.from(t.tokenHash) });

/**
 * JoinTokenStore in memory (unit tests). Redemption holds a per-token lock while the
 * join's work runs, and applies the work's writes only when it succeeds, as the
 * PostgreSQL transaction does.
 */
export class MemoryJoinTokenStore implements JoinTokenStore {
  private readonly tokens = new Map<string, JoinToken>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(private readonly o: { instances?: MemoryBotInstanceStore; nodes?: Pick<NodeStore, 'recordJoin'> } = {}) {}

  async create(token: JoinToken): Promise<void> {
    const k = token.tokenHash.toString('hex');
    if (this.tokens.has(k) || [...this.tokens.values()].some((t) => t.id === token.id)) throw alreadyExists('join token exists');
    this.tokens.set(k, copy(token));
  }

  async revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number> {
    let n = 0;
    for (const t of this.tokens.values()) {
      if (t.tenantId === tenantId && t.subjectId === subjectId && !t.redeemedAt && !t.revokedAt) {
        t.revokedAt = at;
        n++;
      }
    }
    return n;
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    return deleteWhere(this.tokens, (t) => t.expiresAt < before || (t.redeemedAt !== null && t.redeemedAt < before) || (t.revokedAt !== null && t.revokedAt < before), limit);
  }

  async findByHash(tokenHash: Buffer): Promise<JoinToken | null> {
    const t = this.tokens.get(tokenHash.toString('hex'));
    return t ? copy(t) : null;
  }

  async findByHashes(tokenHashes: readonly Buffer[]): Promise<JoinToken | null> {
    for (const h of tokenHashes) {
      const t = this.tokens.get(h.toString('hex'));
      if (t) return copy(t);
    }
    return null;
  }

  async redeem<T>(tokenHash: Buffer, at: Date, work: (token: JoinToken, writes: JoinWrites) => Promise<T>): Promise<T | null> {
    const k = tokenHash.toString('hex');
    const before = this.locks.get(k) ?? Promise.resolve();
    let unlock!: () => void;
    const mine = new Promise<void>((r) => (unlock = r));
    const chained = before.then(() => mine);
    this.locks.set(k, chained);
    await before;
    try {
      const t = this.tokens.get(k);
      if (!t || t.redeemedAt || t.revokedAt || t.expiresAt <= at) return null;
      const pending: Array<() => Promise<void> | void> = [];
      let instanceId: string | null = null;
      const writes: JoinWrites = {
        createInstance: async (instance, first) => {
          instanceId = instance.id;
          pending.push(() => this.o.instances?.create(instance, first));
        },
        enrollNode: async (tenantId, id, j) => {
          pending.push(() => this.o.nodes?.recordJoin(tenantId, id, j));
        },
      };
      const result = await work({ ...copy(t), redeemedAt: at }, writes);
      for (const p of pending) await p();
      t.redeemedAt = at;
      t.instanceId = instanceId;
      return result;
    } finally {
      unlock();
      if (this.locks.get(k) === chained) this.locks.delete(k);
    }
  }
}
