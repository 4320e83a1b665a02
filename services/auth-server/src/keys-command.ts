import { formatKeyStatus, keyStatus, systemClock } from '@mezite/identity';
import { loadAuthServerConfig } from './config';
import { PrismaSessionStore } from './store/prisma-session-store';
import { createPrismaClient } from './store/prisma';

/**
 * `mezite-keys auth-server status [--json]`: which session-pepper ids the auth-server is
 * configured with and how many live sessions are hashed under each, read with the
 * service's own configuration and database (docs/OPERATIONS.md, "Rotate"). Join tokens
 * carry no pepper id: one minted under a previous pepper works until it expires, at most
 * 7 days after it was minted. Read-only. Exit 0 with the status, 2 on usage.
 */
export async function keysCommand(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0] !== 'status') return { code: 2, out: 'usage: mezite-keys auth-server status [--json]\n' };
  const cfg = loadAuthServerConfig(env);
  const prisma = createPrismaClient(cfg.databaseUrl, 2);
  try {
    const status = keyStatus('MEZITE_SESSION_PEPPER', cfg.sessionPeppers, { sessions: await new PrismaSessionStore(prisma).countLiveByPepper(systemClock.now()) });
    const note = status.stillNeeded.length + status.droppable.length > 0 ? 'Join tokens are not counted: keep a previous pepper 7 days (the longest join-token lifetime) after it stopped being current.\n' : '';
    return { code: 0, out: json ? `${JSON.stringify({ 'auth-server': [status] })}\n` : formatKeyStatus(status) + note };
  } finally {
    await prisma.$disconnect();
  }
}
