import { FakeClock } from '@mezite/identity';
import { createTestDatabase, type TestDatabase } from '../db/test-database';
import { createPgPool } from '../metrics/pg-pool';
import { pgAdvisoryLock, pgLockKey } from './pg-advisory-lock';
import { LocalRetentionLock, RetentionJob, type RetentionTask } from './retention-job';

const log = { info: jest.fn(), warn: jest.fn() };

/** A task over `ends` (when each row ended), deleting like a store does. */
function rows(name: string, ends: Date[]): RetentionTask & { left: Date[]; calls: number } {
  const t = {
    name,
    left: [...ends],
    calls: 0,
    async deleteExpired(before: Date, limit: number) {
      t.calls++;
      const gone = t.left.filter((d) => d < before).slice(0, limit);
      t.left = t.left.filter((d) => !gone.includes(d));
      return gone.length;
    },
  };
  return t;
}

describe('RetentionJob', () => {
  const clock = new FakeClock('2026-06-10T00:00:00Z');
  const day = 24 * 3600_000;
  const at = (ms: number) => new Date(clock.now().getTime() + ms);

  test('deletes rows that ended more than maxAgeMs ago, in batches, bounded per round; a failing task does not stop the others', async () => {
    const old = Array.from({ length: 25 }, (_, i) => at(-8 * day - i));
    const t = rows('auth.sessions', [...old, at(-7 * day + 1), at(0), at(day)]);
    const broken: RetentionTask = { name: 'auth.broken', deleteExpired: () => Promise.reject(new Error('db down')) };
    const job = new RetentionJob({ tasks: [broken, t], lock: new LocalRetentionLock(), clock, log, maxAgeMs: 7 * day, batchSize: 10, maxBatches: 2 });
    expect(await job.runOnce()).toMatchObject({ ran: true, deleted: { 'auth.broken': 0, 'auth.sessions': 20 }, before: at(-7 * day) });
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('retention'), expect.objectContaining({ table: 'auth.broken' }));
    expect(await job.runOnce()).toMatchObject({ ran: true, deleted: { 'auth.sessions': 5 } });
    // Just inside the age (ended 7 days minus 1 ms ago), and younger rows, stay.
    expect(t.left).toEqual([at(-7 * day + 1), at(0), at(day)]);
    expect(await job.runOnce()).toMatchObject({ deleted: { 'auth.sessions': 0 } });
  });

  test('maxAgeMs must be positive', () => {
    expect(() => new RetentionJob({ tasks: [], lock: new LocalRetentionLock(), clock, log, maxAgeMs: 0 })).toThrow(/maxAgeMs/);
  });

  describe('on PostgreSQL, two replicas', () => {
    let db: TestDatabase;
    const pools: Array<ReturnType<typeof createPgPool>> = [];
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await Promise.all(pools.map((p) => p.end()));
      await db?.drop();
    });
    const pool = () => {
      const p = createPgPool('test', { connectionString: db.url, max: 2 });
      pools.push(p);
      return p;
    };

    test('racing, only one works per round; the other skips without waiting; the lock is free again after a round, even a failed one', async () => {
      const key = pgLockKey('test.retention');
      const [a, b] = [pgAdvisoryLock(pool(), key), pgAdvisoryLock(pool(), key)];
      for (let round = 0; round < 10; round++) {
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const worked: string[] = [];
        const task = (who: string): RetentionTask => ({
          name: 'rows',
          async deleteExpired() {
            worked.push(who);
            await gate; // hold the lock until the other replica has tried
            return 0;
          },
        });
        const jobs = [new RetentionJob({ tasks: [task('a')], lock: a, clock, log, maxAgeMs: day }), new RetentionJob({ tasks: [task('b')], lock: b, clock, log, maxAgeMs: day })];
        const runs = jobs.map((j) => j.runOnce());
        const first = await Promise.race(runs);
        expect(first).toEqual({ ran: false }); // the loser answers while the winner still holds the lock
        release();
        const results = await Promise.all(runs);
        expect(results.filter((r) => r.ran)).toHaveLength(1);
        expect(worked).toHaveLength(1);
      }
      // A round whose work throws still frees the lock.
      await expect(a.tryRun(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      expect(await b.tryRun(async () => 'free')).toEqual({ ran: true, value: 'free' });
    });
  });
});
