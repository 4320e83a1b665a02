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

/** Persistence of challenges. */
export interface RenewalChallengeStore {
  create(c: RenewalChallenge): Promise<void>;
  /** Marks the challenge used in one conditional update; null when unknown, used or expired. */
  consume(id: string, now: Date): Promise<RenewalChallenge | null>;
}
