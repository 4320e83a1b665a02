import { field, keyRing, loadConfig, parse } from '@mezite/identity';
import { commonConfigSchema } from '@mezite/platform';
import type { CaAlgorithm } from './domain/cert-authority';

const algorithm = (raw: string): CaAlgorithm => {
  if (raw !== 'ecdsa-p256' && raw !== 'ed25519') throw new Error(`expected ecdsa-p256 or ed25519, got "${raw}"`);
  return raw;
};

/** ssh-ca configuration: flags, then MEZITE_* environment, then file. */
export const configSchema = {
  ...commonConfigSchema('ssh-ca', '127.0.0.1:3027'),
  allowedCallers: field('MEZITE_ALLOWED_CALLERS', parse.list, ['auth-server'] as string[], 'client certificate names (CN) that may call this internal service'),
  kek: field('MEZITE_CA_KEK', parse.key32, undefined, '32 random bytes, base64: encrypts CA private keys at rest'),
  previousKeks: field('MEZITE_CA_KEK_PREVIOUS', parse.key32List, [] as Buffer[], 'earlier values of MEZITE_CA_KEK, comma-separated: CA keys sealed under them are re-wrapped under MEZITE_CA_KEK at start'),
  algorithm: field('MEZITE_CA_ALGORITHM', algorithm, 'ecdsa-p256' as CaAlgorithm),
};

/** Loads and validates the configuration once, at start-up. */
export function loadSshCaConfig(env: NodeJS.ProcessEnv = process.env) {
  const cfg = loadConfig(configSchema, { env, ...(env.MEZITE_CONFIG ? { file: env.MEZITE_CONFIG } : {}) });
  return { ...cfg, keks: keyRing(cfg.kek, cfg.previousKeks) };
}
