import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { FakeClock } from '@mezite/identity';
import { createTestDatabase, pgAdvisoryLock, pgLockKey, RetentionJob, runMigrations, type TestDatabase } from '@mezite/platform';
import { MemoryRevocationStore } from './memory-node-store';
import { lineageStep, newBot, newInstance } from './bot-instance-store.contract';
import { PrismaBotInstanceStore } from './prisma-bot-instance-store';
import { PrismaBotStore } from './prisma-bot-store';
import { PrismaJoinTokenStore } from './prisma-join-token-store';
import { PrismaRenewalChallengeStore } from './prisma-renewal-challenge-store';
import { PrismaRevocationStore } from './prisma-revocation-store';
import { PrismaSessionStore } from './prisma-session-store';
import { createPrismaClient, pgPoolOf, type PrismaClient } from './prisma';
import { authRetentionTasks } from './retention-tasks';

const DAY = 24 * 3600_000;
const log = { info: jest.fn(), warn: jest.fn() };

/**
 * The auth-server's retention job on PostgreSQL: two replicas race, one works; rows that
 * ended 7 days + 1 ms ago go, 7 days - 1 ms ago stay; audit records are never touched.
 */
describe('auth-server retention on PostgreSQL', () => {
  const clock = new FakeClock('2026-06-10T00:00:00Z');
  const ago = (ms: number) => new Date(clock.now().getTime() - ms);
  const outside = ago(7 * DAY + 1);
  const inside = ago(7 * DAY - 1);
  let db: TestDatabase;
  let replicas: PrismaClient[];

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    replicas = [createPrismaClient(db.url, 4), createPrismaClient(db.url, 4)];
  });
  afterAll(async () => {
    await Promise.all(replicas.map((p) => p.$disconnect()));
    await db.drop();
  });

  const jobOf = (prisma: PrismaClient) =>
    new RetentionJob({
      tasks: authRetentionTasks({
        challenges: new PrismaRenewalChallengeStore(prisma),
        sessions: new PrismaSessionStore(prisma),
        joinTokens: new PrismaJoinTokenStore(prisma),
        revocations: new PrismaRevocationStore(prisma),
        instances: new PrismaBotInstanceStore(prisma),
      }),
      lock: pgAdvisoryLock(pgPoolOf(prisma), pgLockKey('mezite auth-server retention')),
      clock,
      log,
      maxAgeMs: 7 * DAY,
      batchSize: 3,
    });
  const count = async (table: string) => Number((await pgPoolOf(replicas[0] as PrismaClient).query<{ n: string }>(`SELECT count(*) AS n FROM auth.${table}`)).rows[0]?.n);

  test('two replicas race: one deletes, in batches, exactly the rows that ended before the age; the other skips', async () => {
    const prisma = replicas[0] as PrismaClient;
    const tenantId = randomUUID();
    await pgPoolOf(prisma).query("INSERT INTO auth.tenants (id, domain, kind) VALUES ($1, 'acme', 'mixed')", [tenantId]);
    const sessions = new PrismaSessionStore(prisma);
    const session = (over: { expiresAt: Date; revokedAt?: Date | null }) => sessions.create({ id: randomUUID(), tenantId, principalKind: 'user', principalId: randomUUID(), name: 'ada', authMethod: 'interactive-session', roles: [], acr: null, amr: [], tokenHash: randomBytes(32), createdAt: ago(30 * DAY), revokedAt: null, ...over });
    // 4 sessions: expired outside, revoked outside (expiring later), expired inside, live.
    await session({ expiresAt: outside });
    await session({ expiresAt: ago(-DAY), revokedAt: outside });
    await session({ expiresAt: inside });
    await session({ expiresAt: ago(-DAY) });
    const challenges = new PrismaRenewalChallengeStore(prisma);
    for (const expiresAt of [outside, outside, inside]) await challenges.create({ id: randomUUID(), botId: randomUUID(), tenantId, subjectKind: 'node', challenge: randomBytes(32), certificate: 'x', presentedGeneration: 0, expiresAt }, { keep: 4, now: ago(30 * DAY) });
    const tokens = new PrismaJoinTokenStore(prisma);
    const token = (over: { expiresAt: Date; redeemedAt?: Date | null }) => tokens.create({ id: randomUUID(), tenantId, subjectKind: 'node', subjectId: randomUUID(), tokenHash: randomBytes(32), createdAt: ago(30 * DAY), redeemedAt: null, revokedAt: null, instanceId: null, ...over });
    await token({ expiresAt: outside });
    await token({ expiresAt: ago(-DAY), redeemedAt: outside });
    await token({ expiresAt: ago(-DAY), redeemedAt: inside });
    await token({ expiresAt: ago(-DAY) });
    const revocations = new PrismaRevocationStore(prisma);
    for (const expiresAt of [outside, inside]) await revocations.add({ id: randomUUID(), tenantId, subjectId: randomUUID(), serial: null, reason: 'removed', createdAt: ago(40 * DAY), expiresAt });
    // A live instance at generation 3: 1 and 2 (and 2's predecessor) expired outside the
    // age, so both go; 3 is the last and stays.
    const bots = new PrismaBotStore(prisma);
    const instances = new PrismaBotInstanceStore(prisma);
    const bot = newBot(tenantId);
    await bots.create(bot);
    const id = randomUUID();
    const first = newInstance(bot, lineageStep(id, 1, { issuedAt: ago(40 * DAY), expiresAt: ago(39 * DAY) }), { id });
    await tokens.create({ id: first.instance.joinTokenId as string, tenantId, subjectKind: 'bot', subjectId: bot.id, tokenHash: randomBytes(32), createdAt: ago(41 * DAY), expiresAt: ago(-DAY), redeemedAt: null, revokedAt: null, instanceId: null });
    await tokens.redeem((await pgPoolOf(prisma).query<{ token_hash: Buffer }>('SELECT token_hash FROM auth.join_tokens WHERE id = $1', [first.instance.joinTokenId])).rows[0]!.token_hash, ago(40 * DAY), async (_t, w) => w.createInstance(first.instance, first.first));
    expect(await instances.advance(tenantId, lineageStep(id, 2, { issuedAt: ago(39 * DAY), expiresAt: outside }), { at: ago(39 * DAY), address: '', heartbeat: null })).toBe(true);
    expect(await instances.advance(tenantId, lineageStep(id, 3, { issuedAt: ago(DAY), expiresAt: ago(-DAY) }), { at: ago(DAY), address: '', heartbeat: null })).toBe(true);
    await pgPoolOf(prisma).query("INSERT INTO auth.audit_events (id, tenant_id, time, type, actor, target, result, request_id) VALUES ($1, $2, $3, 'bot.join', 'a', 'b', 'success', 'r')", [randomUUID(), tenantId, ago(400 * DAY)]);
    const auditBefore = await count('audit_events');

    const rounds = await Promise.all(replicas.map((p) => jobOf(p).runOnce()));
    const ran = rounds.filter((r) => r.ran);
    // Both may run one after the other (the first finished before the second tried),
    // never at once: the totals are exact, so nothing was deleted twice or missed.
    expect(ran.length).toBeGreaterThanOrEqual(1);
    const total = (t: string) => ran.reduce((n, r) => n + (r.ran ? (r.deleted[t] ?? 0) : 0), 0);
    expect({
      sessions: total('auth.sessions'),
      challenges: total('auth.renewal_challenges'),
      tokens: total('auth.join_tokens'),
      revocations: total('auth.revocations'),
      generations: total('auth.bot_instance_generations'),
    }).toEqual({ sessions: 2, challenges: 2, tokens: 3, revocations: 1, generations: 2 });
    expect(await count('sessions')).toBe(2);
    expect(await count('renewal_challenges')).toBe(1);
    expect(await count('join_tokens')).toBe(2); // redeemed inside the age, and live (the instance's own was redeemed 40 days ago)
    expect(await count('revocations')).toBe(1);
    expect((await instances.lineage(tenantId, id)).map((s) => s.generation)).toEqual([3]);
    expect(await count('audit_events')).toBe(auditBefore);
  });

  test('the memory revocation store deletes the same rows', async () => {
    const store = new MemoryRevocationStore();
    for (const expiresAt of [outside, outside, inside]) await store.add({ id: randomUUID(), tenantId: randomUUID(), subjectId: randomUUID(), serial: null, reason: 'r', createdAt: ago(40 * DAY), expiresAt });
    expect(await store.deleteExpired(ago(7 * DAY), 1)).toBe(1);
    expect(await store.deleteExpired(ago(7 * DAY), 5)).toBe(1);
    expect(store.rows.map((r) => r.expiresAt)).toEqual([inside]);
  });
});
