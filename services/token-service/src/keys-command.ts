import { formatKeyStatus, keyStatus, systemClock, type KeyStatus } from '@mezite/identity';
import { loadTokenServiceConfig } from './config';
import { PrismaApiTokenStore } from './store/prisma-api-token-store';
import { PrismaClientSecretStore } from './store/prisma-client-secret-store';
import { createPrismaClient } from './store/prisma';

/**
 * `mezite-keys token-service status [--json]`: which pepper ids token-service is
 * configured with and how many live API tokens and client secrets are hashed under each,
 * read with the service's own configuration and database (docs/OPERATIONS.md, "Rotate").
 * Read-only. Exit 0 with the status, 2 on usage; a configuration or database error rejects.
 */
export async function keysCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0] !== 'status') return { code: 2, out: 'usage: mezite-keys token-service status [--json]\n' };
  const cfg = loadTokenServiceConfig(env);
  const prisma = createPrismaClient(cfg.databaseUrl, 2);
  try {
    const status: KeyStatus = keyStatus('MEZITE_TOKEN_PEPPER', cfg.peppers, {
      api_tokens: await new PrismaApiTokenStore(prisma).countLiveByPepper(systemClock.now()),
      client_secrets: await new PrismaClientSecretStore(prisma).countByPepper(),
    });
    return { code: 0, out: json ? `${JSON.stringify({ 'token-service': [status] })}\n` : formatKeyStatus(status) };
  } finally {
    await prisma.$disconnect();
  }
}
