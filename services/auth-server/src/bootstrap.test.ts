import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@mezite/identity';
import { createTestDatabase, nullLogger, runMigrations } from '@mezite/platform';
import { bootstrap, type BootstrapOptions } from './bootstrap';
import { SessionManager } from './domain/session-manager';
import type { ServiceIdentityManager } from './domain/service-identity-manager';
import type { ServiceIdentityStore } from './domain/service-identity';
import { MemoryAuditLog } from './store/memory-audit-log';
import { createPrismaClient } from './store/prisma';
import { PrismaSessionStore } from './store/prisma-session-store';
import { PrismaTenantStore } from './store/prisma-tenant-store';

/**
 * The bootstrap admin session: every auth-server start used to mint a new 30-day admin
 * session that nothing listed or revoked. Now there is at most one unrevoked per tenant,
 * shared by every replica and start, minted (audited first) only when none is live.
 */
describe('bootstrap: one bootstrap admin session', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  let dir: string;
  const clock = new FakeClock('2026-12-07T06:00:00Z');
  const audit = new MemoryAuditLog();
  let sessions: SessionManager;

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', 'migrations') });
    prisma = createPrismaClient(db.url, 4);
    sessions = new SessionManager({ store: new PrismaSessionStore(prisma), clock, pepper: Buffer.alloc(32, 3) });
    dir = mkdtempSync(join(tmpdir(), 'mezite-bootstrap-'));
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One auth-server start (a pod with its own data dir: its own identity file). */
  const start = (file: string, o: Partial<BootstrapOptions> = {}) =>
    bootstrap({
      tenants: new PrismaTenantStore(prisma),
      sessions,
      clock,
      log: nullLogger,
      demoFixtures: false,
      adminIdentityFile: join(dir, file),
      publicAddr: 'localhost:3025',
      httpUrl: 'http://localhost:8080',
      caCertPem: '',
      services: {} as ServiceIdentityManager,
      serviceStore: {} as ServiceIdentityStore,
      tenantsConfig: [],
      audit,
      ...o,
    });
  const tokenIn = (file: string) => (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { token: string }).token;
  const unrevoked = () => prisma.session.findMany({ where: { authMethod: 'bootstrap-admin', revokedAt: null } });

  test('two starts (two pods, two identity files) leave one valid bootstrap session, minted once and audited', async () => {
    const { defaultTenant } = await start('a.json');
    await start('b.json');
    await start('a.json');
    expect(await unrevoked()).toHaveLength(1);
    expect(tokenIn('b.json')).toBe(tokenIn('a.json'));
    expect(await sessions.authenticate(tokenIn('a.json'))).toMatchObject({ authMethod: 'bootstrap-admin', roles: ['admin'], tenantId: defaultTenant.id });
    expect(audit.events.map((e) => [e.type, e.result])).toEqual([
      ['session.bootstrap', 'requested'],
      ['session.bootstrap', 'success'],
    ]);
  });

  test('a live session minted by an earlier version (a random secret, not derivable) is replaced', async () => {
    const { defaultTenant } = await start('a.json');
    const admin = (await unrevoked())[0]!.principalId;
    await sessions.revokeBootstrap(defaultTenant.id);
    const old = await sessions.create({ tenantId: defaultTenant.id, principalKind: 'user', principalId: admin, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'], ttlMs: 30 * 24 * 3600_000 });
    await start('c.json');
    expect(await unrevoked()).toHaveLength(1);
    expect(await sessions.isLive(old.secret)).toBe(false);
    expect(await sessions.isLive(tokenIn('c.json'))).toBe(true);
  });

  test('at most one unrevoked bootstrap session per tenant, whatever writes the table', async () => {
    const [live] = await unrevoked();
    await expect(
      sessions.create({ tenantId: live!.tenantId, principalKind: 'user', principalId: live!.principalId, name: 'admin', authMethod: 'bootstrap-admin', roles: ['admin'], ttlMs: 3600_000 }),
    ).rejects.toMatchObject({ code: 'AlreadyExists' });
  });

  test('revoked by an admin: the identity files stop working; the next start mints a new one', async () => {
    const { defaultTenant } = await start('a.json');
    const before = tokenIn('a.json');
    expect(await sessions.revokeBootstrap(defaultTenant.id)).toBe(1);
    expect(await sessions.isLive(before)).toBe(false);
    await start('a.json');
    expect(tokenIn('a.json')).not.toBe(before);
    expect(await unrevoked()).toHaveLength(1);
  });

  test('MEZITE_BOOTSTRAP_ADMIN=false revokes it and removes the identity file (audited)', async () => {
    await start('a.json');
    const token = tokenIn('a.json');
    audit.events.length = 0;
    await start('a.json', { bootstrapAdmin: false });
    expect(existsSync(join(dir, 'a.json'))).toBe(false);
    expect(await sessions.isLive(token)).toBe(false);
    expect(await unrevoked()).toHaveLength(0);
    expect(audit.events.map((e) => [e.type, e.result])).toEqual([
      ['session.bootstrap_revoke', 'requested'],
      ['session.bootstrap_revoke', 'success'],
    ]);
  });

  test('with the audit log down no bootstrap session is minted (the start fails closed)', async () => {
    audit.failNext = true;
    await expect(start('d.json')).rejects.toThrow(/audit store down/);
    expect(await unrevoked()).toHaveLength(0);
    expect(existsSync(join(dir, 'd.json'))).toBe(false);
  });

  test('an expired bootstrap session is replaced at the next start', async () => {
    await start('e.json', { bootstrapSessionTtlMs: 3600_000 });
    const first = tokenIn('e.json');
    clock.advance(2 * 3600_000);
    await start('e.json', { bootstrapSessionTtlMs: 3600_000 });
    expect(tokenIn('e.json')).not.toBe(first);
    expect(await unrevoked()).toHaveLength(1);
  });
});
