import { alreadyExists, type Role } from '@mezite/identity';
import type { RoleStore, StoredRole } from '../domain/role-store';

/** RoleStore in memory (unit tests). */
export class MemoryRoleStore implements RoleStore {
  private readonly roles = new Map<string, StoredRole>();
  private key = (t: string, n: string) => `${t}/${n}`;

  async create(tenantId: string, role: Role, at: Date): Promise<StoredRole> {
    if (this.roles.has(this.key(tenantId, role.name))) throw alreadyExists(`role "${role.name}" already exists`);
    const s = { role: structuredClone(role), createdAt: at, updatedAt: at, revision: 1 };
    this.roles.set(this.key(tenantId, role.name), s);
    return structuredClone(s);
  }

  async replace(tenantId: string, role: Role, at: Date): Promise<{ created: boolean; stored: StoredRole }> {
    const cur = this.roles.get(this.key(tenantId, role.name));
    if (!cur) return { created: true, stored: await this.create(tenantId, role, at) };
    const s = { role: structuredClone(role), createdAt: cur.createdAt, updatedAt: at, revision: cur.revision + 1 };
    this.roles.set(this.key(tenantId, role.name), s);
    return { created: false, stored: structuredClone(s) };
  }

  async get(tenantId: string, name: string): Promise<StoredRole | null> {
    const s = this.roles.get(this.key(tenantId, name));
    return s ? structuredClone(s) : null;
  }

  async getMany(tenantId: string, names: string[]): Promise<StoredRole[]> {
    return names.map((n) => this.roles.get(this.key(tenantId, n))).filter((s): s is StoredRole => Boolean(s)).map((s) => structuredClone(s));
  }

  async list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<StoredRole[]> {
    return [...this.roles.entries()]
      .filter(([k, s]) => k.startsWith(`${tenantId}/`) && (opts.afterName === undefined || s.role.name > opts.afterName))
      .map(([, s]) => structuredClone(s))
      .sort((a, b) => (a.role.name < b.role.name ? -1 : 1))
      .slice(0, opts.limit);
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return this.roles.delete(this.key(tenantId, name));
  }
}
