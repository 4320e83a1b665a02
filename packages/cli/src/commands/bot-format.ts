import type { authv1 } from '@mezite/proto';
import { rfc3339 } from '../output';

/** RFC 3339, or null when the time is unset (JSON's "never happened"). */
const time = (d: Date | undefined) => (d ? rfc3339(d) : null);

/** A bot's lock in JSON, or null when it is not locked. */
function lockJson(l: authv1.Lock | undefined) {
  return l ? { reason: l.reason, locked_by: l.lockedBy, created_at: time(l.createTime), expires_at: time(l.expireTime) } : null;
}

/** A bot as `--output json` shows it; the same shape in `ls`, `show`, `add`, `lock` and `unlock`. */
export function botJson(b: authv1.Bot) {
  return {
    id: b.id,
    name: b.name,
    roles: b.roles,
    created_at: rfc3339(b.createTime),
    locked: b.lock !== undefined,
    lock: lockJson(b.lock),
    generation: b.generation,
    last_seen_at: time(b.lastSeenTime),
    cert_expires_at: time(b.certExpireTime),
  };
}

/** The LOCKED column of `bots ls`. */
export const lockedColumn = (b: authv1.Bot) => (b.lock ? 'yes' : 'no');

/**
 * The `locked:` line of `bots show`: `no`, or `yes` with the reason (quoted, since it
 * is free text), when the lock lifts and who set it.
 */
export function lockLine(l: authv1.Lock | undefined): string {
  if (!l) return 'no';
  const parts = [...(l.reason ? [`reason: ${JSON.stringify(l.reason)}`] : []), `expires: ${l.expireTime ? rfc3339(l.expireTime) : 'never'}`, ...(l.lockedBy ? [`locked_by: ${l.lockedBy}`] : [])];
  return `yes (${parts.join(', ')})`;
}

/** `bots show` as aligned `key: value` lines; unset times print `-`, as in tables. */
export function formatBot(b: authv1.Bot): string {
  const rows: Array<[string, string]> = [
    ['name', b.name],
    ['id', b.id],
    ['roles', b.roles.join(', ')],
    ['created_at', rfc3339(b.createTime)],
    ['locked', lockLine(b.lock)],
    ['generation', String(b.generation)],
    ['last_seen_at', rfc3339(b.lastSeenTime)],
    ['cert_expires_at', rfc3339(b.certExpireTime)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 3;
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v || '-'}\n`).join('');
}

/** The lines after a new join token: where it goes (seed 002, step 2). */
export function joinTokenLines(token: string, expires: Date | undefined, authServer: string): string {
  return `Join token: ${token} (expires: ${rfc3339(expires)})\n` + `\n` + `Use this token with mezd identity:\n` + `mezd identity start --auth-server=${authServer} --join-token=${token}\n`;
}
