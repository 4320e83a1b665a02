/** Options of GroupCommit. */
export interface GroupCommitOptions<T, R> {
  /**
   * Writes a batch in one transaction (or one statement) and returns one result per
   * item, in order. A throw fails every item of the batch with that error.
   */
  write(batch: T[]): Promise<R[]>;
  /** Most items written together; default 256. */
  maxBatch?: number;
}

/**
 * Group commit: items submitted while a write is under way wait and go together in
 * the next one, so N concurrent callers cost a few round trips, transactions and
 * pooled connections instead of N — and the pool cannot be drained by one hot path.
 * One write at a time per instance; each caller still resolves only after the write
 * that carried its item committed (a failed write rejects all of its items), so a
 * caller that must fail closed still does. Alone, an item is written at once: there
 * is no timer, and no latency is added when there is no queue.
 */
export class GroupCommit<T, R = void> {
  private readonly write: (batch: T[]) => Promise<R[]>;
  private readonly maxBatch: number;
  private queue: Array<{ item: T; resolve(r: R): void; reject(err: unknown): void }> = [];
  private writing = false;

  constructor(opts: GroupCommitOptions<T, R>) {
    if (typeof opts?.write !== 'function') throw new Error('GroupCommit: write is required');
    this.write = opts.write;
    this.maxBatch = opts.maxBatch ?? 256;
    if (!Number.isSafeInteger(this.maxBatch) || this.maxBatch < 1) throw new Error('GroupCommit: maxBatch must be a positive integer');
  }

  /** Queues `item` and resolves with its result once the batch that carried it committed. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.write(batch.map((p) => p.item));
          if (results.length !== batch.length) throw new Error(`GroupCommit: write returned ${results.length} results for ${batch.length} items`);
          batch.forEach((p, i) => p.resolve(results[i] as R));
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
