import { randomUUID } from 'node:crypto';
import { invalidArgument, isUuid, keyedHash, randomHex, type Clock } from '@mezite/identity';
import { JOIN_TOKEN_RANDOM_BYTES, type SubjectKind } from './join-token';
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

/** Mints and revokes one-time join tokens. */
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
    };
    await this.store.create(token);
    return { id: token.id, plaintext, expiresAt: token.expiresAt };
  }

  /** Revokes the subject's unredeemed tokens at once (token rotation, bot removal). */
  async revokeForSubject(tenantId: string, subjectId: string): Promise<number> {
    if (!isUuid(tenantId) || !isUuid(subjectId)) throw invalidArgument('tenant_id and subject_id must be UUIDs');
    return this.store.revokeForSubject(tenantId, subjectId, this.clock.now());
  }
}
