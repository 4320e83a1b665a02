import { alreadyExists, notFound } from '@mezite/identity';
import type { BotInstance, LineageStep } from '../domain/bot-instance';
import type { IdTokenUse, JoinResource, JoinResourceStore } from '../domain/join-resource';
import type { MemoryBotInstanceStore } from './memory-bot-instance-store';
import { deleteWhere } from './memory-retention';

const copy = (r: JoinResource): JoinResource => structuredClone(r);

/** JoinResourceStore in memory (unit tests); an admission's instance lands only when its work succeeds. */
export class MemoryJoinResourceStore implements JoinResourceStore {
  private readonly resources = new Map<string, JoinResource>();
  private readonly uses = new Map<string, IdTokenUse & { instanceId: string | null }>();

  constructor(private readonly o: { instances?: MemoryBotInstanceStore } = {}) {}

  async create(r: JoinResource): Promise<void> {
    const k = `${r.tenantId}/${r.name}`;
    if (this.resources.has(k)) throw alreadyExists(`join token "${r.name}" already exists`);
    this.resources.set(k, copy(r));
  }

  async replace(r: JoinResource): Promise<JoinResource> {
    const k = `${r.tenantId}/${r.name}`;
    const old = this.resources.get(k);
    if (!old) throw notFound(`join token "${r.name}" not found`);
    const next = { ...copy(r), id: old.id, createdAt: old.createdAt, revision: old.revision + 1 };
    this.resources.set(k, next);
    return copy(next);
  }

  async get(tenantId: string, name: string): Promise<JoinResource | null> {
    const r = this.resources.get(`${tenantId}/${name}`);
    return r ? copy(r) : null;
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<JoinResource[]> {
    return [...this.resources.values()]
      .filter((r) => r.tenantId === tenantId && (opts.afterName === undefined || r.name > opts.afterName))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, opts.limit)
      .map(copy);
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return this.resources.delete(`${tenantId}/${name}`);
  }

  async deleteExpired(before: Date, limit: number): Promise<number> {
    return deleteWhere(this.uses, (u) => u.expiresAt < before, limit);
  }

  async findUse(issuer: string, jti: string): Promise<(IdTokenUse & { instanceId: string | null }) | null> {
    const u = this.uses.get(`${issuer}\n${jti}`);
    return u ? { ...u } : null;
  }

  async admit<T>(use: IdTokenUse, work: (createInstance: (instance: BotInstance, first: LineageStep) => Promise<void>) => Promise<T>): Promise<T | null> {
    const k = `${use.issuer}\n${use.jti}`;
    if (this.uses.has(k)) return null;
    const bound = use.rebind ? [...this.resources.values()].find((r) => r.id === use.resourceId) : undefined;
    if (use.rebind && (!bound || bound.revision !== use.rebind.revision)) return null;
    const { rebind: _rebind, ...kept } = use;
    const row = { ...kept, instanceId: null as string | null };
    this.uses.set(k, row);
    const pending: Array<() => void> = [];
    let instanceId: string | null = null;
    try {
      const r = await work(async (instance, first) => {
        instanceId = instance.id;
        pending.push(() => this.o.instances?.create(instance, first));
      });
      if (use.rebind && bound) {
        // Checked again after the work's awaits: a concurrent admission may have moved it on.
        if (bound.revision !== use.rebind.revision || this.resources.get(`${bound.tenantId}/${bound.name}`) !== bound) {
          this.uses.delete(k);
          return null;
        }
        Object.assign(bound, { options: { ...use.rebind.options }, revision: bound.revision + 1, updatedAt: use.at });
      }
      for (const p of pending) p();
      row.instanceId = instanceId;
      return r;
    } catch (err) {
      this.uses.delete(k);
      throw err;
    }
  }
}
