import { Pool, type PoolConfig } from 'pg';
import { observePool } from './metrics';

/**
 * A PostgreSQL pool whose use (busy, idle, waiting, max) is reported on `/metrics`
 * as pool `name`. Services hand it to Prisma's pg adapter (`new PrismaPg(pool, …)`)
 * and send their hot-path statements to it directly.
 */
export function createPgPool(name: string, config: PoolConfig): Pool {
  const pool = new Pool(config);
  // An idle connection that dies (PostgreSQL restarted, the backend was terminated) is
  // dropped by the pool and replaced on demand; unheard, its 'error' would be thrown.
  // Prisma's adapter listens too, but only from its first query.
  pool.on('error', () => undefined);
  // A checked-out connection has no pool listener: one that dies between two statements
  // of a transaction (or in the instant it passes from a release to a waiting connect,
  // before the new holder can listen) would throw 'error' as unhandled and end the
  // process. Every connection hears its own errors; the pending or next query still
  // fails, and the holder releases it as broken.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return observePool(name, pool);
}
