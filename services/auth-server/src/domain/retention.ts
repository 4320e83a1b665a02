/**
 * A store whose rows end (expire, are used or revoked) and are of no use some time
 * after: the retention job (`@mezite/platform` RetentionJob) deletes them in batches.
 */
export interface ExpiredRows {
  /**
   * Deletes at most `limit` rows that ended before `before`; returns how many. Rows that
   * a live credential may still need are never among them (each store says which).
   */
  deleteExpired(before: Date, limit: number): Promise<number>;
}
