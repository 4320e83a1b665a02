import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock, keyId, keyRing } from '@mezite/identity';
import { createTestDatabase, runMigrations, type TestDatabase } from '@mezite/platform';
import { SessionManager } from './domain/session-manager';
import { keysCommand } from './keys-command';
import { PrismaSessionStore } from './store/prisma-session-store';
import { createPrismaClient, type PrismaClient } from './store/prisma';

describe('mezite-keys auth-server status', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  test('counts live sessions under each session pepper and keeps a used previous pepper', async () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const tenantId = randomUUID();
    await prisma.tenant.create({ data: { id: tenantId, domain: `t-${tenantId}`, kind: 'mixed' } });
    const clock = new FakeClock(new Date().toISOString()); // the command counts live rows at the real time
    const store = new PrismaSessionStore(prisma);
    const open = (m: SessionManager) => m.create({ tenantId, principalKind: 'user', principalId: randomUUID(), name: 'alice', authMethod: 'interactive-session', roles: [], ttlMs: 3_600_000 });
    const old = await open(new SessionManager({ store, clock, pepper: a }));
    await open(new SessionManager({ store, clock, pepper: a }));
    // The auth-server's own environment, as the command runs where the service runs.
    const env = { DATABASE_URL: db.url, MEZITE_SESSION_PEPPER: b.toString('base64'), MEZITE_SESSION_PEPPER_PREVIOUS: a.toString('base64'), MEZITE_AUDIT_KEY: randomBytes(32).toString('base64'), MEZITE_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64') };

    const r = await keysCommand(['status', '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)['auth-server'][0]).toMatchObject({ stillNeeded: [keyId(a)], rows: [{ keyId: keyId(b), role: 'current', rows: { sessions: 0 } }, { keyId: keyId(a), role: 'previous', rows: { sessions: 2 } }] });

    await new SessionManager({ store, clock, peppers: keyRing(b, [a]) }).authenticate(old.secret);
    const text = (await keysCommand(['status'], env)).out;
    expect(text).toMatch(new RegExp(`^${keyId(b)}\\s+current\\s+1$`, 'm'));
    expect(text).toMatch(new RegExp(`^${keyId(a)}\\s+previous\\s+1$`, 'm'));
    expect(text).toContain('Join tokens are not counted');
    expect((await keysCommand(['rotate'], env)).code).toBe(2);
  });
});
