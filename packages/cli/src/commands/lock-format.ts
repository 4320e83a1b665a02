import type { authv1 } from '@mezite/proto';
import { rfc3339 } from '../output';

/** RFC 3339, or null when the time is unset (JSON's "never happened"). */
export const jsonTime = (d: Date | undefined) => (d ? rfc3339(d) : null);

/** A lock (of a bot or of one of its instances) in JSON, or null when there is none. */
export function lockJson(l: authv1.Lock | undefined) {
  return l ? { reason: l.reason, locked_by: l.lockedBy, created_at: jsonTime(l.createTime), expires_at: jsonTime(l.expireTime) } : null;
}

/** The LOCKED column of `bots ls` and `bots instances ls`: `yes` or `no`. */
export const lockedColumn = (x: { lock: authv1.Lock | undefined }) => (x.lock ? 'yes' : 'no');

/**
 * The `locked:` line of `bots show` and `bots instances show`: `no`, or `yes` with the
 * reason (quoted, since it is free text), when the lock lifts and who set it.
 */
export function lockLine(l: authv1.Lock | undefined): string {
  if (!l) return 'no';
  const parts = [...(l.reason ? [`reason: ${JSON.stringify(l.reason)}`] : []), `expires: ${l.expireTime ? rfc3339(l.expireTime) : 'never'}`, ...(l.lockedBy ? [`locked_by: ${l.lockedBy}`] : [])];
  return `yes (${parts.join(', ')})`;
}
