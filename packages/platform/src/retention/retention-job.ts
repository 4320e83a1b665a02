import type { Clock } from '@mezite/identity';
import type { Logger } from '../log/logger';

/** One kind of row the job deletes: everything of it that ended before `before`, at most `limit` rows a call. */
export interface RetentionTask {
  /** Names the rows in the log (`auth.sessions`). */
  name: string;
  /** Deletes at most `limit` rows that ended (expired, were used or revoked) before `before`; returns how many. */
  deleteExpired(before: Date, limit: number): Promise<number>;
}

/** Lets one replica at a time run a round (PostgreSQL: pgAdvisoryLock). */
export interface RetentionLock {
  /** Runs `work` if the lock is free, holding it meanwhile; `{ ran: false }` without waiting when another holder has it. */
  tryRun<T>(work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }>;
}

/** Options of RetentionJob. */
export interface RetentionJobOptions {
  tasks: RetentionTask[];
  lock: RetentionLock;
  clock: Clock;
  log: Pick<Logger, 'info' | 'warn'>;
  /** Rows are deleted once they ended more than this long ago. */
  maxAgeMs: number;
  /** Rows per DELETE; default 1000. */
  batchSize?: number;
  /** Batches per task per round, so one round is bounded; default 100. The rest waits for the next round. */
  maxBatches?: number;
}

/** What one round did. */
export type RetentionRound = { ran: false } | { ran: true; deleted: Record<string, number>; before: Date };

/**
 * Deletes rows that ended long ago (expired challenges, sessions, join tokens, API
 * tokens, …), so what anonymous callers and time leave behind does not grow without
 * bound. Audit records are never among them. A round runs on one replica at a time
 * (the lock; the others skip it), deletes in bounded batches, and logs its counts. A
 * task that fails is logged and the round goes on with the next; the round after
 * retries it.
 */
export class RetentionJob {
  private readonly batchSize: number;
  private readonly maxBatches: number;

  constructor(private readonly o: RetentionJobOptions) {
    if (!o.tasks || !o.lock || !o.clock || !o.log) throw new Error('RetentionJob: tasks, lock, clock and log are required');
    this.batchSize = o.batchSize ?? 1000;
    this.maxBatches = o.maxBatches ?? 100;
    if (!(o.maxAgeMs > 0 && this.batchSize >= 1 && this.maxBatches >= 1)) throw new Error('RetentionJob: maxAgeMs > 0, batchSize ≥ 1 and maxBatches ≥ 1 are required');
  }

  /** One round, if no other replica is running one. */
  async runOnce(): Promise<RetentionRound> {
    const r = await this.o.lock.tryRun(() => this.round());
    return r.ran ? r.value : { ran: false };
  }

  /** Runs a round every `intervalMs` (the first after `firstAfterMs`) until stopped; never keeps the process alive. */
  start(intervalMs: number, firstAfterMs = Math.min(intervalMs, 60_000)): { stop(): Promise<void> } {
    let running: Promise<unknown> = Promise.resolve();
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      running = this.runOnce().catch((err: unknown) => this.o.log.warn('retention round failed', { err }));
    };
    const first = setTimeout(() => {
      tick();
      timer.refresh();
    }, firstAfterMs);
    const timer = setInterval(tick, intervalMs);
    first.unref();
    timer.unref();
    return {
      stop: async () => {
        stopped = true;
        clearTimeout(first);
        clearInterval(timer);
        await running;
      },
    };
  }

  private async round(): Promise<RetentionRound> {
    const before = new Date(this.o.clock.now().getTime() - this.o.maxAgeMs);
    const deleted: Record<string, number> = {};
    for (const t of this.o.tasks) {
      let n = 0;
      try {
        for (let i = 0; i < this.maxBatches; i++) {
          const got = await t.deleteExpired(before, this.batchSize);
          n += got;
          if (got < this.batchSize) break;
        }
      } catch (err) {
        this.o.log.warn('retention: deleting expired rows failed; the next round retries', { table: t.name, deleted: n, err });
      }
      deleted[t.name] = n;
    }
    this.o.log.info('retention round', { before: before.toISOString(), deleted });
    return { ran: true, deleted, before };
  }
}

/** One process's lock (tests, a single replica): a round that is running makes the others skip. */
export class LocalRetentionLock implements RetentionLock {
  private held = false;

  async tryRun<T>(work: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.held) return { ran: false };
    this.held = true;
    try {
      return { ran: true, value: await work() };
    } finally {
      this.held = false;
    }
  }
}
