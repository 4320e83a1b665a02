import type { RenewalChallenge, RenewalChallengeStore } from '../domain/renewal-challenge';

/** RenewalChallengeStore in memory (unit tests). */
export class MemoryRenewalChallengeStore implements RenewalChallengeStore {
  private readonly items = new Map<string, RenewalChallenge & { used: boolean }>();

  async create(c: RenewalChallenge): Promise<void> {
    this.items.set(c.id, { ...c, used: false });
  }

  async consume(id: string, now: Date): Promise<RenewalChallenge | null> {
    const c = this.items.get(id);
    if (!c || c.used || c.expiresAt <= now) return null;
    c.used = true;
    const { used: _used, ...rest } = c;
    return rest;
  }
}
