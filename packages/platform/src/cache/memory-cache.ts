import { systemClock, unavailable, type Clock } from '@mezite/identity';
import { nullLogger, type Logger } from '../log/logger';
import { checkTtl, type Cache, type CounterCache } from './cache';

/** Options of MemoryCache. */
export interface MemoryCacheOptions {
  /** Where TTLs read the time; a FakeClock in tests. Default: the system clock. */
  clock?: Clock;
  /** Where a subscriber that throws is reported. */
  logger?: Logger;
}

interface Entry {
  value: string;
  /** Epoch ms; Infinity for no TTL. */
  expiresAt: number;
}

/** Writes between sweeps of expired entries, so keys never read again do not pile up. */
const SWEEP_EVERY = 1000;

/**
 * A Cache held in this process: for a single replica (the quickstart runs
 * token-service without Redis) and for unit tests. TTLs follow the injected clock, so
 * tests move a FakeClock instead of sleeping. Pub/sub reaches the subscribers of this
 * instance only, on a later microtask, as a network round trip would.
 */
export class MemoryCache implements Cache, CounterCache {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private writes = 0;
  private closed = false;

  constructor(opts: MemoryCacheOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? nullLogger;
  }

  async get(key: string): Promise<string | null> {
    this.check();
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return e.value;
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.check();
    checkTtl(ttlMs);
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? Infinity : this.now() + ttlMs });
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    this.check();
    checkTtl(ttlMs);
    const now = this.now();
    const e = this.entries.get(key);
    const live = e && e.expiresAt > now ? e : undefined;
    const n = (live ? Number(live.value) || 0 : 0) + 1;
    this.entries.set(key, { value: String(n), expiresAt: live && live.expiresAt !== Infinity ? live.expiresAt : now + ttlMs });
    if (++this.writes % SWEEP_EVERY === 0) this.sweep();
    return n;
  }

  async del(...keys: string[]): Promise<void> {
    this.check();
    for (const k of keys) this.entries.delete(k);
  }

  async publish(channel: string, message: string): Promise<void> {
    this.check();
    const handlers = [...(this.channels.get(channel) ?? [])];
    if (handlers.length === 0) return;
    void Promise.resolve().then(() => {
      for (const h of handlers) {
        try {
          h(message);
        } catch (err) {
          this.logger.warn('cache subscriber failed', { channel, err });
        }
      }
    });
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>> {
    this.check();
    // Wrapped, so the same function subscribed twice is two subscriptions, as on Redis.
    const handler = (m: string) => onMessage(m);
    const set = this.channels.get(channel) ?? new Set();
    set.add(handler);
    this.channels.set(channel, set);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.channels.get(channel) === set) this.channels.delete(channel);
    };
  }

  async ping(): Promise<void> {
    this.check();
  }

  /** Entries held, counting expired ones not yet swept (for metrics and tests). */
  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
    this.channels.clear();
  }

  private check(): void {
    if (this.closed) throw unavailable('cache closed');
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
