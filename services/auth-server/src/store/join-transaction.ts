import { translateDbError } from '@mezite/platform';
import type { PgPool } from './prisma';

const checkOut = (pool: PgPool) => pool.connect();
/** A connection checked out for one join's transaction. */
export type JoinClient = Awaited<ReturnType<typeof checkOut>>;

/**
 * One join in one transaction on a connection of its own: `claim` runs first (the
 * one-time redemption: a join token, or an ID token's `jti`); when it claims nothing
 * (null) the transaction rolls back and the answer is null. Then `work` runs (ssh-ca
 * signs, the instance is written) and COMMIT follows only if it succeeded, so a failure
 * anywhere gives the claim back. The work's own errors come back as thrown (ssh-ca down,
 * a refusal); database errors are translated. A redemption waits at most 5 s for a row
 * another attempt holds (55P03 → Unavailable). A checked-out client has no listener of
 * the pool's: a connection PostgreSQL ends between two statements would throw 'error' as
 * unhandled and end the process (the chaos suite's PostgreSQL restart found it), so it
 * gets one here and is released as broken.
 */
export async function inJoinTransaction<C, T>(pool: PgPool, claim: (c: JoinClient) => Promise<C | null>, work: (c: JoinClient, claimed: C) => Promise<T>): Promise<T | null> {
  let c: JoinClient;
  try {
    c = await checkOut(pool);
  } catch (err) {
    throw translateDbError(err, 'join token');
  }
  let open = false;
  let broken = false;
  const onError = () => (broken = true);
  c.on('error', onError);
  let fromWork = false;
  try {
    await c.query("BEGIN; SET LOCAL lock_timeout = '5s'");
    open = true;
    const claimed = await claim(c);
    if (claimed === null) {
      await c.query('ROLLBACK');
      open = false;
      return null;
    }
    let result: T;
    try {
      result = await work(c, claimed);
    } catch (err) {
      fromWork = true;
      throw err;
    }
    await c.query('COMMIT');
    open = false;
    return result;
  } catch (err) {
    if (open) await c.query('ROLLBACK').catch(() => (broken = true));
    throw fromWork ? err : translateDbError(err, 'join token');
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}
