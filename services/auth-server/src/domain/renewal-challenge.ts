/** A single-use renewal challenge, bound to the certificate that asked for it. */
export interface RenewalChallenge {
  id: string;
  /** The bot's id, or the node's for a node renewal. */
  botId: string;
  /** Whose renewal this is; `bot` when unset. */
  subjectKind?: 'bot' | 'node';
  tenantId: string;
  challenge: Buffer;
  /** The presented certificate line; its key must sign the challenge. */
  certificate: string;
  presentedGeneration: number;
  /**
   * The bot's generation when the challenge was issued: completing it may only move
   * the bot on from there (unset for nodes).
   */
  botGeneration?: number | undefined;
  expiresAt: Date;
}

import type { ExpiredRows } from './retention';

/** Persistence of challenges. Retention: a challenge ends when it expires (used or not). */
export interface RenewalChallengeStore extends ExpiredRows {
  /**
   * Stores the challenge and, in the same step, deletes the subject's unused challenges
   * that expired by `now` or that are not among its `keep - 1` newest (by expiry), so a
   * subject never holds more than `keep` unused challenges however often it asks (the
   * certificate that asks is public; docs/DECISIONS.md "Node renewal challenges are
   * bounded per node"). Concurrent creations for one subject are serialised.
   */
  create(c: RenewalChallenge, bound: { keep: number; now: Date }): Promise<void>;
  /** Marks the challenge used in one conditional update; null when unknown, used or expired. */
  consume(id: string, now: Date): Promise<RenewalChallenge | null>;
}
