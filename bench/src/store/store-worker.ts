import { createHash, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { serveChild } from '../child';
import { closedLoop } from '../load/closed-loop';
import type { LoadResult } from '../load/load-result';
import { requireServiceModule } from '../repo';

/** The parts of auth-server's build this worker drives (services export only `main`). */
interface AuthStores {
  createPrismaClient(url: string, poolSize: number): { $disconnect(): Promise<void> };
  PrismaAuditLog: new (db: unknown) => { record(e: unknown): Promise<void> };
  PrismaTenantStore: new (db: unknown) => { getTenantById(id: string): Promise<unknown> };
}

let pool: Pool;
let prisma: ReturnType<AuthStores['createPrismaClient']>;
let audit: InstanceType<AuthStores['PrismaAuditLog']>;
let tenants: InstanceType<AuthStores['PrismaTenantStore']>;
let redis: Redis | undefined;
let tenantId: string;

/**
 * The audit log's hash chain without Prisma, one transaction per event: lock the head,
 * link, insert, move the head — what PrismaAuditLog.record does, on the pg driver.
 */
async function chainAppend(details: string): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const head = (await c.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM bench.chain_head WHERE id = 1 FOR UPDATE')).rows[0]!;
    const seq = BigInt(head.seq) + 1n;
    const hash = createHash('sha256').update(head.hash).update(details).digest();
    await c.query('INSERT INTO bench.chain_events (seq, details, prev_hash, hash) VALUES ($1, $2, $3, $4)', [seq.toString(), details, head.hash, hash]);
    await c.query('UPDATE bench.chain_head SET seq = $1, hash = $2 WHERE id = 1', [seq.toString(), hash]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * The same chain with group commit: events wait while one transaction is open and the
 * next transaction links and inserts all of them (up to 256) with one head update. The
 * caller still returns only after its event is committed (fail closed, as today).
 */
const pending: Array<{ details: string; resolve: () => void; reject: (e: unknown) => void }> = [];
let flushing = false;
function chainAppendBatched(details: string): Promise<void> {
  return new Promise((resolve, reject) => {
    pending.push({ details, resolve, reject });
    if (!flushing) void flush();
  });
}
async function flush(): Promise<void> {
  flushing = true;
  while (pending.length > 0) {
    const batch = pending.splice(0, 256);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      const head = (await c.query<{ seq: string; hash: Buffer }>('SELECT seq, hash FROM bench.chain_head WHERE id = 1 FOR UPDATE')).rows[0]!;
      let seq = BigInt(head.seq);
      let prev = head.hash;
      const seqs: string[] = [];
      const prevs: Buffer[] = [];
      const hashes: Buffer[] = [];
      for (const e of batch) {
        seq += 1n;
        const hash = createHash('sha256').update(prev).update(e.details).digest();
        seqs.push(seq.toString());
        prevs.push(prev);
        hashes.push(hash);
        prev = hash;
      }
      await c.query('INSERT INTO bench.chain_events (seq, details, prev_hash, hash) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[])', [seqs, batch.map((e) => e.details), prevs, hashes]);
      await c.query('UPDATE bench.chain_head SET seq = $1, hash = $2 WHERE id = 1', [seq.toString(), prev]);
      await c.query('COMMIT');
      for (const e of batch) e.resolve();
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      for (const e of batch) e.reject(err);
    } finally {
      c.release();
    }
  }
  flushing = false;
}

/**
 * What the rows stand on, measured directly in a process of its own against the run's
 * own database and Redis: a single-row INSERT and a keyed SELECT through `pg` (the
 * hardware-and-PostgreSQL limit), the same through the auth-server's Prisma stores
 * (its audit append and a tenant lookup), and Redis GETs.
 */
const handlers = {
  async connect(p: { databaseUrl: string; redisUrl?: string; poolSize: number }) {
    const stores = {
      ...requireServiceModule<Pick<AuthStores, 'createPrismaClient'>>('auth-server', 'store/prisma.js'),
      ...requireServiceModule<Pick<AuthStores, 'PrismaAuditLog'>>('auth-server', 'store/prisma-audit-log.js'),
      ...requireServiceModule<Pick<AuthStores, 'PrismaTenantStore'>>('auth-server', 'store/prisma-tenant-store.js'),
    };
    pool = new Pool({ connectionString: p.databaseUrl, max: p.poolSize });
    await pool.query(`CREATE SCHEMA IF NOT EXISTS bench;
      CREATE TABLE IF NOT EXISTS bench.inserts (id bigserial PRIMARY KEY, request_id text NOT NULL, at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE IF NOT EXISTS bench.chain_head (id int PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);
      CREATE TABLE IF NOT EXISTS bench.chain_events (seq bigint PRIMARY KEY, details text NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL, at timestamptz NOT NULL DEFAULT now());
      INSERT INTO bench.chain_head VALUES (1, 0, '\\x00') ON CONFLICT DO NOTHING;`);
    tenantId = (await pool.query<{ id: string }>('SELECT id FROM auth.tenants LIMIT 1')).rows[0]?.id ?? randomUUID();
    prisma = stores.createPrismaClient(p.databaseUrl, p.poolSize);
    audit = new stores.PrismaAuditLog(prisma);
    tenants = new stores.PrismaTenantStore(prisma);
    if (p.redisUrl) {
      redis = new Redis(p.redisUrl, { enableAutoPipelining: true, lazyConnect: true });
      await redis.connect();
      await redis.set('mezite-bench:probe', 'x', 'EX', 600);
    }
    // Open every connection now, so the phases see the backends from their start.
    await Promise.all(Array.from({ length: p.poolSize }, () => pool.query('SELECT 1')));
    await Promise.all(Array.from({ length: p.poolSize }, () => tenants.getTenantById(tenantId)));
    return { redis: Boolean(redis) };
  },

  run(p: { what: 'pg-insert' | 'audit-append' | 'chain-pg' | 'chain-batched' | 'pg-select' | 'prisma-select' | 'redis-get'; inflight: number; warmupMs: number; durationMs: number }): Promise<LoadResult> {
    const event = () => JSON.stringify({ id: randomUUID(), type: 'bench.append', actor: 'bench', target: 'bench', result: 'success', request_id: randomUUID(), time: new Date().toISOString() });
    const ops: Record<typeof p.what, () => Promise<unknown>> = {
      'chain-pg': () => chainAppend(event()),
      'chain-batched': () => chainAppendBatched(event()),
      'pg-insert': () => pool.query('INSERT INTO bench.inserts (request_id) VALUES ($1)', [randomUUID()]),
      'audit-append': () => audit.record({ tenantId: null, type: 'bench.append', actor: 'bench', target: 'bench', result: 'success', requestId: randomUUID(), details: {} }),
      'pg-select': () => pool.query('SELECT * FROM auth.tenants WHERE id = $1', [tenantId]),
      'prisma-select': () => tenants.getTenantById(tenantId),
      'redis-get': () => redis!.get('mezite-bench:probe'),
    };
    return closedLoop(p, ops[p.what]);
  },

  async close() {
    await pool?.end();
    await prisma?.$disconnect();
    redis?.disconnect();
    return null;
  },
};

serveChild(handlers);
