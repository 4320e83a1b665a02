import { isMeziteError, keyedHash, ringOf, type Clock, type KeyRing, parseApiToken } from '@mezite/identity';
import { countOutcome, meziteMetrics, type Logger } from '@mezite/platform';
import { apiTokenInfo, type ApiTokenInfo } from './api-token';
import type { ApiTokenCache, ApiTokenState } from './api-token-cache';
import { refuseApiToken, whyNotLive } from './api-token-refusal';
import type { ApiTokenStore } from './api-token-store';
import type { ApiTokenPresenter } from './api-token-usage';
import type { LastUseRecorder } from './last-use-recorder';

/** Options of ApiTokenVerifier. */
export interface ApiTokenVerifierOptions {
  store: ApiTokenStore;
  cache: ApiTokenCache;
  clock: Clock;
  /** Server-side secret keying the stored hashes (shorthand for `peppers` without previous keys). */
  pepper?: Buffer;
  /** The current pepper and the previous ones: a token hashed under a previous one still verifies, and is re-hashed. */
  peppers?: KeyRing;
  logger: Logger;
  lastUse: LastUseRecorder;
  /** How long this process reuses a positive verification; default 10 s. */
  localTtlMs?: number;
  /** How long a positive verification is shared through the cache; default 60 s. */
  sharedTtlMs?: number;
  /** Bound on the in-process cache; the oldest entry goes first. Default 10 000. */
  localMaxEntries?: number;
}

/** How often a failed subscription to invalidations is retried (on the next verification after it). */
const RESUBSCRIBE_AFTER_MS = 10_000;

/**
 * VerifyApiToken's hot path, which must not query PostgreSQL on every call:
 *
 * 1. the format and checksum are checked first: no lookup for a mistyped token;
 * 2. the token's state (revoked, or a rotation deadline) is read from the shared
 *    cache on every verification, so a deletion or rotation on any replica is
 *    honoured by all of them as soon as it returned; deadlines are compared with the
 *    clock each time;
 * 3. the token's metadata comes from this process (10 s), else the shared cache
 *    (60 s), else the database, which then fills both; an invalidation published
 *    on rotation or deletion drops the in-process copy on every replica;
 * 4. when the cache cannot be reached, the database answers every verification and
 *    nothing is cached: a token the database refuses is never accepted. The
 *    in-process copies are dropped the moment the cache is found unreachable, or the
 *    subscription to invalidations drops: a rotation or deletion made meanwhile could
 *    not be announced, and its state key may never have been written (or Redis came
 *    back empty), so nothing cached before the outage is trusted after it.
 *
 * Last use, and who presented the token, is noted in memory and written in batches
 * (LastUseRecorder), for every accepted verification, cached or not.
 *
 * 5. every cache key is the token's hash under the current pepper. A token found in the
 *    database under a previous pepper (after a rotation of the pepper) is re-hashed there
 *    to the current one and, that once, not cached: its revocation or rotation, made
 *    meanwhile, may have been announced under its old hash, so only the database
 *    (which the re-hash has moved to the current hash) is trusted for it.
 */
export class ApiTokenVerifier {
  private readonly store: ApiTokenStore;
  private readonly cache: ApiTokenCache;
  private readonly clock: Clock;
  private readonly peppers: KeyRing;
  private readonly logger: Logger;
  private readonly lastUse: LastUseRecorder;
  private readonly localTtlMs: number;
  private readonly sharedTtlMs: number;
  private readonly localMax: number;
  private readonly local = new Map<string, { info: ApiTokenInfo; until: number }>();
  /** Bumped by every invalidation, so a lookup that raced one does not cache its result. */
  private generation = 0;
  private unsubscribe: (() => Promise<void>) | undefined;
  private lastSubscribeAttempt = -Infinity;
  private closed = false;

  constructor(opts: ApiTokenVerifierOptions) {
    if (!opts.store || !opts.cache || !opts.clock || !opts.logger || !opts.lastUse) throw new Error('ApiTokenVerifier: store, cache, clock, logger and lastUse are required');
    this.peppers = ringOf(opts, 'ApiTokenVerifier');
    this.store = opts.store;
    this.cache = opts.cache;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.lastUse = opts.lastUse;
    this.localTtlMs = opts.localTtlMs ?? 10_000;
    this.sharedTtlMs = opts.sharedTtlMs ?? 60_000;
    this.localMax = opts.localMaxEntries ?? 10_000;
  }

  /**
   * Subscribes to invalidations. Never fails: without the cache the in-process
   * copies still expire after their TTL, and the subscription is retried later.
   */
  async start(): Promise<void> {
    if (this.unsubscribe || this.closed) return;
    this.lastSubscribeAttempt = this.clock.now().getTime();
    try {
      this.unsubscribe = await this.cache.onInvalidate(
        (key) => {
          this.generation++;
          this.local.delete(key);
        },
        () => this.dropLocal(),
      );
    } catch (err) {
      this.logger.warn('api token invalidations unavailable; retrying later', { err });
    }
  }

  /**
   * Resolves a plaintext to its token, or Unauthenticated `invalid api token` for every
   * kind of failure; why is in the error's cause (ApiTokenRefusal), for the audit log.
   */
  verify(plaintext: string, presenter?: Partial<ApiTokenPresenter>, uses = 1): Promise<ApiTokenInfo> {
    return countOutcome(meziteMetrics.tokenVerifications, { kind: 'api_token' }, () => this.check(plaintext, presenter, uses));
  }

  private async check(plaintext: string, presenter: Partial<ApiTokenPresenter> | undefined, uses: number): Promise<ApiTokenInfo> {
    if (!parseApiToken(plaintext)) throw refuseApiToken('malformed');
    if (!this.unsubscribe && !this.closed && this.clock.now().getTime() - this.lastSubscribeAttempt > RESUBSCRIBE_AFTER_MS) void this.start();
    const hash = keyedHash(this.peppers.current.key, plaintext);
    const key = hash.toString('hex');
    const now = this.clock.now();

    let state: ApiTokenState | null;
    try {
      state = await this.cache.state(key);
    } catch (err) {
      if (!isMeziteError(err, 'Unavailable')) throw err;
      this.logger.debug('cache unavailable; verifying against the database', { err });
      this.dropLocal();
      meziteMetrics.apiTokenLookups.inc({ source: 'database' });
      return this.accept((await this.fromDatabase(plaintext, hash, now)).info, now, presenter, uses);
    }
    if (state?.revoked) throw refuseApiToken('revoked');
    const deadline = state ? state.deadline : undefined;

    const info = this.localGet(key, now) ?? (await this.sharedOrDatabase(key, plaintext, hash, now));
    const dead = whyNotLive(info, now, deadline);
    if (dead) throw refuseApiToken(dead, info);
    const effective = deadline && (!info.rotationDeadline || deadline < info.rotationDeadline) ? deadline : info.rotationDeadline;
    return this.accept({ ...info, rotationDeadline: effective }, now, presenter, uses);
  }

  /** Entries in the in-process cache (for metrics and tests). */
  get localSize(): number {
    return this.local.size;
  }

  /** Stops listening for invalidations. */
  async close(): Promise<void> {
    this.closed = true;
    this.local.clear();
    const u = this.unsubscribe;
    this.unsubscribe = undefined;
    await u?.().catch(() => undefined);
  }

  /** Notes the use (and who made it) for the batched write, whichever cache answered. */
  private accept(info: ApiTokenInfo, now: Date, presenter: Partial<ApiTokenPresenter> | undefined, uses: number): ApiTokenInfo {
    this.lastUse.record(info.id, now, presenter, uses);
    return info;
  }

  /** Forgets every in-process copy (and any lookup racing this), after the cache may have missed an invalidation. */
  private dropLocal(): void {
    this.generation++;
    this.local.clear();
  }

  private localGet(key: string, now: Date): ApiTokenInfo | undefined {
    const e = this.local.get(key);
    if (!e) return undefined;
    if (e.until > now.getTime()) {
      meziteMetrics.apiTokenLookups.inc({ source: 'memory' });
      return e.info;
    }
    this.local.delete(key);
    return undefined;
  }

  /**
   * From the shared cache, else the database (filling both caches); refuses what the
   * database refuses. A copy taken from the shared cache lives in this process no
   * longer than the shared record does, so no copy outlives the shared TTL counted from
   * the database read it came from (the bound of a change the cache never heard of).
   */
  private async sharedOrDatabase(key: string, plaintext: string, hash: Buffer, now: Date): Promise<ApiTokenInfo> {
    const generation = this.generation;
    let shared: { info: ApiTokenInfo; until: Date | null } | null;
    try {
      shared = await this.cache.record(key);
    } catch (err) {
      if (!isMeziteError(err, 'Unavailable')) throw err;
      meziteMetrics.apiTokenLookups.inc({ source: 'database' });
      return (await this.fromDatabase(plaintext, hash, now)).info;
    }
    // A record past its time by this clock is not trusted, whatever Redis's clock says.
    if (shared?.until && shared.until.getTime() <= now.getTime()) shared = null;
    meziteMetrics.apiTokenLookups.inc({ source: shared ? 'cache' : 'database' });
    let info: ApiTokenInfo;
    let until: number | undefined;
    if (shared) {
      info = shared.info;
      if (shared.until) until = shared.until.getTime();
    } else {
      const found = await this.fromDatabase(plaintext, hash, now);
      if (found.rehashed) return found.info;
      info = found.info;
      const ttl = Math.min(this.sharedTtlMs, info.expiresAt.getTime() - now.getTime());
      await this.cache.putRecord(key, info, ttl, now).catch((err: unknown) => this.logger.debug('could not share an api token verification', { err }));
    }
    if (generation === this.generation) this.localPut(key, info, now, until);
    return info;
  }

  /**
   * The source of truth: the token as PostgreSQL has it, if it is live at `now`. Looks
   * the plaintext up under the current pepper and every previous one in one read; a live
   * token found under a previous one is moved to the current one (`rehashed`: not to be
   * cached this time).
   */
  private async fromDatabase(plaintext: string, hash: Buffer, now: Date): Promise<{ info: ApiTokenInfo; rehashed: boolean }> {
    const t = this.peppers.previous.length === 0 ? await this.store.findByHash(hash) : await this.store.findByHashes([hash, ...this.peppers.previous.map((k) => keyedHash(k.key, plaintext))]);
    if (!t) throw refuseApiToken('unknown');
    const dead = whyNotLive(t, now);
    if (dead) {
      if (t.revokedAt) await this.cache.markRevoked(hash.toString('hex'), Math.max(t.expiresAt.getTime() - now.getTime(), 0) + this.sharedTtlMs).catch(() => undefined);
      throw refuseApiToken(dead, t);
    }
    const stale = !t.tokenHash.equals(hash);
    if (stale || t.pepperId !== this.peppers.current.id) {
      // Failure to re-hash refuses nothing: the old hash still verifies until it is dropped.
      await this.store.rehash({ id: t.id, from: t.tokenHash, to: hash, pepperId: this.peppers.current.id }).catch((err: unknown) => {
        this.logger.warn('could not re-hash an api token under the current pepper', { token_id: t.id, err });
      });
    }
    return { info: apiTokenInfo(t), rehashed: stale };
  }

  private localPut(key: string, info: ApiTokenInfo, now: Date, sharedUntil?: number): void {
    if (this.local.size >= this.localMax && !this.local.has(key)) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    const until = Math.min(now.getTime() + Math.min(this.localTtlMs, info.expiresAt.getTime() - now.getTime()), sharedUntil ?? Infinity);
    if (until <= now.getTime()) return;
    this.local.set(key, { info, until });
  }
}
