import { translateDbError } from '@mezite/platform';
import type { MachineIdpConfig } from '../domain/machine-idp';
import type { Tenant, TenantStore, User } from '../domain/tenant';

type Row = { id: string; domain: string; kind: string; createdAt: Date; machineIdp: unknown };
const toDomain = (r: Row): Tenant => ({ id: r.id, domain: r.domain, kind: r.kind as Tenant['kind'], createdAt: r.createdAt, machineIdp: r.machineIdp as MachineIdpConfig });
import type { PrismaClient } from './prisma';

/** TenantStore on PostgreSQL. `ensure*` are idempotent and safe for replicas starting together. */
export class PrismaTenantStore implements TenantStore {
  constructor(private readonly db: PrismaClient) {}

  async ensureTenant(t: Tenant): Promise<Tenant> {
    try {
      const row = await this.db.tenant.upsert({ where: { domain: t.domain }, create: { ...t, machineIdp: t.machineIdp as object }, update: {} });
      return toDomain(row);
    } catch (err) {
      const again = await this.getTenantByDomain(t.domain).catch(() => null);
      if (again) return again;
      throw translateDbError(err, 'tenant');
    }
  }

  async getTenantByDomain(domain: string): Promise<Tenant | null> {
    try {
      const row = await this.db.tenant.findUnique({ where: { domain } });
      return row ? toDomain(row) : null;
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async getTenantById(id: string): Promise<Tenant | null> {
    try {
      const row = await this.db.tenant.findUnique({ where: { id } });
      return row ? toDomain(row) : null;
    } catch (err) {
      throw translateDbError(err, 'tenant');
    }
  }

  async setMachineIdp(id: string, idp: MachineIdpConfig): Promise<void> {
    try {
      await this.db.tenant.update({ where: { id }, data: { machineIdp: idp as object } });
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
