import { field, keyRing, loadConfig, parse } from '@mezite/identity';
import { commonConfigSchema, retentionConfigSchema } from '@mezite/platform';
import { DEFAULT_API_TOKEN_TTL_MS, DEFAULT_ROTATION_OVERLAP_MS, MAX_API_TOKEN_TTL_MS } from './domain/api-token';

/** A duration no longer than the longest API token lifetime (366 days). */
function tokenDuration(raw: string): number {
  const ms = parse.duration(raw);
  if (ms > MAX_API_TOKEN_TTL_MS) throw new Error(`at most 366d, got "${raw}"`);
  return ms;
}

/** Longest verification lease: every deletion and rotation of an API token waits this long. */
const MAX_API_TOKEN_LEASE_MS = 10_000;

/** A lease of `0` (off) to 10 s. */
function leaseDuration(raw: string): number {
  if (raw.trim() === '0') return 0;
  const ms = parse.duration(raw);
  if (ms > MAX_API_TOKEN_LEASE_MS) throw new Error(`at most 10s, got "${raw}"`);
  return ms;
}

/** token-service configuration: flags, then MEZITE_* environment, then file. */
export const configSchema = {
  ...commonConfigSchema('token-service', '127.0.0.1:3026'),
  ...retentionConfigSchema(),
  allowedCallers: field('MEZITE_ALLOWED_CALLERS', parse.list, ['auth-server'] as string[], 'client certificate names (CN) that may call this internal service'),
  redisUrl: field('REDIS_URL', parse.url, ''),
  pepper: field('MEZITE_TOKEN_PEPPER', parse.key32, undefined, '32 random bytes, base64: keys the stored hashes of API tokens and client secrets'),
  previousPeppers: field('MEZITE_TOKEN_PEPPER_PREVIOUS', parse.key32List, [] as Buffer[], 'earlier values of MEZITE_TOKEN_PEPPER, comma-separated: hashes under them still verify and are re-hashed at use'),
  rotationOverlapMs: field('MEZITE_ROTATION_OVERLAP', tokenDuration, DEFAULT_ROTATION_OVERLAP_MS, 'how long a rotated API token keeps working, e.g. 48h'),
  apiTokenTtlMs: field('MEZITE_API_TOKEN_TTL', tokenDuration, DEFAULT_API_TOKEN_TTL_MS, 'lifetime of an API token minted without one, e.g. 90d'),
  apiTokenLeaseMs: field('MEZITE_API_TOKEN_LEASE', leaseDuration, 1000, 'how long an auth-server may reuse a verified API token (0 to 10s); deleting or rotating a token waits this long before it returns'),
};

export type TokenServiceConfig = ReturnType<typeof loadTokenServiceConfig>;

/** Loads and validates the configuration once, at start-up. */
export function loadTokenServiceConfig(env: NodeJS.ProcessEnv = process.env) {
  const cfg = loadConfig(configSchema, { env, ...(env.MEZITE_CONFIG ? { file: env.MEZITE_CONFIG } : {}) });
  return { ...cfg, peppers: keyRing(cfg.pepper, cfg.previousPeppers) };
}
