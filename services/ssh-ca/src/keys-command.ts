import { formatKeyStatus, keyStatus } from '@mezite/identity';
import { loadSshCaConfig } from './config';
import { PrismaCertAuthorityStore } from './store/prisma-cert-authority-store';
import { createPrismaClient } from './store/prisma';

/**
 * `mezite-keys ssh-ca status [--json]`: which key-encryption key ids ssh-ca is configured
 * with and how many CA keys (retired ones too) are sealed under each, read with the
 * service's own configuration and database (docs/OPERATIONS.md, "Rotate"). ssh-ca
 * re-wraps every key under the current KEK when it starts, so once every replica has
 * restarted a previous KEK shows no keys and can be removed. Read-only.
 */
export async function keysCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0] !== 'status') return { code: 2, out: 'usage: mezite-keys ssh-ca status [--json]\n' };
  const cfg = loadSshCaConfig(env);
  const prisma = createPrismaClient(cfg.databaseUrl, 2);
  try {
    const status = keyStatus('MEZITE_CA_KEK', cfg.keks, { ca_keys: await new PrismaCertAuthorityStore(prisma).countByKek() });
    return { code: 0, out: json ? `${JSON.stringify({ 'ssh-ca': [status] })}\n` : formatKeyStatus(status) };
  } finally {
    await prisma.$disconnect();
  }
}
