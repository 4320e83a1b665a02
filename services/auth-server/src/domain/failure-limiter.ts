import { resourceExhausted, type Clock } from '@mezite/identity';
import { meziteMetrics, type Logger } from '@mezite/platform';

/**
 * Failure counts shared by the auth-server's replicas (RedisCache's `incr`): an atomic
 * increment of a counter that lives one window from its first increment. Rejects
 * (Unavailable) when the backend cannot be reached.
 */
export interface SharedFailureCounts {
  incr(key: string, ttlMs: number): Promise<number>;
}

/** Options of FailureLimiter. */
export interface FailureLimiterOptions {
  clock: Clock;
  /** Failures a key may have in a window before it is refused. */
  maxFailures: number;
  /** Window length; a key's count decays fully over one window. */
  windowMs: number;
  /** Most keys tracked in memory (oldest dropped first), so a flood of sources cannot exhaust memory. */
  maxKeys?: number;
  /**
   * Counts shared by every replica (Redis). Without it the limits are per replica: N
   * replicas allow N times the limit.
   */
  shared?: SharedFailureCounts;
  /** Namespace of this limiter's shared counters (two limiters with different limits both count `source:` keys). Required with `shared`. */
  name?: string;
  /** Where losing and regaining the shared counts is reported (once per loss). */
  log?: Pick<Logger, 'warn' | 'info'>;
}

interface Bucket {
  /** Failures, decaying linearly over the window. */
  level: number;
  at: number;
}

/**
 * Brute-force protection: counts failed authentications per key (`source:<ip>`,
 * `client-source:<id> <ip>`, `client:<id>`) and refuses a key over its limit with
 * RESOURCE_EXHAUSTED (HTTP 429) until it drains. Only failures count, and `check` is a
 * map lookup in this process, so callers who do not fail never wait for anything.
 *
 * Across replicas: each failure is counted here (a leaky bucket) and, with `shared`,
 * in a counter every replica increments (Redis, one window from its first failure);
 * the shared count that comes back raises this replica's bucket to it. So a key that
 * failed `maxFailures` times anywhere is refused by a replica at its next failure
 * there: N replicas allow at most `maxFailures + N - 1` failures a window, not N times
 * `maxFailures`. While the shared counts are unreachable each replica keeps counting
 * its own failures (per-replica limits, never none), and the next failure after they
 * are back counts there again, with no restart.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private sharedDown = false;

  constructor(private readonly o: FailureLimiterOptions) {
    if (!o.clock || o.maxFailures < 1 || o.windowMs < 1) throw new Error('FailureLimiter: clock, maxFailures ≥ 1 and windowMs ≥ 1 are required');
    if (o.shared && !o.name) throw new Error('FailureLimiter: name is required with shared counts');
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  /** The failures any key may have in a window before it is refused. */
  get maxFailures(): number {
    return this.o.maxFailures;
  }

  private level(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const level = Math.max(0, b.level - ((now - b.at) / this.o.windowMs) * this.o.maxFailures);
    if (level === 0) this.buckets.delete(key);
    return level;
  }

  private put(key: string, level: number, now: number): void {
    this.buckets.delete(key);
    this.buckets.set(key, { level, at: now });
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }

  /** Throws ResourceExhausted when any key is over its limit. */
  check(keys: string[]): void {
    const now = this.o.clock.now().getTime();
    for (const k of keys) {
      if (this.level(k, now) >= this.o.maxFailures) {
        meziteMetrics.rateLimited.inc({ scope: k.slice(0, k.indexOf(':')) || 'other' });
        throw resourceExhausted(`too many failed attempts; try again in ${Math.ceil(this.o.windowMs / this.o.maxFailures / 1000)}s`);
      }
    }
  }

  /**
   * Records one failure for each key, and returns each key's failures in the window
   * (over every replica when the shared counts answered, else this replica's). Never
   * rejects: the shared counts failing leaves this replica's count.
   */
  async fail(keys: string[]): Promise<number[]> {
    const now = this.o.clock.now().getTime();
    const counts = keys.map((k) => {
      const level = this.level(k, now) + 1;
      this.put(k, level, now);
      return level;
    });
    const shared = this.o.shared;
    if (!shared) return counts;
    let sharedCounts: number[];
    try {
      sharedCounts = await Promise.all(keys.map((k) => shared.incr(`${this.o.name}:${k}`, this.o.windowMs)));
    } catch (err) {
      if (!this.sharedDown) this.o.log?.warn('failure limits are per replica: the shared counts are unreachable', { limiter: this.o.name, err });
      this.sharedDown = true;
      return counts;
    }
    if (this.sharedDown) this.o.log?.info('failure limits are shared again', { limiter: this.o.name });
    this.sharedDown = false;
    const after = this.o.clock.now().getTime();
    return keys.map((k, i) => {
      const level = Math.max(this.level(k, after), sharedCounts[i] as number);
      this.put(k, level, after);
      return level;
    });
  }
}

/**
 * The limiter keys of a client authentication (client_credentials, OAuth2 revocation):
 * `check` is refused on the (client, source) pair or the source alone, never on the
 * client alone, so failures from other sources never refuse a correct secret;
 * `fail` also counts the client across sources, for the spike alert
 * (`FailureSpikeAlarm`), when `knownClient` (unknown ids are not worth an alert and
 * would let anyone create counters at will).
 */
export function clientAuthKeys(clientId: string, source: string | undefined, knownClient = false): { check: string[]; fail: string[] } {
  const id = clientId.slice(0, 256);
  const src = source ?? 'unknown';
  const check = [`client-source:${id} ${src}`, `source:${src}`];
  return { check, fail: knownClient ? [...check, `client:${id}`] : check };
}

/** `ipv4:127.0.0.1:5555` / `ipv6:[::1]:5555` / `127.0.0.1` → the address without port. */
export function sourceAddress(peer: string | undefined): string {
  if (!peer) return 'unknown';
  const p = peer.replace(/^ipv[46]:/, '');
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(p) ?? /^([^:]+):\d+$/.exec(p);
  return m ? (m[1] as string) : p;
}
