import { alreadyExists } from '@mezite/identity';
import type { Bot, BotStore } from '../domain/bot';

/** BotStore in memory (unit tests). */
export class MemoryBotStore implements BotStore {
  private readonly bots = new Map<string, Bot>();

  async create(bot: Bot): Promise<void> {
    for (const b of this.bots.values()) if (b.tenantId === bot.tenantId && b.name === bot.name) throw alreadyExists(`bot "${bot.name}" already exists`);
    this.bots.set(bot.id, { ...bot, roles: [...bot.roles] });
  }

  async get(tenantId: string, name: string): Promise<Bot | null> {
    for (const b of this.bots.values()) if (b.tenantId === tenantId && b.name === name) return { ...b, roles: [...b.roles] };
    return null;
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<Bot[]> {
    return [...this.bots.values()]
      .filter((b) => b.tenantId === tenantId && (opts.afterName === undefined || b.name > opts.afterName))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, opts.limit)
      .map((b) => ({ ...b, roles: [...b.roles] }));
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const b = this.bots.get(id);
    if (!b || b.tenantId !== tenantId) return false;
    return this.bots.delete(id);
  }
}
