import { randomUUID } from 'node:crypto';
import { alreadyExists } from '@mezite/identity';
import type { BotLock } from '../domain/bot';
import type { BotInstance, BotInstanceStore, InstanceActivity, LineageStep } from '../domain/bot-instance';
import type { Revocation } from '../domain/revocation';
import type { MemoryBotStore } from './memory-bot-store';

const copy = (i: BotInstance): BotInstance => structuredClone(i);

/** BotInstanceStore in memory (unit tests and the contract suite). */
export class MemoryBotInstanceStore implements BotInstanceStore {
  private readonly instances = new Map<string, BotInstance>();
  private readonly steps = new Map<string, LineageStep>();

  constructor(private readonly o: { bots?: MemoryBotStore; revocations?: { add(r: Revocation): Promise<void> } } = {}) {}

  /** Stores a new instance with its first step (JoinWrites.createInstance in memory). */
  create(instance: BotInstance, first: LineageStep): void {
    if (this.instances.has(instance.id)) throw alreadyExists('bot instance exists');
    this.instances.set(instance.id, copy(instance));
    this.steps.set(`${instance.id}/${first.generation}`, { ...first });
    this.o.bots?.noteActivity(instance.botId, { generation: first.generation, at: instance.createdAt, certExpiresAt: first.expiresAt });
  }

  async get(tenantId: string, id: string): Promise<BotInstance | null> {
    const i = this.instances.get(id);
    return i && i.tenantId === tenantId ? copy(i) : null;
  }

  async list(tenantId: string, opts: { botId?: string; limit: number; after?: { createdAt: Date; id: string } }): Promise<BotInstance[]> {
    const newestFirst = (a: BotInstance, b: BotInstance) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
    const after = opts.after;
    return [...this.instances.values()]
      .filter((i) => i.tenantId === tenantId && (opts.botId === undefined || i.botId === opts.botId))
      .filter((i) => !after || newestFirst(i, { createdAt: after.createdAt, id: after.id } as BotInstance) > 0)
      .sort(newestFirst)
      .slice(0, opts.limit)
      .map(copy);
  }

  async lineage(tenantId: string, id: string): Promise<LineageStep[]> {
    if (this.instances.get(id)?.tenantId !== tenantId) return [];
    return [...this.steps.values()].filter((s) => s.instanceId === id).sort((a, b) => a.generation - b.generation).map((s) => ({ ...s }));
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    const gone = [...this.steps.entries()].filter(([, s]) => {
      const inst = this.instances.get(s.instanceId);
      const prev = this.steps.get(`${s.instanceId}/${s.generation - 1}`);
      return inst && s.generation < inst.generation && s.expiresAt < before && !(prev && prev.expiresAt >= before);
    });
    for (const [k] of gone.slice(0, limit)) this.steps.delete(k);
    return Math.min(gone.length, limit);
  }

  async step(tenantId: string, id: string, generation: number): Promise<LineageStep | null> {
    if (this.instances.get(id)?.tenantId !== tenantId) return null;
    const s = this.steps.get(`${id}/${generation}`);
    return s ? { ...s } : null;
  }

  async advance(tenantId: string, step: LineageStep, a: InstanceActivity): Promise<boolean> {
    const i = this.instances.get(step.instanceId);
    if (!i || i.tenantId !== tenantId || i.lock || i.generation !== step.generation - 1) return false;
    if (this.steps.has(`${i.id}/${step.generation}`)) return false;
    this.steps.set(`${i.id}/${step.generation}`, { ...step });
    Object.assign(i, { generation: step.generation, lastRenewalAt: a.at, lastAddress: a.address, certExpiresAt: step.expiresAt });
    if (a.heartbeat) i.heartbeat = structuredClone(a.heartbeat);
    this.o.bots?.noteActivity(i.botId, { generation: step.generation, at: a.at, certExpiresAt: step.expiresAt });
    return true;
  }

  async lockAndRevoke(tenantId: string, id: string, lock: BotLock, extra: Array<{ serial: string; expiresAt: Date }>, at: Date): Promise<string[]> {
    const i = this.instances.get(id);
    if (!i || i.tenantId !== tenantId) return [];
    i.lock = { ...lock };
    const live = [...this.steps.values()].filter((s) => s.instanceId === id && s.expiresAt > at).map((s) => ({ serial: s.serial, expiresAt: s.expiresAt }));
    const all = [...live, ...extra.filter((e) => e.expiresAt > at)];
    for (const r of all) await this.o.revocations?.add({ id: randomUUID(), tenantId, subjectId: null, serial: r.serial, reason: lock.reason, createdAt: at, expiresAt: r.expiresAt });
    return all.map((r) => r.serial);
  }

  /** Removes a bot's instances (the PostgreSQL schema cascades). */
  deleteForBot(botId: string): void {
    for (const i of [...this.instances.values()]) {
      if (i.botId !== botId) continue;
      this.instances.delete(i.id);
      for (const k of [...this.steps.keys()]) if (k.startsWith(`${i.id}/`)) this.steps.delete(k);
    }
  }
}
