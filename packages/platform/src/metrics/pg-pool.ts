import { Pool, type PoolConfig } from 'pg';
import { observePool } from './metrics';

/**
 * A PostgreSQL pool whose use (busy, idle, waiting, max) is reported on `/metrics`
 * as pool `name`. Services hand it to Prisma's pg adapter (`new PrismaPg(pool, …)`).
 */
export function createPgPool(name: string, config: PoolConfig): Pool {
  return observePool(name, new Pool(config));
}
