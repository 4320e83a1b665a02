import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';
import { deleteWhere } from './memory-retention';

/** RenewalChallengeStore in memory (unit tests). */
export class MemoryRenewalChallengeStore implements RenewalChallengeStore {
  private readonly items = new Map<string, RenewalChallenge & { used: boolean }>();

  async create(c: RenewalChallenge, bound: { keep: number; now: Date }): Promise<void> {
    const kind = c.subjectKind ?? 'bot';
    const open = [...this.items.values()]
      .filter((o) => !o.used && o.botId === c.botId && o.tenantId === c.tenantId && (o.subjectKind ?? 'bot') === kind)
      .sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime() || (a.id < b.id ? 1 : -1));
    open.forEach((o, i) => {
      if (o.expiresAt <= bound.now || i >= bound.keep - 1) this.items.delete(o.id);
    });
    this.items.set(c.id, { ...c, used: false });
  }

  async consume(id: string, now: Date): Promise<RenewalChallenge | null> {
    const c = this.items.get(id);
    if (!c || c.used || c.expiresAt <= now) return null;
    c.used = true;
    const { used: _used, ...rest } = c;
    return rest;
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    return deleteWhere(this.items, (c) => c.expiresAt < before, limit);
  }

  /** Rows held (tests: the bound on what a caller can make the server store). */
  size(): number {
    return this.items.size;
  }
}
