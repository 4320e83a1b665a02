import { randomUUID } from 'node:crypto';
import { failedPrecondition, invalidArgument, isMeziteError, isUuid, keyedHash, notFound, ringOf, unavailable, type Clock, type KeyRing, type KeyUsage, type MeziteError, type PrincipalKind, generateApiToken, isApiTokenEnv } from '@mezite/identity';
import type { Logger } from '@mezite/platform';
import { apiTokenInfo, apiTokenTtlMs, DEFAULT_API_TOKEN_TTL_MS, DEFAULT_ROTATION_OVERLAP_MS, rotationOverlapMs, type ApiToken, type ApiTokenInfo } from './api-token';
import type { ApiTokenCache } from './api-token-cache';
import type { ApiTokenStore } from './api-token-store';
import { hourOf, type ApiTokenUsage } from './api-token-usage';
import type { LastUseRecorder } from './last-use-recorder';

/** Options of ApiTokenManager. */
export interface ApiTokenManagerOptions {
  store: ApiTokenStore;
  /** Where revocations and deadlines reach every replica's verifier. */
  cache: ApiTokenCache;
  clock: Clock;
  /** Server-side secret keying the stored hashes (shorthand for `peppers` without previous keys). */
  pepper?: Buffer;
  /** The current pepper, which hashes new tokens, and the previous ones (for `keyUsage` only here). */
  peppers?: KeyRing;
  logger: Logger;
  /** How long a rotated token keeps working when the request does not say; default 48 h. */
  rotationOverlapMs?: number;
  /** Lifetime of a token minted without one; default 90 days. */
  defaultTtlMs?: number;
  /**
   * How long a verification may be reused by its caller (VerifyApiTokens' `lease_ms`):
   * a deletion or rotation returns only once this long has passed since it was written,
   * so every answer given before it has expired by then. Default 0 (no reuse).
   */
  verificationLeaseMs?: number;
  /** Waits `ms` of monotonic time (tests pass a fake); default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** This replica's batched usage (flushed before usage is read, so a use just made is seen). */
  usage?: Pick<LastUseRecorder, 'flush'>;
  /** How long after its last use an old token's rotation may be finished without `force`; default 10 min. */
  finishQuietMs?: number;
  /** How far back usage is kept and shown; default 7 days. */
  usageWindowMs?: number;
}

/** A token with who presented it in the last hour (for a token in its rotation overlap). */
export type ApiTokenListing = ApiTokenInfo & { recentUsers?: ApiTokenUsage[] };

/** Waits at least `ms` of monotonic time (a timer may fire a little early). */
async function sleepAtLeast(ms: number): Promise<void> {
  const until = performance.now() + ms;
  for (let left = ms; left > 0; left = until - performance.now()) await new Promise((r) => setTimeout(r, Math.ceil(left)));
}

/** What to mint: for whom, in which environment, for how long (`ttlSeconds` 0: the default). */
export interface MintInput {
  tenantId: string;
  identityKind: string;
  identityId: string;
  env: string;
  ttlSeconds: number;
}

/** A token just issued: the plaintext exists only in this value. */
export interface IssuedApiToken {
  plaintext: string;
  token: ApiTokenInfo;
}

/** Slack on cache markers beyond the token's expiry, so no marker expires before a cached copy of its token. */
const MARKER_SLACK_MS = 5 * 60_000;

/**
 * Mints, lists, rotates and revokes API tokens (seed 000). Rotation overlaps rather
 * than cuts over: the old token works until its rotation deadline, and at most two
 * generations are ever alive. Rotation and revocation reach every replica's verifier
 * through the shared cache before they return.
 *
 * Who may call what (a caller holding an API token may rotate only that token, and
 * mint none) is the auth-server's decision; this manager checks ownership of the
 * token named.
 */
export class ApiTokenManager {
  private readonly store: ApiTokenStore;
  private readonly cache: ApiTokenCache;
  private readonly clock: Clock;
  private readonly peppers: KeyRing;
  private readonly logger: Logger;
  private readonly overlapMs: number;
  private readonly defaultTtlMs: number;
  private readonly leaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly usageRecorder: Pick<LastUseRecorder, 'flush'> | undefined;
  private readonly finishQuietMs: number;
  private readonly usageWindowMs: number;

  constructor(opts: ApiTokenManagerOptions) {
    if (!opts.store || !opts.cache || !opts.clock || !opts.logger) throw new Error('ApiTokenManager: store, cache, clock and logger are required');
    this.peppers = ringOf(opts, 'ApiTokenManager');
    this.store = opts.store;
    this.cache = opts.cache;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.overlapMs = opts.rotationOverlapMs ?? DEFAULT_ROTATION_OVERLAP_MS;
    this.defaultTtlMs = opts.defaultTtlMs ?? DEFAULT_API_TOKEN_TTL_MS;
    this.leaseMs = opts.verificationLeaseMs ?? 0;
    this.sleep = opts.sleep ?? sleepAtLeast;
    this.usageRecorder = opts.usage;
    this.finishQuietMs = opts.finishQuietMs ?? 10 * 60_000;
    this.usageWindowMs = opts.usageWindowMs ?? 7 * 86_400_000;
  }

  /**
   * Lets every verification lease granted before a change written now expire (see
   * verificationLeaseMs), less `coveredMs`: a change that takes effect only that far in
   * the future (a rotation deadline) needs no lease to have run out before then.
   */
  private async outlastLeases(coveredMs = 0): Promise<void> {
    const wait = this.leaseMs - Math.max(0, coveredMs);
    if (wait > 0) await this.sleep(wait);
  }

  /** Issues a token for an identity; `ttlSeconds` 0 means the default lifetime. */
  async mint(input: MintInput): Promise<IssuedApiToken> {
    const { token, plaintext } = this.prepare(input, this.clock.now());
    await this.store.create(token);
    return { plaintext, token: apiTokenInfo(token) };
  }

  /**
   * `mint` for several identities with one write: each answer is the token or that
   * input's own InvalidArgument; a write that fails rejects them all (nothing stored).
   */
  async mintMany(inputs: readonly MintInput[]): Promise<Array<IssuedApiToken | MeziteError>> {
    const now = this.clock.now();
    const made: ApiToken[] = [];
    const results = inputs.map((input): IssuedApiToken | MeziteError => {
      try {
        const { token, plaintext } = this.prepare(input, now);
        made.push(token);
        return { plaintext, token: apiTokenInfo(token) };
      } catch (err) {
        if (!isMeziteError(err)) throw err;
        return err;
      }
    });
    if (made.length > 0) await this.store.createMany(made);
    return results;
  }

  /** Checks a mint request and makes its token (not stored yet). */
  private prepare(input: MintInput, now: Date): { token: ApiToken; plaintext: string } {
    if (!isUuid(input.tenantId)) throw invalidArgument('tenant_id must be a UUID');
    if (!isUuid(input.identityId)) throw invalidArgument('identity_id must be a UUID');
    if (input.identityKind !== 'user' && input.identityKind !== 'service') throw invalidArgument('identity_kind must be user or service');
    if (!isApiTokenEnv(input.env)) throw invalidArgument('env_prefix must be live or dev');
    const ttlMs = apiTokenTtlMs(input.ttlSeconds, this.defaultTtlMs);
    return this.newToken({ tenantId: input.tenantId, identityKind: input.identityKind, identityId: input.identityId, env: input.env }, now, new Date(now.getTime() + ttlMs));
  }

  /**
   * The identity's working tokens, newest first; a token in its rotation overlap comes
   * with who presented it in the last hour (`recentUsers`).
   */
  async list(tenantId: string, identityId: string): Promise<ApiTokenListing[]> {
    if (!isUuid(tenantId) || !isUuid(identityId)) throw invalidArgument('tenant_id and identity_id must be UUIDs');
    const now = this.clock.now();
    const live = (await this.store.listLive(tenantId, identityId, now)).map(apiTokenInfo);
    if (!live.some((t) => t.rotatedAt)) return live;
    await this.usageRecorder?.flush();
    return Promise.all(live.map(async (t): Promise<ApiTokenListing> => (t.rotatedAt ? { ...t, recentUsers: await this.recentUsers(t.id, now, 3_600_000) } : t)));
  }

  /** Who presented token `id` within `withinMs` before `now`, most uses first (hours merged per presenter). */
  private async recentUsers(id: string, now: Date, withinMs: number): Promise<ApiTokenUsage[]> {
    const since = new Date(now.getTime() - withinMs);
    const rows = (await this.store.listUsage(id, hourOf(since))).filter((u) => u.lastSeen >= since);
    const by = new Map<string, ApiTokenUsage>();
    for (const u of rows) {
      const k = `${u.source}\n${u.client}`;
      const e = by.get(k);
      if (!e) by.set(k, { ...u });
      else {
        e.count += u.count;
        if (u.firstSeen < e.firstSeen) e.firstSeen = u.firstSeen;
        if (u.lastSeen > e.lastSeen) e.lastSeen = u.lastSeen;
        if (u.hour > e.hour) e.hour = u.hour;
      }
    }
    return [...by.values()].sort((a, b) => b.count - a.count || a.source.localeCompare(b.source));
  }

  /**
   * Who presented token `id` of the tenant and identity, per hour and presenter, over
   * the usage window (newest hour first), with its last use. NotFound for a token that
   * is not theirs. Pending uses of this replica are written first.
   */
  async usage(input: { tenantId: string; identityId: string; id: string }): Promise<{ token: ApiTokenInfo; usage: ApiTokenUsage[] }> {
    this.checkIds(input);
    const t = await this.owned(input);
    await this.usageRecorder?.flush();
    const since = hourOf(new Date(this.clock.now().getTime() - this.usageWindowMs));
    const fresh = (await this.store.findById(t.id)) ?? t;
    return { token: apiTokenInfo(fresh), usage: await this.store.listUsage(t.id, since) };
  }

  /**
   * Ends rotated token `id`'s overlap now: it stops working on every replica before this
   * returns (as a deletion does: the deadline is shared, every cached copy dropped, every
   * lease outlasted). FailedPrecondition while it was presented within the quiet period
   * (finishQuietMs), unless `force`, and for a token not in an overlap. `presentedTokenId`,
   * for a caller holding an API token, must be the old token or its successor.
   */
  async finishRotation(input: { tenantId: string; identityId: string; id: string; force: boolean; presentedTokenId?: string }): Promise<ApiTokenInfo> {
    this.checkIds(input);
    const t = await this.owned(input);
    const now = this.clock.now();
    if (input.presentedTokenId !== undefined && input.presentedTokenId !== t.id && input.presentedTokenId !== t.replacedBy) throw notFound('api token not found');
    if (t.revokedAt || !t.rotatedAt || !t.rotationDeadline || t.rotationDeadline <= now) throw failedPrecondition('api token is not in a rotation overlap');
    if (!input.force) {
      await this.usageRecorder?.flush();
      const recent = await this.recentUsers(t.id, now, this.finishQuietMs);
      const top = recent[0];
      if (top) {
        const n = recent.reduce((a, u) => a + u.count, 0);
        throw failedPrecondition(`the old token was used ${n} times in the last ${Math.round(this.finishQuietMs / 60_000)} minutes, most from ${top.source}${top.client ? ` (${top.client})` : ''}; use --force to finish anyway`);
      }
    }
    const done = await this.store.finishRotation({ id: t.id, tenantId: input.tenantId, identityId: input.identityId, at: now });
    if (!done) throw failedPrecondition('api token changed concurrently; retry');
    const key = done.tokenHash.toString('hex');
    try {
      await this.cache.markDeadline(key, now, this.keepMs(done, now));
      await this.cache.invalidate(key);
    } catch (err) {
      await this.outlastLeases();
      throw unavailable('the rotation is finished, but not every replica could be told yet; retry', { cause: err });
    }
    await this.outlastLeases();
    return apiTokenInfo(done);
  }

  /**
   * Issues a successor to token `id` that expires when token `id` does: rotation
   * renews the plaintext, never the lifetime, so a lineage ends at its first token's
   * expiry however often it is rotated (issue 14: a leaked token rotated daily lived
   * forever). The old token keeps working until `rotationDeadline` (now + overlap, at
   * most its expiry). Rotating a token that itself replaced one still in its overlap cuts
   * that one off now. A token rotated (or revoked, or expired) already is
   * FailedPrecondition: of concurrent rotations exactly one wins. Returns once every
   * verification lease granted before the new deadlines were shared would have expired
   * by the first of them (at once, unless one is closer than a lease).
   */
  async rotate(input: { tenantId: string; identityId: string; id: string; overlapSeconds: number }): Promise<IssuedApiToken & { rotationDeadline: Date }> {
    this.checkIds(input);
    const overlapMs = rotationOverlapMs(input.overlapSeconds, this.overlapMs);
    const old = await this.owned(input);
    const now = this.clock.now();
    const { token, plaintext } = this.newToken(old, now, old.expiresAt);
    const deadline = new Date(Math.min(now.getTime() + overlapMs, old.expiresAt.getTime()));
    const r = await this.store.rotate({ id: old.id, tenantId: input.tenantId, identityId: input.identityId, at: now, deadline, successor: token });
    if (!r) throw await this.whyNotRotated(input, now);

    // The plaintext must reach the caller whatever happens now; a replica that misses
    // the new deadline keeps its cached copy for at most the cache TTLs.
    const propagate = [r.rotated, ...r.cutOff].map(async (t) => {
      const key = t.tokenHash.toString('hex');
      await this.cache.markDeadline(key, t.rotationDeadline ?? now, this.keepMs(t, now));
      await this.cache.invalidate(key);
    });
    const settled = await Promise.allSettled(propagate);
    // Counted from when verifiers can see the new deadlines; only a deadline closer than
    // a lease (a predecessor cut off now, a short overlap) needs the wait.
    const firstDeadline = Math.min(...[r.rotated, ...r.cutOff].map((t) => (t.rotationDeadline ?? now).getTime()));
    await this.outlastLeases(firstDeadline - this.clock.now().getTime());
    for (const res of settled) {
      if (res.status === 'rejected') this.logger.warn('api token rotation deadline not propagated to the cache', { token_id: old.id, err: res.reason });
    }
    return { plaintext, token: apiTokenInfo(token), rotationDeadline: deadline };
  }

  /**
   * Revokes token `id` and every successor rotation gave it (the chain after it: a
   * leaked token that rotated itself dies with the token it came from) and, before
   * returning, marks each revoked in the shared cache, tells every replica to drop its
   * cached copies and outlasts every verification lease granted before. Returns the ids
   * revoked, `id` first. Idempotent: deleting a revoked token repeats the propagation
   * for its whole chain, so a retry after Unavailable completes it. Unavailable when the
   * cache cannot be reached: the tokens are revoked in the database, but a replica might
   * still accept one from its cache, so retry.
   */
  async delete(input: { tenantId: string; identityId: string; id: string }): Promise<string[]> {
    this.checkIds(input);
    const now = this.clock.now();
    const chain = await this.store.revokeChain({ ...input, at: now });
    if (!chain) throw notFound('api token not found');
    if (chain.some((t) => !t.revokedAt) || chain[chain.length - 1]?.replacedBy) throw failedPrecondition('api token changed concurrently; retry');
    const settled = await Promise.allSettled(
      chain.map(async (t) => {
        const key = t.tokenHash.toString('hex');
        await this.cache.markRevoked(key, this.keepMs(t, now));
        await this.cache.invalidate(key);
      }),
    );
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      await this.outlastLeases();
      throw unavailable('the api token is revoked, but not every replica could be told yet; retry the deletion', { cause: failed.reason });
    }
    // Counted from when every verifier refuses the tokens (their state is in the cache).
    await this.outlastLeases();
    return chain.map((t) => t.id);
  }

  private newToken(of: { tenantId: string; identityKind: PrincipalKind; identityId: string; env: ApiToken['env'] }, now: Date, expiresAt: Date): { token: ApiToken; plaintext: string } {
    const plaintext = generateApiToken(of.env);
    const token: ApiToken = {
      id: randomUUID(),
      tenantId: of.tenantId,
      identityKind: of.identityKind,
      identityId: of.identityId,
      env: of.env,
      tokenHash: keyedHash(this.peppers.current.key, plaintext),
      pepperId: this.peppers.current.id,
      createdAt: now,
      expiresAt,
      lastUsedAt: null,
      rotatedAt: null,
      rotationDeadline: null,
      revokedAt: null,
      replacedBy: null,
    };
    return { token, plaintext };
  }

  /** Live tokens counted by the pepper their hash is under (for `keys status`). */
  keyUsage(): Promise<KeyUsage[]> {
    return this.store.countLiveByPepper(this.clock.now());
  }

  private checkIds(input: { tenantId: string; identityId: string; id: string }): void {
    if (!isUuid(input.tenantId) || !isUuid(input.identityId)) throw invalidArgument('tenant_id and identity_id must be UUIDs');
    if (!isUuid(input.id)) throw invalidArgument('id must be a UUID');
  }

  /** The token, if it belongs to the tenant and identity; NotFound otherwise (a foreign token is not admitted to exist). */
  private async owned(input: { tenantId: string; identityId: string; id: string }): Promise<ApiToken> {
    const t = await this.store.findById(input.id);
    if (!t || t.tenantId !== input.tenantId || t.identityId !== input.identityId) throw notFound('api token not found');
    return t;
  }

  /** The error for a rotation the store refused (read only to word the error; the store decided). */
  private async whyNotRotated(input: { tenantId: string; identityId: string; id: string }, now: Date): Promise<Error> {
    const t = await this.owned(input);
    if (t.revokedAt) return failedPrecondition('api token is revoked');
    if (t.rotatedAt) return failedPrecondition('api token was already rotated; rotate its successor');
    if (t.expiresAt <= now) return failedPrecondition('api token has expired');
    return failedPrecondition('api token changed concurrently; retry');
  }

  /** How long a cache marker about `t` must live: until it expires anyway. */
  private keepMs(t: ApiToken, now: Date): number {
    return Math.max(t.expiresAt.getTime() - now.getTime(), 0) + MARKER_SLACK_MS;
  }
}
