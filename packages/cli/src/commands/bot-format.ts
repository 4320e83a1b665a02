import { formatDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import { formatFields, rfc3339 } from '../output';
import { botInstanceJson, botInstanceSummaryTable } from './bot-instance-format';
import { jsonTime, lockJson, lockLine } from './lock-format';

/**
 * The most instances GetBot returns (newest first); `bots show` says when there may be
 * more, and `bots instances ls NAME` lists them all.
 */
export const BOT_INSTANCES_SHOWN = 100;

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
    last_seen_at: jsonTime(b.lastSeenTime),
    cert_expires_at: jsonTime(b.certExpireTime),
    /** 0: the server's default. */
    max_certificate_ttl_seconds: b.maxCertificateTtlSeconds,
  };
}

/** `bots show --output json`: the bot and its instances (newest first, at most 100). */
export function botDetailJson(b: authv1.Bot) {
  return { ...botJson(b), instances: b.instances.map(botInstanceJson) };
}

/** `4h`, or `server default` when the bot has no maximum of its own. */
const maxTtlText = (seconds: number) => (seconds > 0 ? formatDuration(seconds * 1000) : 'server default');

/**
 * `bots show` as aligned `key: value` lines (unset times print `-`, as in tables),
 * then, when the bot has instances, a short table of them, newest first.
 *
 * @param prog the CLI's name, for the hint when GetBot returned only the newest instances.
 */
export function formatBot(b: authv1.Bot, prog = 'mezctl'): string {
  const n = b.instances.length;
  const fields = formatFields([
    ['name', b.name],
    ['id', b.id],
    ['roles', b.roles.join(', ')],
    ['created_at', rfc3339(b.createTime)],
    ['locked', lockLine(b.lock)],
    ['generation', String(b.generation)],
    ['last_seen_at', rfc3339(b.lastSeenTime)],
    ['cert_expires_at', rfc3339(b.certExpireTime)],
    ['max_cert_ttl', maxTtlText(b.maxCertificateTtlSeconds)],
    ['instances', n >= BOT_INSTANCES_SHOWN ? `${n} newest shown (all: ${prog} bots instances ls ${b.name})` : String(n)],
  ]);
  return n === 0 ? fields : `${fields}\n${botInstanceSummaryTable(b.instances)}`;
}

/** The lines after a new join token: where it goes (seed 002, step 2). */
export function joinTokenLines(token: string, expires: Date | undefined, authServer: string): string {
  return `Join token: ${token} (expires: ${rfc3339(expires)})\n` + `\n` + `Use this token with mezd identity:\n` + `mezd identity start --auth-server=${authServer} --join-token=${token}\n`;
}
