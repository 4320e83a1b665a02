import { translateDbError } from '@mezite/platform';
import type { Tenant, TenantStore, User } from '../domain/tenant';
import type { PrismaClient } from './prisma';

/** TenantStore on PostgreSQL. `ensure*` are idempotent and safe for replicas starting together. */
export class PrismaTenantStore implements TenantStore {
  constructor(private readonly db: PrismaClient) {}

  async ensureTenant(t: Tenant): Promise<Tenant> {
    try {
      const row = await this.db.tenant.upsert({ where: { domain: t.domain }, create: t, update: {} });
      return { ...row, kind: row.kind as Tenant['kind'] };
    } catch (err) {
      const again = await this.getTenantByDomain(t.domain).catch(() => null);
      if (again) return again;
      throw translateDbError(err, 'tenant');
    }
  }

  async getTenantByDomain(domain: string): Promise<Tenant | null> {
    try {
      const row = await this.db.tenant.findUnique({ where: { domain } });
      return row ? { ...row, kind: row.kind as Tenant['kind'] } : null;
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async ensureUser(u: User): Promise<User> {
    try {
      return await this.db.user.upsert({ where: { tenantId_name: { tenantId: u.tenantId, name: u.name } }, create: u, update: {} });
    } catch (err) {
      const again = await this.db.user.findUnique({ where: { tenantId_name: { tenantId: u.tenantId, name: u.name } } }).catch(() => null);
      if (again) return again;
      throw translateDbError(err, 'user');
    }
  }
}
