import { randomUUID } from 'node:crypto';
import { allKeys, invalidArgument, isUuid, keyedHash, randomHex, ringOf, type Clock, type KeyRing } from '@mezite/identity';
import type { BotInstance, LineageStep } from './bot-instance';
import type { ExpiredRows } from './retention';

/** What a join token bootstraps; also the token's visible prefix (`tok-bot-…`). */
export type SubjectKind = 'bot' | 'node';

/** A stored join token. The plaintext is never stored: only `tokenHash`. */
export interface JoinToken {
  id: string;
  tenantId: string;
  subjectKind: SubjectKind;
  subjectId: string;
  /** HMAC-SHA256 of the plaintext under the join-token key. */
  tokenHash: Buffer;
  createdAt: Date;
  expiresAt: Date;
  redeemedAt: Date | null;
  revokedAt: Date | null;
  /** The bot instance its redemption created. */
  instanceId: string | null;
}

/**
 * What a join writes, inside the transaction that redeems its token: the writes commit
 * together with the redemption or not at all.
 */
export interface JoinWrites {
  /** Stores a bot's new instance at generation 1 with its first step (and names it on the token). */
  createInstance(instance: BotInstance, first: LineageStep): Promise<void>;
  /** Records a node's join: its host key (AlreadyExists if another node has it) and certificate. */
  enrollNode(tenantId: string, id: string, j: { hostPublicKey: string; hostKeyFingerprint: string; at: Date; certExpiresAt: Date }): Promise<void>;
}

/** Persistence of join tokens (STYLE.md §4): PostgreSQL and memory pass one contract suite. */
/**
 * Retention: a token ends when it is redeemed, revoked or expires, whichever is first
 * (a retried join of a lost answer needs the redeemed token only for moments).
 */
export interface JoinTokenStore extends ExpiredRows {
  /** Stores a new token; AlreadyExists if the id or hash is taken. */
  create(token: JoinToken): Promise<void>;
  /** Revokes every unredeemed, unrevoked token of the subject in one statement; how many. */
  revokeForSubject(tenantId: string, subjectId: string, at: Date): Promise<number>;
  findByHash(tokenHash: Buffer): Promise<JoinToken | null>;
  /** The token whose hash is one of `tokenHashes` (one per configured pepper), in one read; null when none is. */
  findByHashes(tokenHashes: readonly Buffer[]): Promise<JoinToken | null>;
  /**
   * Redeems the token with this hash if at `at` it is unredeemed, unrevoked and unexpired
   * (one conditional statement; concurrent attempts wait on the row and exactly one
   * matches), then runs `work` in the same transaction: the redemption and every write
   * `work` makes through `writes` commit when `work` resolves, and roll back when it
   * throws. Null, running nothing, when the token cannot be redeemed.
   */
  redeem<T>(tokenHash: Buffer, at: Date, work: (token: JoinToken, writes: JoinWrites) => Promise<T>): Promise<T | null>;
}

/** 16 random bytes: 128 bits of entropy. */
export const JOIN_TOKEN_RANDOM_BYTES = 16;
/** The plaintext's shape: `tok-<kind>-` and 32 lower-case hex digits. */
export const JOIN_TOKEN_PATTERN = /^tok-(bot|node)-[0-9a-f]{32}$/;
/** The longest a join token may live: long enough for a slow rollout, short enough to leak little. */
export const MAX_JOIN_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * The key for join-token hashes, derived from the auth-server's pepper with a label, so
 * one secret serves sessions and join tokens without a hash of one ever matching the other.
 */
export function joinTokenKey(pepper: Buffer): Buffer {
  return keyedHash(pepper, 'mezite join-token key v1');
}

/**
 * Mints and revokes one-time join tokens; redemption is the join managers' (JoinTokenStore.redeem).
 * Tokens are hashed under the key derived from the current session pepper; one minted
 * under a previous pepper is still found (`storedHash`) until that pepper is dropped. A
 * token is used once and lives at most 7 days, so it is not re-hashed.
 */
export class JoinTokens {
  private readonly key: Buffer;
  private readonly previousKeys: Buffer[];

  constructor(private readonly o: { store: JoinTokenStore; clock: Clock; pepper?: Buffer; peppers?: KeyRing }) {
    if (!o.store || !o.clock) throw new Error('JoinTokens: store and clock are required');
    const ring = ringOf(o, 'JoinTokens');
    [this.key, ...this.previousKeys] = allKeys(ring).map((k) => joinTokenKey(k.key)) as [Buffer, ...Buffer[]];
  }

  /** The hash a plaintext is stored under when minted now. */
  hash(plaintext: string): Buffer {
    return keyedHash(this.key, plaintext);
  }

  /**
   * The hash the plaintext's token is stored under: its hash under the current pepper,
   * unless previous peppers are configured and the token was minted under one of them
   * (one read for all). What the join managers redeem by.
   */
  async storedHash(plaintext: string): Promise<Buffer> {
    const current = this.hash(plaintext);
    if (this.previousKeys.length === 0) return current;
    const t = await this.o.store.findByHashes([current, ...this.previousKeys.map((k) => keyedHash(k, plaintext))]);
    return t ? t.tokenHash : current;
  }

  /** Mints a token for a subject; the plaintext is returned once and not stored. */
  async create(input: { tenantId: string; subjectKind: SubjectKind; subjectId: string; ttlMs: number }): Promise<{ id: string; plaintext: string; expiresAt: Date }> {
    if (!isUuid(input.tenantId) || !isUuid(input.subjectId)) throw invalidArgument('tenant and subject must be UUIDs');
    if (!Number.isFinite(input.ttlMs) || input.ttlMs < 1000 || input.ttlMs > MAX_JOIN_TOKEN_TTL_MS) throw invalidArgument('join token TTL must be between 1s and 7d');
    const plaintext = `tok-${input.subjectKind}-${randomHex(JOIN_TOKEN_RANDOM_BYTES)}`;
    const now = this.o.clock.now();
    const token: JoinToken = {
      id: randomUUID(),
      tenantId: input.tenantId,
      subjectKind: input.subjectKind,
      subjectId: input.subjectId,
      tokenHash: this.hash(plaintext),
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.ttlMs),
      redeemedAt: null,
      revokedAt: null,
      instanceId: null,
    };
    await this.o.store.create(token);
    return { id: token.id, plaintext, expiresAt: token.expiresAt };
  }

  /** Revokes the subject's unredeemed tokens (token rotation, removal). */
  revokeForSubject(input: { tenantId: string; subjectId: string }): Promise<number> {
    return this.o.store.revokeForSubject(input.tenantId, input.subjectId, this.o.clock.now());
  }
}
