import { failedPrecondition, notFound, parseRoleYaml, validateName, type Clock, type Principal, alreadyExists, isMeziteError } from '@mezite/identity';
import type { BotStore } from './bot';
import { pageByName } from './page';
import type { RoleStore, StoredRole } from './role-store';

/** Options of RoleManager. */
export interface RoleManagerOptions {
  store: RoleStore;
  bots: BotStore;
  clock: Clock;
}

/** Role lifecycle, scoped to the caller's tenant. */
export class RoleManager {
  constructor(private readonly opts: RoleManagerOptions) {
    if (!opts.store || !opts.bots || !opts.clock) throw new Error('RoleManager: store, bots and clock are required');
  }

  /** Parses and validates a role document, then creates it (or replaces it with `force`). */
  async upsert(caller: Principal, input: { yaml: string; fileName: string; force: boolean }): Promise<{ created: boolean; stored: StoredRole }> {
    const role = parseRoleYaml(input.yaml, input.fileName || 'role.yaml');
    const now = this.opts.clock.now();
    if (input.force) return this.opts.store.replace(caller.tenantId, role, now);
    try {
      return { created: true, stored: await this.opts.store.create(caller.tenantId, role, now) };
    } catch (err) {
      if (isMeziteError(err, 'AlreadyExists')) throw alreadyExists(`role "${role.name}" already exists; use --force to replace it`);
      throw err;
    }
  }

  async get(caller: Principal, name: string): Promise<StoredRole> {
    validateName('role', name);
    const r = await this.opts.store.get(caller.tenantId, name);
    if (!r) throw notFound(`role "${name}" not found`);
    return r;
  }

  async list(caller: Principal, opts: { pageSize: number; pageToken: string }): Promise<{ roles: StoredRole[]; nextPageToken: string }> {
    const r = await pageByName(opts, (o) => this.opts.store.list(caller.tenantId, o), (s) => s.role.name);
    return { roles: r.items, nextPageToken: r.nextPageToken };
  }


  /** Removes a role that no bot uses. */
  async delete(caller: Principal, name: string): Promise<void> {
    await this.get(caller, name);
    if (await this.opts.bots.anyUsesRole(caller.tenantId, name)) throw failedPrecondition(`role "${name}" is used by at least one bot; remove it from those bots first`);
    await this.opts.store.delete(caller.tenantId, name);
  }

  /** The named roles of a tenant; NotFound naming the first that does not exist. */
  async resolve(tenantId: string, names: string[]): Promise<StoredRole[]> {
    const found = await this.opts.store.getMany(tenantId, names);
    for (const n of names) if (!found.some((r) => r.role.name === n)) throw notFound(`role "${n}" does not exist; create it first with mezctl create -f role.yaml`);
    return names.map((n) => found.find((r) => r.role.name === n) as StoredRole);
  }
}
