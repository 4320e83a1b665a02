import { translateDbError } from '@mezite/platform';
import type { ServiceIdentity, ServiceIdentityStore } from '../domain/service-identity';
import type { PrismaClient } from './prisma';

/** ServiceIdentityStore on PostgreSQL. */
export class PrismaServiceIdentityStore implements ServiceIdentityStore {
  constructor(private readonly db: PrismaClient) {}

  private async run<T>(fn: () => Promise<T>, what = 'service identity'): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw translateDbError(err, what);
    }
  }

  create(s: ServiceIdentity): Promise<void> {
    return this.run(async () => void (await this.db.serviceIdentity.create({ data: s })), `service identity "${s.name}"`);
  }
  get(tenantId: string, name: string): Promise<ServiceIdentity | null> {
    return this.run(() => this.db.serviceIdentity.findUnique({ where: { tenantId_name: { tenantId, name } } }));
  }
  getById(tenantId: string, id: string): Promise<ServiceIdentity | null> {
    return this.run(() => this.db.serviceIdentity.findFirst({ where: { tenantId, id } }));
  }
  getByClientId(clientId: string): Promise<ServiceIdentity | null> {
    // No client id holds anything but printable ASCII (token-service's CLIENT_ID_PATTERN);
    // anything else is simply unknown, and never reaches PostgreSQL (NUL is an error there).
    if (!/^[\x21-\x7e]{1,256}$/.test(clientId)) return Promise.resolve(null);
    return this.run(() => this.db.serviceIdentity.findUnique({ where: { clientId } }));
  }
  list(tenantId: string, opts: { limit: number; afterName?: string }): Promise<ServiceIdentity[]> {
    return this.run(() => this.db.serviceIdentity.findMany({ where: { tenantId, ...(opts.afterName !== undefined ? { name: { gt: opts.afterName } } : {}) }, orderBy: { name: 'asc' }, take: opts.limit }));
  }
  delete(tenantId: string, id: string): Promise<boolean> {
    return this.run(async () => (await this.db.serviceIdentity.deleteMany({ where: { tenantId, id } })).count > 0);
  }
}
