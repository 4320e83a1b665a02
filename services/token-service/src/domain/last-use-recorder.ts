import type { Logger } from '@mezite/platform';
import type { ApiTokenStore } from './api-token-store';
import { hourOf, OTHER_PRESENTER, presenterOf, type ApiTokenPresenter, type ApiTokenUsage } from './api-token-usage';

/** Options of LastUseRecorder. */
export interface LastUseRecorderOptions {
  store: Pick<ApiTokenStore, 'touchLastUsed' | 'addUsage'>;
  logger: Logger;
  /** How often pending uses are written; default five seconds. */
  flushIntervalMs?: number;
  /** Most distinct presenters kept per token and hour; the rest are counted as `other`. Default 16. */
  maxPresentersPerHour?: number;
  /** Most (token, hour) pairs held between flushes; past it new ones are dropped (and logged). Default 50 000. */
  maxPending?: number;
}

/** One (token, hour)'s presenters not yet written. */
interface PendingHour {
  tokenId: string;
  hour: Date;
  byPresenter: Map<string, ApiTokenUsage>;
}

/**
 * Remembers when each API token was last used and by whom, and writes both in one
 * batch per interval, so verifying a token costs no database write: `last_used_at` and
 * the usage summary lag by at most the interval (a crash loses at most one interval).
 * Memory is bounded: at most `maxPresentersPerHour` presenters per token and hour (the
 * rest add to one `other` row) and `maxPending` token-hours between flushes.
 */
export class LastUseRecorder {
  private readonly store: Pick<ApiTokenStore, 'touchLastUsed' | 'addUsage'>;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly maxPresenters: number;
  private readonly maxPending: number;
  private pending = new Map<string, Date>();
  private usage = new Map<string, PendingHour>();
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(opts: LastUseRecorderOptions) {
    if (!opts.store || !opts.logger) throw new Error('LastUseRecorder: store and logger are required');
    this.store = opts.store;
    this.logger = opts.logger;
    this.intervalMs = opts.flushIntervalMs ?? 5_000;
    this.maxPresenters = opts.maxPresentersPerHour ?? 16;
    this.maxPending = opts.maxPending ?? 50_000;
  }

  /** Notes `uses` uses (default 1) of token `id` at `at` by `presenter` (none: counted as `unknown`). */
  record(id: string, at: Date, presenter?: Partial<ApiTokenPresenter>, uses = 1): void {
    const prev = this.pending.get(id);
    if (!prev || prev < at) this.pending.set(id, at);
    const p = presenterOf(presenter);
    this.add({ tokenId: id, hour: hourOf(at), source: p.source, client: p.client, count: Math.max(1, Math.floor(uses)), firstSeen: at, lastSeen: at });
  }

  private add(u: ApiTokenUsage): void {
    const hk = `${u.tokenId}/${u.hour.getTime()}`;
    let h = this.usage.get(hk);
    if (!h) {
      if (this.usage.size >= this.maxPending) {
        this.dropped += u.count;
        return;
      }
      h = { tokenId: u.tokenId, hour: u.hour, byPresenter: new Map() };
      this.usage.set(hk, h);
    }
    let pk = `${u.source}\n${u.client}`;
    if (!h.byPresenter.has(pk) && h.byPresenter.size >= this.maxPresenters) {
      pk = `${OTHER_PRESENTER}\n`;
      u = { ...u, source: OTHER_PRESENTER, client: '' };
    }
    const e = h.byPresenter.get(pk);
    if (!e) {
      h.byPresenter.set(pk, { ...u });
      return;
    }
    e.count += u.count;
    if (u.firstSeen < e.firstSeen) e.firstSeen = u.firstSeen;
    if (u.lastSeen > e.lastSeen) e.lastSeen = u.lastSeen;
  }

  /** Tokens with uses noted and not yet written (for metrics and tests). */
  get size(): number {
    return this.pending.size;
  }

  /** Usage rows noted and not yet written, for a token (so a check sees uses not flushed yet). */
  pendingUsage(tokenId: string): ApiTokenUsage[] {
    return [...this.usage.values()].filter((h) => h.tokenId === tokenId).flatMap((h) => [...h.byPresenter.values()].map((u) => ({ ...u })));
  }

  /**
   * Writes the pending uses in one batch (last uses in one statement, usage rows in
   * another). On failure they are kept for the next flush; a flush never throws.
   */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.warn('api token usage dropped: too many tokens used between flushes', { uses: this.dropped });
      this.dropped = 0;
    }
    if (this.pending.size === 0 && this.usage.size === 0) return;
    const last = this.pending;
    const usage = this.usage;
    this.pending = new Map();
    this.usage = new Map();
    const rows = [...usage.values()].flatMap((h) => [...h.byPresenter.values()]);
    try {
      if (last.size > 0) await this.store.touchLastUsed([...last].map(([id, at]) => ({ id, at })));
    } catch (err) {
      for (const [id, at] of last) {
        const cur = this.pending.get(id);
        if (!cur || cur < at) this.pending.set(id, at);
      }
      this.logger.warn('could not record api token last use; will retry', { tokens: last.size, err });
    }
    try {
      if (rows.length > 0) await this.store.addUsage(rows, this.maxPresenters);
    } catch (err) {
      for (const u of rows) this.add(u);
      this.logger.warn('could not record api token usage; will retry', { rows: rows.length, err });
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
