import { formatDuration } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import { formatFields, formatTable, printable, rfc3339 } from '../output';
import { jsonTime, lockedColumn, lockJson, lockLine } from './lock-format';

/** The heartbeat in JSON, or null when the daemon sent none (an older mezd). */
function heartbeatJson(h: authv1.BotHeartbeat | undefined) {
  if (!h) return null;
  return {
    version: h.version,
    hostname: h.hostname,
    os: h.os,
    renewal_interval_seconds: h.renewalIntervalSeconds,
    one_shot: h.oneShot,
    destinations: h.destinations.map((d) => ({ destination: d.destination, healthy: d.healthy, error: d.error, updated_at: jsonTime(d.updateTime) })),
  };
}

/**
 * An instance as `--output json` shows it, the same shape in `bots instances ls` and
 * in `bots show`'s `instances`; `bots instances show` adds `lineage`.
 */
export function botInstanceJson(i: authv1.BotInstance) {
  return {
    id: i.id,
    bot_name: i.botName,
    generation: i.generation,
    join_method: i.joinMethod,
    created_at: jsonTime(i.createTime),
    last_renewal_at: jsonTime(i.lastRenewalTime),
    last_address: i.lastAddress,
    cert_expires_at: jsonTime(i.certExpireTime),
    locked: i.lock !== undefined,
    lock: lockJson(i.lock),
    heartbeat: heartbeatJson(i.heartbeat),
  };
}

/** `bots instances show --output json`: the instance and its lineage, oldest first. */
export function botInstanceDetailJson(i: authv1.BotInstance) {
  return {
    ...botInstanceJson(i),
    lineage: i.lineage.map((g) => ({
      generation: g.generation,
      public_key_fingerprint: g.publicKeyFingerprint,
      serial: g.serial,
      issued_at: jsonTime(g.issueTime),
      expires_at: jsonTime(g.expireTime),
      address: g.address,
    })),
  };
}

/** The columns of `bots instances ls`. */
export const BOT_INSTANCE_HEADERS = ['ID', 'BOT', 'GENERATION', 'HOSTNAME', 'VERSION', 'LAST_RENEWAL', 'ADDRESS', 'LOCKED'];

/** One row of `bots instances ls`; what the daemon reported is made printable. */
export function botInstanceRow(i: authv1.BotInstance): string[] {
  return [i.id, i.botName, String(i.generation), printable(i.heartbeat?.hostname ?? ''), printable(i.heartbeat?.version ?? ''), rfc3339(i.lastRenewalTime), printable(i.lastAddress), lockedColumn(i)];
}

/** The short instance table under `bots show`. */
export function botInstanceSummaryTable(instances: authv1.BotInstance[]): string {
  return formatTable(
    ['ID', 'GENERATION', 'HOSTNAME', 'LAST_RENEWAL', 'LOCKED'],
    instances.map((i) => [i.id, String(i.generation), printable(i.heartbeat?.hostname ?? ''), rfc3339(i.lastRenewalTime), lockedColumn(i)]),
  );
}

/** `every 20m`, `one-shot`, or '' when the daemon did not say. */
function renewalText(h: authv1.BotHeartbeat | undefined): string {
  if (!h) return '';
  if (h.oneShot) return 'one-shot';
  return h.renewalIntervalSeconds > 0 ? `every ${formatDuration(h.renewalIntervalSeconds * 1000)}` : '';
}

/**
 * One line per destination: `PATH: ok (written T)` or `PATH: failing: ERROR (last
 * written: T|never)`, as the daemon reported them after its previous write.
 */
function destinationLines(h: authv1.BotHeartbeat | undefined): string {
  return (h?.destinations ?? [])
    .map((d) => {
      const written = d.updateTime ? rfc3339(d.updateTime) : 'never';
      const state = d.healthy ? `ok (written ${written})` : `failing: ${d.error || 'no error given'} (last written: ${written})`;
      return printable(`${d.destination || '?'}: ${state}`);
    })
    .join('\n');
}

/**
 * `bots instances show`: aligned `key: value` lines (unset values print `-`), the
 * latest heartbeat among them, then the lineage as a table, oldest generation first.
 */
export function formatBotInstance(i: authv1.BotInstance): string {
  const h = i.heartbeat;
  const fields = formatFields([
    ['id', i.id],
    ['bot', i.botName],
    ['generation', String(i.generation)],
    ['join_method', i.joinMethod],
    ['created_at', rfc3339(i.createTime)],
    ['last_renewal_at', rfc3339(i.lastRenewalTime)],
    ['last_address', printable(i.lastAddress)],
    ['cert_expires_at', rfc3339(i.certExpireTime)],
    ['locked', lockLine(i.lock)],
    ['version', printable(h?.version ?? '')],
    ['hostname', printable(h?.hostname ?? '')],
    ['os', printable(h?.os ?? '')],
    ['renewal', renewalText(h)],
    ['destinations', destinationLines(h)],
  ]);
  const lineage = formatTable(
    ['GENERATION', 'KEY_FINGERPRINT', 'SERIAL', 'ISSUED', 'EXPIRES', 'ADDRESS'],
    i.lineage.map((g) => [String(g.generation), g.publicKeyFingerprint, g.serial, rfc3339(g.issueTime), rfc3339(g.expireTime), printable(g.address)]),
  );
  return `${fields}\n${lineage}`;
}
