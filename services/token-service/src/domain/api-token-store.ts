import type { KeyUsage } from '@mezite/identity';
import type { ApiToken } from './api-token';
import type { ApiTokenUsage } from './api-token-usage';

/** What a successful rotation changed. */
export interface ApiTokenRotation {
  /** The rotated token, now with `rotatedAt`, `rotationDeadline` and `replacedBy` set. */
  rotated: ApiToken;
  /**
   * Tokens cut off by this rotation (their deadline set to the rotation time): the
   * rotated token's own predecessor, if it was still in its overlap. This is what
   * keeps at most two generations alive.
   */
  cutOff: ApiToken[];
}

/**
 * Persistence of API tokens (STYLE.md §4). Implemented on Prisma/PostgreSQL and in
 * memory; both pass one contract suite (`store/api-token-store.contract.ts`).
 * Rotation and revocation are single conditional statements per token (STYLE.md §5):
 * of two concurrent rotations or revocations of one token, exactly one matches.
 */
export interface ApiTokenStore {
  /** Stores a new token; AlreadyExists if the id or hash is taken. */
  create(token: ApiToken): Promise<void>;
  /** Stores new tokens in one write, all or none; AlreadyExists if any id or hash is taken. */
  createMany(tokens: readonly ApiToken[]): Promise<void>;
  /** The token with this hash, or null. */
  findByHash(tokenHash: Buffer): Promise<ApiToken | null>;
  /**
   * The token whose hash is one of `tokenHashes` (the plaintext's hash under each
   * configured pepper), in one read; null when none is. Hashes are unique across
   * peppers (HMAC-SHA256), so at most one token matches.
   */
  findByHashes(tokenHashes: readonly Buffer[]): Promise<ApiToken | null>;
  /**
   * Moves token `id` from hash `from` to hash `to` under pepper `pepperId`, in one
   * conditional statement (only while its hash is still `from`); false when another
   * replica did it first or the token is gone.
   */
  rehash(input: { id: string; from: Buffer; to: Buffer; pepperId: string }): Promise<boolean>;
  /** Tokens still working at `at`, counted by the id of the pepper their hash is under. */
  countLiveByPepper(at: Date): Promise<KeyUsage[]>;
  /** Records `pepperId` on every token without one (hashed before peppers had ids); how many. */
  stampPepper(pepperId: string): Promise<number>;
  /** The token with this id, or null. */
  findById(id: string): Promise<ApiToken | null>;
  /** The identity's tokens that work at `at` (not revoked, expired or past a rotation deadline), newest first. */
  listLive(tenantId: string, identityId: string, at: Date): Promise<ApiToken[]>;
  /**
   * In one statement: if token `id` belongs to the tenant and identity and at `at` is
   * neither rotated, revoked nor expired, sets its `rotatedAt = at`,
   * `rotationDeadline = deadline` and `replacedBy = successor.id`, stores `successor`,
   * and cuts off (deadline = `at`) the token it had itself replaced, if that one is
   * still live. Null (and nothing written) when the token did not qualify.
   */
  rotate(input: { id: string; tenantId: string; identityId: string; at: Date; deadline: Date; successor: ApiToken }): Promise<ApiTokenRotation | null>;
  /**
   * Revokes token `id` of the tenant and identity and every token after it in its
   * rotation chain (its successor, that one's successor, … to the end) at `at`; a token
   * revoked before keeps its `revokedAt`. Returns the chain from `id` on, in order and
   * every one revoked — so a retry learns again what to propagate — or null when no
   * token `id` belongs to the tenant and identity. A rotation racing with it either
   * loses (it needs its token unrevoked) or its successor is part of the chain returned.
   * Atomic per token, not across the chain: a failure midway leaves the chain's first
   * tokens revoked and rejects, and calling again completes it.
   */
  revokeChain(input: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken[] | null>;
  /** Records last uses in one write; a use older than the stored one is ignored. Unknown ids are ignored. */
  touchLastUsed(uses: ReadonlyArray<{ id: string; at: Date }>): Promise<void>;
  /**
   * Adds usage rows in one write: a row for a (token, hour, source, client) already
   * stored adds its count and widens first/last seen. A new presenter of a token and
   * hour that already has `maxPresenters` stored (`other` aside) is added to its `other`
   * row instead, so the rows stay bounded across flushes (concurrent writers may each
   * add up to the bound once). Rows of unknown tokens are ignored.
   */
  addUsage(rows: readonly ApiTokenUsage[], maxPresenters: number): Promise<void>;
  /** Token `id`'s usage rows of hours starting at or after `since`, newest hour first, most uses first. */
  listUsage(id: string, since: Date): Promise<ApiTokenUsage[]>;
  /** Retention: deletes at most `limit` usage rows last seen before `before`; how many. */
  deleteUsageBefore(before: Date, limit: number): Promise<number>;
  /**
   * In one statement: if token `id` belongs to the tenant and identity, was rotated and
   * its rotation deadline is after `at` (and it is not revoked), sets the deadline to
   * `at`. The token as updated, or null when it did not qualify.
   */
  finishRotation(input: { id: string; tenantId: string; identityId: string; at: Date }): Promise<ApiToken | null>;
  /**
   * Retention: deletes at most `limit` tokens that stopped working (expired, revoked or
   * past their rotation deadline) before `before`, and returns how many. A token that a
   * working predecessor names as its successor stays (revoking that predecessor's chain
   * must still reach it); the dead predecessors that name it forget it.
   */
  deleteExpired(before: Date, limit: number): Promise<number>;
}
