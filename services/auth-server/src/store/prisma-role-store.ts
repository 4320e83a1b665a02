import { randomUUID } from 'node:crypto';
import type { Role } from '@mezite/identity';
import { translateDbError } from '@mezite/platform';
import type { RoleStore, StoredRole } from '../domain/role-store';
import { pgPoolOf, type PgPool, type PrismaClient } from './prisma';

type Row = NonNullable<Awaited<ReturnType<PrismaClient['role']['findFirst']>>>;
const toDomain = (r: Row): StoredRole => ({ role: r.spec as unknown as Role, createdAt: r.createdAt, updatedAt: r.updatedAt, revision: Number(r.revision) });

/**
 * RoleStore on PostgreSQL; the validated role is kept as JSON (`spec`). `getMany` runs
 * on every join and renewal: one statement straight on `pg` (prisma.ts, pgPoolOf).
 */
export class PrismaRoleStore implements RoleStore {
  private readonly pool: PgPool;

  constructor(private readonly db: PrismaClient) {
    this.pool = pgPoolOf(db);
  }

  private async run<T>(fn: () => Promise<T>, what = 'role'): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDbError(err, what);
    }
  }

  create(tenantId: string, role: Role, at: Date): Promise<StoredRole> {
    return this.run(async () => toDomain(await this.db.role.create({ data: { id: randomUUID(), tenantId, name: role.name, spec: role as object, createdAt: at, updatedAt: at } })), `role "${role.name}"`);
  }

  replace(tenantId: string, role: Role, at: Date): Promise<{ created: boolean; stored: StoredRole }> {
    return this.run(async () => {
      const updated = await this.db.role.updateMany({ where: { tenantId, name: role.name }, data: { spec: role as object, updatedAt: at, revision: { increment: 1 } } });
      if (updated.count === 0) return { created: true, stored: await this.create(tenantId, role, at) };
      const row = await this.db.role.findUnique({ where: { tenantId_name: { tenantId, name: role.name } } });
      if (!row) throw new Error('role vanished during replace');
      return { created: false, stored: toDomain(row) };
    });
  }

  get(tenantId: string, name: string): Promise<StoredRole | null> {
    return this.run(async () => {
      const r = await this.db.role.findUnique({ where: { tenantId_name: { tenantId, name } } });
      return r ? toDomain(r) : null;
    });
  }

  getMany(tenantId: string, names: string[]): Promise<StoredRole[]> {
    if (names.length === 0) return Promise.resolve([]);
    return this.run(async () => {
      const r = await this.pool.query<{ spec: Role; created_at: Date; updated_at: Date; revision: string }>({
        name: 'auth.roles_by_name',
        text: 'SELECT spec, created_at, updated_at, revision FROM auth.roles WHERE tenant_id = $1 AND name = ANY($2::text[])',
        values: [tenantId, names],
      });
      return r.rows.map((row) => ({ role: row.spec, createdAt: row.created_at, updatedAt: row.updated_at, revision: Number(row.revision) }));
    });
  }

  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<StoredRole[]> {
    return this.run(async () =>
      (
        await this.db.role.findMany({ where: { tenantId, ...(opts.afterName !== undefined ? { name: { gt: opts.afterName } } : {}) }, orderBy: { name: 'asc' }, take: opts.limit })
      ).map(toDomain),
    );
  }

  delete(tenantId: string, name: string): Promise<boolean> {
    return this.run(async () => (await this.db.role.deleteMany({ where: { tenantId, name } })).count > 0);
  }
}
