import { randomUUID } from 'node:crypto';
import { failedPrecondition, invalidArgument, isUuid, keyedHash, randomHex, unauthenticated, type Clock } from '@mezite/identity';
import { claimTtlMs, JOIN_TOKEN_PATTERN, JOIN_TOKEN_RANDOM_BYTES, type JoinClaim, type SubjectKind } from './join-token';
import type { JoinTokenStore } from './join-token-store';

/** The longest a join token may live: long enough for a slow rollout, short enough to leak little. */
export const MAX_JOIN_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

/** Options of JoinTokenManager. */
export interface JoinTokenManagerOptions {
  store: JoinTokenStore;
  clock: Clock;
  /** Server-side secret keying the stored hashes. */
  pepper: Buffer;
}

/** A freshly minted token: the plaintext exists only in this value. */
export interface MintedJoinToken {
  id: string;
  plaintext: string;
  expiresAt: Date;
}

/**
 * The one error for every join token that cannot be claimed: unknown, malformed,
 * expired, used, revoked or held by another attempt look the same to a caller, so
 * the answer tells a guesser nothing.
 */
const INVALID_JOIN_TOKEN = 'invalid join token';

/**
 * Mints, revokes and redeems one-time join tokens. Redemption is claim → (sign the
 * certificate) → confirm, or release on failure: exactly one attempt wins a token,
 * and a token is never consumed without a certificate.
 */
export class JoinTokenManager {
  private readonly store: JoinTokenStore;
  private readonly clock: Clock;
  private readonly pepper: Buffer;

  constructor(opts: JoinTokenManagerOptions) {
    if (!opts.store || !opts.clock) throw new Error('JoinTokenManager: store and clock are required');
    if (!opts.pepper || opts.pepper.length < 32) throw new Error('JoinTokenManager: a pepper of at least 32 bytes is required');
    this.store = opts.store;
    this.clock = opts.clock;
    this.pepper = opts.pepper;
  }

  /** Mints a token for a subject; the plaintext is returned once and not stored. */
  async create(input: { tenantId: string; subjectKind: SubjectKind; subjectId: string; ttlMs: number }): Promise<MintedJoinToken> {
    if (!isUuid(input.tenantId)) throw invalidArgument('tenant_id must be a UUID');
    if (!isUuid(input.subjectId)) throw invalidArgument('subject_id must be a UUID');
    if (!Number.isFinite(input.ttlMs) || input.ttlMs < 1000 || input.ttlMs > MAX_JOIN_TOKEN_TTL_MS) {
      throw invalidArgument('join token TTL must be between 1s and 7d');
    }
    const plaintext = `tok-${input.subjectKind}-${randomHex(JOIN_TOKEN_RANDOM_BYTES)}`;
    const now = this.clock.now();
    const token = {
      id: randomUUID(),
      tenantId: input.tenantId,
      subjectKind: input.subjectKind,
      subjectId: input.subjectId,
      tokenHash: keyedHash(this.pepper, plaintext),
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.ttlMs),
      redeemedAt: null,
      revokedAt: null,
      claimId: null,
      claimedUntil: null,
    };
    await this.store.create(token);
    return { id: token.id, plaintext, expiresAt: token.expiresAt };
  }

  /** Revokes the subject's unredeemed tokens at once (token rotation, bot removal). */
  async revokeForSubject(tenantId: string, subjectId: string): Promise<number> {
    if (!isUuid(tenantId) || !isUuid(subjectId)) throw invalidArgument('tenant_id and subject_id must be UUIDs');
    return this.store.revokeForSubject(tenantId, subjectId, this.clock.now());
  }

  /**
   * Reserves the token for one join attempt for `claimTtlSeconds` (0: the default
   * 60 s; clamped to 300 s, see `claimTtlMs()`).
   * Unknown, malformed, expired, used, revoked and currently claimed tokens all get
   * the same Unauthenticated `invalid join token`; a malformed one is refused
   * without a store lookup.
   */
  async claim(input: { plaintext: string; claimTtlSeconds: number }): Promise<JoinClaim> {
    const ttlMs = claimTtlMs(input.claimTtlSeconds);
    if (!JOIN_TOKEN_PATTERN.test(input.plaintext)) throw unauthenticated(INVALID_JOIN_TOKEN);
    const at = this.clock.now();
    const claimId = randomUUID();
    const t = await this.store.claim(keyedHash(this.pepper, input.plaintext), { claimId, at, until: new Date(at.getTime() + ttlMs) });
    if (!t || !t.claimedUntil) throw unauthenticated(INVALID_JOIN_TOKEN);
    return { claimId, tokenId: t.id, tenantId: t.tenantId, subjectKind: t.subjectKind, subjectId: t.subjectId, claimedUntil: t.claimedUntil };
  }

  /**
   * Marks the claimed token redeemed: call once the certificate is signed. Refused
   * (FailedPrecondition) when the claim no longer holds the token: it expired and
   * another attempt claimed it, or the token was revoked meanwhile. The caller then
   * discards the certificate.
   */
  async confirm(claimId: string): Promise<void> {
    if (!isUuid(claimId)) throw invalidArgument('claim_id must be a UUID');
    if (!(await this.store.confirm(claimId, this.clock.now()))) throw failedPrecondition('the join token claim no longer holds the token');
  }

  /**
   * Gives the claimed token back after a failed join so it can be used again.
   * Idempotent: returns false (not an error) when the claim holds nothing any more.
   */
  async release(claimId: string): Promise<boolean> {
    if (!isUuid(claimId)) throw invalidArgument('claim_id must be a UUID');
    return this.store.release(claimId);
  }
}
