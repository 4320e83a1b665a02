import type { Pool } from 'pg';
import type { RetentionLock } from './retention-job';

/**
 * A RetentionLock on a PostgreSQL session-level advisory lock: `pg_try_advisory_lock`
 * on a connection held for the round, so a replica that dies mid-round frees it with
 * its connection. Replicas that find it taken skip the round without waiting. `key`
 * names the job (one per service), e.g. `pgLockKey('auth.retention')`.
 */
export function pgAdvisoryLock(pool: Pick<Pool, 'connect'>, key: bigint): RetentionLock {
  return {
    async tryRun<T>(work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
      const c = await pool.connect();
      let broken = false;
      const onError = () => (broken = true);
      c.on('error', onError);
      try {
        let got = false;
        try {
          const r = await c.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [key.toString()]);
          got = r.rows[0]?.got === true;
        } catch (err) {
          broken = true;
          throw err;
        }
        if (!got) return { ran: false };
        try {
          return { ran: true, value: await work() };
        } finally {
          await c.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => (broken = true));
        }
      } finally {
        c.off('error', onError);
        // A connection that may still hold the lock is closed, never pooled.
        c.release(broken);
      }
    },
  };
}

/** A stable 63-bit advisory lock key from a name (FNV-1a 64). */
export function pgLockKey(name: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h & 0x7fffffffffffffffn;
}
