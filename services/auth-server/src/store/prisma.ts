import { createPgPool } from '@mezite/platform';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

/** auth-server's Prisma client on PostgreSQL through the `pg` driver adapter. */
export function createPrismaClient(databaseUrl: string, poolSize = 10): PrismaClient {
  // Our pool (not one the adapter makes) so its use is on /metrics; the adapter still ends it on $disconnect.
  const pool = createPgPool('auth', { connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 2000 });
  const adapter = new PrismaPg(pool, { schema: 'auth', disposeExternalPool: true });
  return new PrismaClient({ adapter });
}
export type { PrismaClient };
