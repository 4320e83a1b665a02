import { field, loadConfig, parse } from '@mezite/identity';
import { commonConfigSchema } from '@mezite/platform';

/** token-service configuration: flags, then MEZITE_* environment, then file. */
export const configSchema = {
  ...commonConfigSchema('token-service', '127.0.0.1:3026'),
  redisUrl: field('REDIS_URL', parse.url, ''),
  pepper: field('MEZITE_TOKEN_PEPPER', parse.key32, undefined, '32 random bytes, base64: keys the stored hashes of every bearer secret'),
};

export type TokenServiceConfig = ReturnType<typeof loadTokenServiceConfig>;

/** Loads and validates the configuration once, at start-up. */
export function loadTokenServiceConfig(env: NodeJS.ProcessEnv = process.env) {
  return loadConfig(configSchema, { env, ...(env.MEZITE_CONFIG ? { file: env.MEZITE_CONFIG } : {}) });
}
