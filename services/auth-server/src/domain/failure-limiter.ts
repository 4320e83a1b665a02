import { resourceExhausted, type Clock } from '@mezite/identity';
import { meziteMetrics } from '@mezite/platform';

/** Options of FailureLimiter. */
export interface FailureLimiterOptions {
  clock: Clock;
  /** Failures a key may have in a window before it is refused. */
  maxFailures: number;
  /** Window length; a key's count decays fully over one window. */
  windowMs: number;
  /** Most keys tracked (oldest dropped first), so a flood of sources cannot exhaust memory. */
  maxKeys?: number;
}

interface Bucket {
  /** Failures, decaying linearly over the window. */
  level: number;
  at: number;
}

/**
 * Brute-force protection: counts failed authentications per key (`client:<id>`,
 * `source:<ip>`) as a leaky bucket; a key over its limit is refused with
 * RESOURCE_EXHAUSTED (HTTP 429) until it drains. Only failures count, and the check is
 * a map lookup, so legitimate callers are never slowed. Per replica: N replicas allow
 * at most N times the limit (documented in docs/SECURITY.md).
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;

  constructor(private readonly o: FailureLimiterOptions) {
    if (!o.clock || o.maxFailures < 1 || o.windowMs < 1) throw new Error('FailureLimiter: clock, maxFailures ≥ 1 and windowMs ≥ 1 are required');
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  private level(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const level = Math.max(0, b.level - ((now - b.at) / this.o.windowMs) * this.o.maxFailures);
    if (level === 0) this.buckets.delete(key);
    return level;
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

  /** Records one failure for each key. */
  fail(keys: string[]): void {
    const now = this.o.clock.now().getTime();
    for (const k of keys) {
      const level = this.level(k, now) + 1;
      this.buckets.delete(k);
      this.buckets.set(k, { level, at: now });
    }
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
  }
}

/** `ipv4:127.0.0.1:5555` / `ipv6:[::1]:5555` / `127.0.0.1` → the address without port. */
export function sourceAddress(peer: string | undefined): string {
  if (!peer) return 'unknown';
  const p = peer.replace(/^ipv[46]:/, '');
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(p) ?? /^([^:]+):\d+$/.exec(p);
  return m ? (m[1] as string) : p;
}
