import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FakeClock, keyId, keyRing } from '@mezite/identity';
import { createTestDatabase, MemoryCache, nullLogger, runMigrations, type TestDatabase } from '@mezite/platform';
import { ApiTokenCache } from './domain/api-token-cache';
import { ApiTokenManager } from './domain/api-token-manager';
import { ApiTokenVerifier } from './domain/api-token-verifier';
import { ClientSecretManager } from './domain/client-secret-manager';
import { LastUseRecorder } from './domain/last-use-recorder';
import { PrismaApiTokenStore } from './store/prisma-api-token-store';
import { PrismaClientSecretStore } from './store/prisma-client-secret-store';
import { createPrismaClient, type PrismaClient } from './store/prisma';

const run = promisify(execFile);
const BIN = join(__dirname, '..', '..', '..', 'bin', 'mezite-keys');

/** The documented command, as an operator runs it where token-service runs (bin/mezite-keys, on the built service). */
async function mezitekeys(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, 'token-service', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('mezite-keys token-service status', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  const [a, b] = [randomBytes(32), randomBytes(32)];
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  test('shows the live rows under each pepper, and says when the previous one can be removed', async () => {
    const clock = new FakeClock(new Date().toISOString()); // the command counts live rows at the real time
    const store = new PrismaApiTokenStore(prisma);
    const cache = new ApiTokenCache(new MemoryCache({ clock }));
    const underA = new ApiTokenManager({ store, cache, clock, pepper: a, logger: nullLogger });
    const owner = { tenantId: randomUUID(), identityId: randomUUID(), identityKind: 'service', env: 'live', ttlSeconds: 0 };
    const t1 = await underA.mint(owner);
    await underA.mint(owner);
    await new ClientSecretManager({ store: new PrismaClientSecretStore(prisma), clock, pepper: a }).set({ tenantId: owner.tenantId, serviceIdentityId: owner.identityId, clientId: 'svc-a' });
    const env = { DATABASE_URL: db.url, MEZITE_TOKEN_PEPPER: b.toString('base64'), MEZITE_TOKEN_PEPPER_PREVIOUS: a.toString('base64') };

    const before = await mezitekeys(env, 'status');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(new RegExp(`^${keyId(b)}\\s+current\\s+0\\s+0$`, 'm'));
    expect(before.stdout).toMatch(new RegExp(`^${keyId(a)}\\s+previous\\s+2\\s+1$`, 'm'));
    expect(before.stdout).toContain(`Still needed: ${keyId(a)}`);

    // Each credential used once under B (A previous) moves to B; a revoked token no longer counts.
    const peppers = keyRing(b, [a]);
    const verifier = new ApiTokenVerifier({ store, cache, clock, peppers, logger: nullLogger, lastUse: new LastUseRecorder({ store, logger: nullLogger }) });
    await verifier.verify(t1.plaintext);
    const t2 = await prisma.apiToken.findFirst({ where: { pepperId: keyId(a) } });
    await new ApiTokenManager({ store, cache, clock, peppers, logger: nullLogger }).delete({ tenantId: owner.tenantId, identityId: owner.identityId, id: t2?.id as string });
    await new PrismaClientSecretStore(prisma).delete('svc-a');

    const after = await mezitekeys({ ...env }, 'status', '--json');
    expect(after.code).toBe(0);
    const status = JSON.parse(after.stdout)['token-service'][0];
    expect(status).toMatchObject({ variable: 'MEZITE_TOKEN_PEPPER', droppable: [keyId(a)], stillNeeded: [] });
    expect(status.rows).toEqual([
      { keyId: keyId(b), role: 'current', rows: { api_tokens: 1, client_secrets: 0 } },
      { keyId: keyId(a), role: 'previous', rows: { api_tokens: 0, client_secrets: 0 } },
    ]);
    expect((await mezitekeys(env, 'status')).stdout).toContain(`No live row needs ${keyId(a)}: remove it from MEZITE_TOKEN_PEPPER_PREVIOUS`);
  });

  test('usage and configuration errors exit non-zero without a stack trace', async () => {
    expect((await mezitekeys({}, 'rotate')).code).toBe(2);
    const bad = await mezitekeys({ DATABASE_URL: db.url }, 'status');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('MEZITE_TOKEN_PEPPER is required');
  });
});
