import { alreadyExists, invalidArgument, isMeziteError, notFound, parseJoinTokenYaml, validateName, type Clock, type Principal } from '@mezite/identity';
import { randomUUID } from 'node:crypto';
import type { BotStore } from './bot';
import type { JoinMethod } from './join-methods/join-method';
import type { JoinResource, JoinResourceStore } from './join-resource';
import { pageByName } from './page';

/** Options of JoinResourceManager. */
export interface JoinResourceManagerOptions {
  store: JoinResourceStore;
  bots: BotStore;
  methods: ReadonlyMap<string, JoinMethod>;
  clock: Clock;
}

/** Provision resources (`kind: join_token`) of the caller's tenant: what admins create, show and remove. */
export class JoinResourceManager {
  constructor(private readonly o: JoinResourceManagerOptions) {
    for (const k of ['store', 'bots', 'methods', 'clock'] as const) if (!o[k]) throw new Error(`JoinResourceManager: ${k} is required`);
  }

  /** Parses the document, lets its method check it, and creates it (or replaces it with `force`). */
  async upsert(caller: Principal, input: { yaml: string; fileName: string; force: boolean }): Promise<{ created: boolean; resource: JoinResource; shown?: Record<string, string> }> {
    const file = input.fileName || 'token.yaml';
    const doc = parseJoinTokenYaml(input.yaml, file);
    const method = this.o.methods.get(doc.joinMethod);
    if (!method) throw invalidArgument(`${file}: spec.join_method: unknown method "${doc.joinMethod}"; expected one of ${[...this.o.methods.keys()].filter((m) => m !== 'token').join(', ')}`);
    try {
      method.checkResource(doc);
    } catch (err) {
      if (isMeziteError(err, 'InvalidArgument')) throw invalidArgument(`${file}: ${err.message}`);
      throw err;
    }
    const bot = await this.o.bots.get(caller.tenantId, doc.bot);
    if (!bot) throw notFound(`bot "${doc.bot}" does not exist; create it first with mezctl bots add`);
    const now = this.o.clock.now();
    const prepared = method.prepare ? await method.prepare(doc.options) : { options: doc.options, shown: undefined };
    const shown = prepared.shown ? { shown: prepared.shown } : {};
    const r: JoinResource = { id: randomUUID(), tenantId: caller.tenantId, name: doc.name, botId: bot.id, botName: bot.name, joinMethod: doc.joinMethod, allow: doc.allow, audience: doc.audience, options: prepared.options, expiresAt: doc.expiresAt, createdAt: now, updatedAt: now, revision: 1 };
    if (input.force && (await this.o.store.get(caller.tenantId, doc.name))) return { created: false, resource: await this.o.store.replace(r), ...shown };
    try {
      await this.o.store.create(r);
      return { created: true, resource: r, ...shown };
    } catch (err) {
      if (isMeziteError(err, 'AlreadyExists')) throw alreadyExists(`join token "${doc.name}" already exists; use --force to replace it`);
      throw err;
    }
  }

  async get(caller: Principal, name: string): Promise<JoinResource> {
    validateName('join token', name);
    const r = await this.o.store.get(caller.tenantId, name);
    if (!r) throw notFound(`join token "${name}" not found`);
    return r;
  }

  async list(caller: Principal, opts: { pageSize: number; pageToken: string }): Promise<{ resources: JoinResource[]; nextPageToken: string }> {
    const r = await pageByName(opts, (o) => this.o.store.list(caller.tenantId, o), (x) => x.name);
    return { resources: r.items, nextPageToken: r.nextPageToken };
  }

  /** Removes the resource: no further joins by it; instances it created live on until their certificates expire or are locked. */
  async delete(caller: Principal, name: string): Promise<void> {
    validateName('join token', name);
    if (!(await this.o.store.delete(caller.tenantId, name))) throw notFound(`join token "${name}" not found`);
  }
}
