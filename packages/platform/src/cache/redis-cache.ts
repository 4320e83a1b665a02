import { MeziteError, unavailable } from '@mezite/identity';
import { Redis, type RedisOptions } from 'ioredis';
import { nullLogger, type Logger } from '../log/logger';
import { checkTtl, type Cache, type CounterCache } from './cache';

/** Options of RedisCache. */
export interface RedisCacheOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://…`. */
  url: string;
  /** Prepended to every key and channel (`token:`), so services and test runs sharing a Redis never collide. */
  keyPrefix: string;
  /** Bound on one command and on waiting for a (re)connection; default 1000 ms. */
  timeoutMs?: number;
  /** Where losing and regaining Redis, and subscribers that throw, are reported. */
  logger?: Logger;
}

/** INCR, and PEXPIRE when the key is new or (written by something else) has no expiry: one atomic step. */
const INCR_WITH_EXPIRY = "local n = redis.call('INCR', KEYS[1]) if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

type Handler = (message: string) => void;
interface Channel {
  handlers: Set<Handler>;
  /** Settles when Redis confirmed the SUBSCRIBE. */
  subscribed: Promise<void>;
}

/**
 * The Cache on Redis, for several replicas. Two connections: one for commands and a
 * dedicated one for SUBSCRIBE (a subscribed connection can run nothing else), opened
 * on the first subscribe.
 *
 * Redis being down must cost a caller about a second, not a hung request: commands
 * are never queued while disconnected (`enableOfflineQueue: false`, no replay of
 * in-flight commands after a reconnect), each is bounded by `timeoutMs`, and a call
 * made while the connection is being (re)established waits for it at most
 * `timeoutMs` — or not at all once a connection attempt has failed. Every failure is
 * the domain `unavailable('cache unavailable', { cause })`. Both connections
 * reconnect on their own (backoff up to 1 s) and the subscriber re-subscribes its
 * channels when Redis returns.
 */
export class RedisCache implements Cache, CounterCache {
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly options: RedisOptions;
  private readonly commands: Connection;
  private subscriber: Connection | undefined;
  private readonly channels = new Map<string, Channel>();
  /** Told when the subscriber connection drops: messages published meanwhile are lost. */
  private readonly gapHandlers = new Set<() => void>();
  private closed = false;

  constructor(private readonly opts: RedisCacheOptions) {
    if (!opts.url) throw new Error('RedisCache: url is required');
    this.prefix = opts.keyPrefix;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.logger = opts.logger ?? nullLogger;
    this.options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      connectTimeout: this.timeoutMs,
      commandTimeout: this.timeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      // Grace for a closing socket to flush; ioredis arms it even for a socket already gone.
      disconnectTimeout: 100,
    };
    this.commands = new Connection(new Redis(opts.url, this.options), 'commands', this.timeoutMs, this.logger);
  }

  get(key: string): Promise<string | null> {
    return this.run(this.commands, (r) => r.get(this.prefix + key));
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    checkTtl(ttlMs);
    const k = this.prefix + key;
    await this.run(this.commands, (r) => (ttlMs === undefined ? r.set(k, value) : r.set(k, value, 'PX', Math.ceil(ttlMs))));
  }

  async incr(key: string, ttlMs: number): Promise<number> {
    checkTtl(ttlMs);
    const n = await this.run(this.commands, (r) => r.eval(INCR_WITH_EXPIRY, 1, this.prefix + key, String(Math.ceil(ttlMs))));
    return Number(n);
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.run(this.commands, (r) => r.del(...keys.map((k) => this.prefix + k)));
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.run(this.commands, (r) => r.publish(this.prefix + channel, message));
  }

  async subscribe(channel: string, onMessage: Handler, onGap?: () => void): Promise<() => Promise<void>> {
    if (this.closed) throw unavailable('cache closed');
    const name = this.prefix + channel;
    const sub = this.subscriberConnection();
    const handler: Handler = (m) => onMessage(m); // the same function twice is two subscriptions
    const gap = onGap ? () => onGap() : undefined;
    let ch = this.channels.get(name);
    if (!ch) {
      const subscribed = this.run(sub, (r) => r.subscribe(name)).then(() => undefined);
      ch = { handlers: new Set(), subscribed };
      this.channels.set(name, ch);
      const created = ch;
      subscribed.catch(() => {
        if (this.channels.get(name) === created) this.channels.delete(name);
      });
    }
    ch.handlers.add(handler);
    try {
      await ch.subscribed;
    } catch (err) {
      ch.handlers.delete(handler);
      throw err;
    }
    if (gap) this.gapHandlers.add(gap);
    const joined = ch;
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      if (gap) this.gapHandlers.delete(gap);
      joined.handlers.delete(handler);
      if (joined.handlers.size > 0 || this.channels.get(name) !== joined) return;
      this.channels.delete(name);
      // If this fails Redis is gone; a re-subscribe after reconnect only delivers to no one.
      if (!this.closed) await sub.redis.unsubscribe(name).catch(() => undefined);
    };
  }

  async ping(): Promise<void> {
    await this.run(this.commands, (r) => r.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.channels.clear();
    this.gapHandlers.clear();
    await Promise.all([this.commands.close(), this.subscriber?.close()]);
  }

  private subscriberConnection(): Connection {
    if (!this.subscriber) {
      const sub = new Connection(new Redis(this.opts.url, this.options), 'subscriber', this.timeoutMs, this.logger);
      sub.redis.on('message', (channel: string, message: string) => this.deliver(channel, message));
      // Once per loss: ioredis re-subscribes by itself when Redis is back, but what was published in between is gone.
      let lost = false;
      sub.redis.on('ready', () => (lost = false));
      sub.redis.on('close', () => {
        if (lost || this.closed) return;
        lost = true;
        for (const g of [...this.gapHandlers]) {
          try {
            g();
          } catch (err) {
            this.logger.warn('cache gap handler failed', { err });
          }
        }
      });
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  private deliver(channel: string, message: string): void {
    for (const h of [...(this.channels.get(channel)?.handlers ?? [])]) {
      try {
        h(message);
      } catch (err) {
        this.logger.warn('cache subscriber failed', { channel: channel.slice(this.prefix.length), err });
      }
    }
  }

  private async run<T>(conn: Connection, op: (r: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw unavailable('cache closed');
    try {
      await conn.ready();
      return await op(conn.redis);
    } catch (err) {
      throw err instanceof MeziteError ? err : unavailable('cache unavailable', { cause: err });
    }
  }
}

/** One ioredis connection and what we know of its health. */
class Connection {
  /** The last connection error since the connection was last ready; set means "down, fail fast". */
  private lastError: Error | undefined;
  private everReady = false;

  constructor(
    readonly redis: Redis,
    private readonly role: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    redis.on('error', (err: Error) => {
      if (!this.lastError) this.logger.warn('cache unavailable', { connection: role, err });
      this.lastError = err;
    });
    redis.on('ready', () => {
      if (this.lastError) this.logger.info('cache reachable again', { connection: role });
      this.lastError = undefined;
      this.everReady = true;
    });
  }

  /** Resolves when commands can be written; rejects with Unavailable when they cannot be soon. */
  ready(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') return Promise.resolve();
    if (r.status === 'end') return Promise.reject(unavailable('cache unavailable', { cause: new Error('connection closed') }));
    if (this.lastError) return Promise.reject(unavailable('cache unavailable', { cause: this.lastError }));
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        r.off('ready', onReady);
        r.off('error', onError);
        r.off('end', onEnd);
        if (err) reject(unavailable('cache unavailable', { cause: err }));
        else resolve();
      };
      const onReady = () => done();
      const onError = (err: Error) => done(err);
      const onEnd = () => done(new Error('connection closed'));
      const timer = setTimeout(() => done(new Error(`no ${this.everReady ? 're' : ''}connection to Redis within ${this.timeoutMs} ms (${this.role})`)), this.timeoutMs);
      r.on('ready', onReady);
      r.on('error', onError);
      r.on('end', onEnd);
    });
  }

  /** QUIT when connected (replies in flight still arrive), bounded by the timeout; then stop reconnecting. */
  async close(): Promise<void> {
    const r = this.redis;
    if (r.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([r.quit().catch(() => undefined), new Promise<void>((res) => (timer = setTimeout(res, this.timeoutMs)))]);
      clearTimeout(timer);
    }
    if (r.status !== 'end') r.disconnect();
  }
}
