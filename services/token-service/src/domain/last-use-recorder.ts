import type { Logger } from '@mezite/platform';
import type { ApiTokenStore } from './api-token-store';

/** Options of LastUseRecorder. */
export interface LastUseRecorderOptions {
  store: Pick<ApiTokenStore, 'touchLastUsed'>;
  logger: Logger;
  /** How often pending uses are written; default one minute. */
  flushIntervalMs?: number;
}

/**
 * Remembers when each API token was last used and writes it in one batch per
 * interval, so verifying a token costs no database write: `last_used_at` lags by at
 * most the interval (plus a crash loses at most one interval of it).
 */
export class LastUseRecorder {
  private readonly store: Pick<ApiTokenStore, 'touchLastUsed'>;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;

  constructor(opts: LastUseRecorderOptions) {
    if (!opts.store || !opts.logger) throw new Error('LastUseRecorder: store and logger are required');
    this.store = opts.store;
    this.logger = opts.logger;
    this.intervalMs = opts.flushIntervalMs ?? 60_000;
  }

  /** Notes a use of token `id` at `at`. */
  record(id: string, at: Date): void {
    const prev = this.pending.get(id);
    if (!prev || prev < at) this.pending.set(id, at);
  }

  /** Uses noted and not yet written (for metrics and tests). */
  get size(): number {
    return this.pending.size;
  }

  /** Writes the pending uses in one batch. On failure they are kept for the next flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.touchLastUsed([...batch].map(([id, at]) => ({ id, at })));
    } catch (err) {
      for (const [id, at] of batch) this.record(id, at);
      this.logger.warn('could not record api token last use; will retry', { tokens: batch.size, err });
    }
  }

  /** Flushes every interval from now on. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
