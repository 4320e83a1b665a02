/** One audit record. No secret ever goes in here: ids and names only. */
export interface AuditEvent {
  id: string;
  tenantId: string | null;
  time: Date;
  /** `bot.create`, `bot.join`, `bot.renew`, `bot.lock`, `role.upsert`, … */
  type: string;
  /** `user:<uuid>`, `service:<uuid>`, `bot:<name>`, `anonymous`, `mezite`. */
  actor: string;
  /** `bot:<name>`, `role:<name>`, … */
  target: string;
  /** `requested`: an admin action about to run, written before it (audited-action.ts). */
  result: 'success' | 'failure' | 'requested';
  requestId: string;
  details: Record<string, string>;
}

/** Where audit records go. A failed write must fail the action (fail closed). */
export interface AuditLog {
  /** Checks the hash chain over every record (see audit-chain.ts). */
  verify?(): Promise<import('./audit-chain').ChainReport>;
  record(e: Omit<AuditEvent, 'id' | 'time'> & { time?: Date }): Promise<void>;
  list(tenantId: string, filter: { since?: Date; typePrefix?: string; requestId?: string; limit: number; before?: { time: Date; id: string } }): Promise<AuditEvent[]>;
}
