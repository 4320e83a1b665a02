import { field, parse } from '@mezite/identity';

const HOUR_MS = 3600_000;

/**
 * `MEZITE_RETENTION_MAX_AGE`: how long after they ended rows are kept, e.g. `7d`; `off`
 * turns the job off (an operator who archives or holds rows for an investigation).
 * At least 1h: a redeemed join token answers the retry of a lost join answer, and a
 * shorter age would turn that retry into a refusal. 0 means `off` is wanted or a
 * mistake, so it is refused with a message naming both.
 */
export function parseRetentionAge(raw: string): number {
  if (raw.trim().toLowerCase() === 'off') return 0;
  const ms = parse.duration(raw);
  if (ms < HOUR_MS) throw new Error(`expected a duration of at least 1h (e.g. 7d), or off; got "${raw}"`);
  return ms;
}

/** `MEZITE_RETENTION_INTERVAL`: how often a replica tries a round (one replica runs it); at least 1m. */
export function parseRetentionInterval(raw: string): number {
  const ms = parse.duration(raw);
  if (ms < 60_000) throw new Error(`expected a duration of at least 1m (e.g. 1h); got "${raw}"`);
  return ms;
}

/** The retention settings every service with a retention job reads (docs/OPERATIONS.md). */
export function retentionConfigSchema() {
  return {
    retentionMaxAgeMs: field('MEZITE_RETENTION_MAX_AGE', parseRetentionAge, 7 * 24 * HOUR_MS, 'rows that ended (expired, used, revoked) longer ago than this are deleted, audit records never; e.g. 7d; off: never'),
    retentionIntervalMs: field('MEZITE_RETENTION_INTERVAL', parseRetentionInterval, HOUR_MS, 'how often each replica tries a retention round (one replica at a time runs it); e.g. 1h'),
  };
}
