import { createPgPool } from '@mezite/platform';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

/** A `pg` pool, as createPgPool makes it. */
export type PgPool = ReturnType<typeof createPgPool>;

const pools = new WeakMap<PrismaClient, PgPool>();

/** token-service's Prisma client on PostgreSQL through the `pg` driver adapter. */
export function createPrismaClient(databaseUrl: string, poolSize = 10): PrismaClient {
  // Our pool (not one the adapter makes) so its use is on /metrics; the adapter still ends it on $disconnect.
  const pool = createPgPool('token', { connectionString: databaseUrl, max: poolSize, connectionTimeoutMillis: 2000 });
  const adapter = new PrismaPg(pool, { schema: 'token', disposeExternalPool: true });
  const client = new PrismaClient({ adapter });
  pools.set(client, pool);
  return client;
}

/**
 * The `pg` pool under a client made by createPrismaClient, for the few statements on a
 * hot path (minting a token, reading a client secret, a token by hash): through
 * Prisma 7's query compiler a one-row statement costs several times the CPU it costs
 * through `pg` (bench row 8d; docs/PERFORMANCE.md). The pool is the one Prisma uses,
 * so both share its connections and its limit.
 */
export function pgPoolOf(client: PrismaClient): PgPool {
  const pool = pools.get(client);
  if (!pool) throw new Error('pgPoolOf: not a client made by createPrismaClient');
  return pool;
}
export type { PrismaClient };
