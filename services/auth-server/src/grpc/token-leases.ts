import { hash } from 'node:crypto';
import type { ApiTokenInfo } from '../domain/api-token-client';

/** Options of TokenLeases. */
export interface TokenLeasesOptions {
  /** Monotonic milliseconds (performance.now): leases are durations, never wall-clock times. */
  monotonicNow?: () => number;
  /** Wall-clock milliseconds, for the token's own expiry and rotation deadline. */
  wallNow?: () => number;
  /** Longest lease honoured, whatever token-service grants; default 10 s (its own maximum). */
  maxLeaseMs?: number;
  /** Bound on the entries; the oldest goes first. Default 10 000. */
  maxEntries?: number;
}

/**
 * Verified API tokens this process may reuse, each for the lease token-service granted
 * with it (VerifyApiTokens' `lease_ms`), counted from when the verification was *sent*.
 * Token-service answers every deletion and rotation only after the lease has passed
 * since verifiers could see the change, so a lease taken before a revocation has always
 * run out when the revocation returns: a call that arrives after `identity-tokens
 * delete` returned is never served from here, on any replica, and nothing needs to be
 * told (no invalidation messages, nothing to lose when Redis is away).
 *
 * Keyed by the SHA-256 of the plaintext (never the plaintext); only accepted tokens are
 * kept, and a kept token past its expiry or rotation deadline is not used.
 */
export class TokenLeases {
  private readonly monotonicNow: () => number;
  private readonly wallNow: () => number;
  private readonly maxLeaseMs: number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, { info: ApiTokenInfo; until: number }>();

  constructor(o: TokenLeasesOptions = {}) {
    this.monotonicNow = o.monotonicNow ?? (() => performance.now());
    this.wallNow = o.wallNow ?? Date.now;
    this.maxLeaseMs = o.maxLeaseMs ?? 10_000;
    this.maxEntries = o.maxEntries ?? 10_000;
  }

  /** The monotonic time to pass to `put` for a verification sent now. */
  now(): number {
    return this.monotonicNow();
  }

  /** The key of a plaintext. */
  key(plaintext: string): string {
    return hash('sha256', plaintext, 'base64');
  }

  /** The token under `key` while its lease runs and it is still live; undefined otherwise. */
  get(key: string): ApiTokenInfo | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    const wall = this.wallNow();
    if (e.until > this.monotonicNow() && e.info.expiresAt.getTime() > wall && (!e.info.rotationDeadline || e.info.rotationDeadline.getTime() > wall)) return e.info;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `info` for `leaseMs` from `sentAt` (a `now()` taken before the verification was sent). */
  put(key: string, info: ApiTokenInfo, sentAt: number, leaseMs: number): void {
    if (!(leaseMs > 0)) return;
    const until = sentAt + Math.min(leaseMs, this.maxLeaseMs);
    if (until <= this.monotonicNow()) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { info, until });
  }

  /** Entries kept (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }
}
