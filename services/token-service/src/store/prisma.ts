import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

/** token-service's Prisma client on PostgreSQL through the `pg` driver adapter. */
export function createPrismaClient(databaseUrl: string, poolSize = 10): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 2000 }, { schema: 'token' });
  return new PrismaClient({ adapter });
}
export type { PrismaClient };
