import { alreadyExists } from '@mezite/identity';
import { activeLock } from '../domain/bot';
import type { Bot, BotLock, BotStore } from '../domain/bot';

const copy = (b: Bot): Bot => ({ ...b, roles: [...b.roles], lock: b.lock ? { ...b.lock } : null });

/** BotStore in memory (unit tests). */
export class MemoryBotStore implements BotStore {
  private readonly bots = new Map<string, Bot>();

  async create(bot: Bot): Promise<void> {
    for (const b of this.bots.values()) if (b.tenantId === bot.tenantId && b.name === bot.name) throw alreadyExists(`bot "${bot.name}" already exists`);
    this.bots.set(bot.id, copy(bot));
  }

  async get(tenantId: string, name: string): Promise<Bot | null> {
    for (const b of this.bots.values()) if (b.tenantId === tenantId && b.name === name) return copy(b);
    return null;
  }

  async getById(tenantId: string, id: string): Promise<Bot | null> {
    const b = this.bots.get(id);
    return b && b.tenantId === tenantId ? copy(b) : null;
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]> {
    return [...this.bots.values()]
      .filter((b) => b.tenantId === tenantId && (opts.afterName === undefined || b.name > opts.afterName))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, opts.limit)
      .map(copy);
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const b = this.bots.get(id);
    if (!b || b.tenantId !== tenantId) return false;
    return this.bots.delete(id);
  }

  async setLock(tenantId: string, id: string, lock: BotLock | null): Promise<boolean> {
    const b = this.bots.get(id);
    if (!b || b.tenantId !== tenantId) return false;
    b.lock = lock ? { ...lock } : null;
    return true;
  }

  /** What a join or renewal of one of its instances writes on the bot (as the PostgreSQL statements do). */
  noteActivity(id: string, a: { generation: number; at: Date; certExpiresAt: Date }): void {
    const b = this.bots.get(id);
    if (!b) return;
    b.generation = Math.max(b.generation, a.generation);
    b.lastSeenAt = a.at;
    b.certExpiresAt = b.certExpiresAt && b.certExpiresAt > a.certExpiresAt ? b.certExpiresAt : a.certExpiresAt;
  }

  async anyUsesRole(tenantId: string, role: string): Promise<boolean> {
    return [...this.bots.values()].some((b) => b.tenantId === tenantId && b.roles.includes(role));
  }

  async listLockedIds(now: Date): Promise<string[]> {
    return [...this.bots.values()].filter((b) => activeLock(b, now)).map((b) => b.id);
  }
}
