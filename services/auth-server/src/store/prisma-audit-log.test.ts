import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { PrismaAuditLog } from './prisma-audit-log';
import { createPrismaClient } from './prisma';

describe('PrismaAuditLog: one hash chain across concurrent writers, tampering detected', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  let other: ReturnType<typeof createPrismaClient>;
  const sql = { query: (q: string) => prisma.$executeRawUnsafe(q) };

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    prisma = createPrismaClient(db.url, 4);
    other = createPrismaClient(db.url, 4); // a second replica
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await other.$disconnect();
    await db.drop();
  });

  const ev = (i: number) => ({ tenantId: null, type: 'bot.join', actor: `bot:b${i}`, target: `bot:b${i}`, result: 'success' as const, requestId: `r${i}`, details: { n: String(i) } });

  test('40 concurrent appends from two replicas form one intact chain', async () => {
    const a = new PrismaAuditLog(prisma);
    const b = new PrismaAuditLog(other);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).record(ev(i))));
    expect(await a.verify()).toEqual({ ok: true, checked: 40, firstBadSeq: 0, problem: '' });
  });

  test('an edited, a deleted, and reordered records are each detected', async () => {
    const log = new PrismaAuditLog(prisma);
    await sql.query("UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = 7");
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 7, problem: 'record 7 was modified' });
    await sql.query("UPDATE auth.audit_events SET actor = 'bot:b' || (details->>'n') WHERE seq = 7");
    expect((await log.verify()).ok).toBe(true);

    await sql.query('UPDATE auth.audit_events SET seq = -seq WHERE seq IN (10, 11)');
    await sql.query('UPDATE auth.audit_events SET seq = 11 WHERE seq = -10');
    await sql.query('UPDATE auth.audit_events SET seq = 10 WHERE seq = -11');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 10 });
    await sql.query('UPDATE auth.audit_events SET seq = -seq WHERE seq IN (10, 11)');
    await sql.query('UPDATE auth.audit_events SET seq = 11 WHERE seq = -10');
    await sql.query('UPDATE auth.audit_events SET seq = 10 WHERE seq = -11');
    expect((await log.verify()).ok).toBe(true);

    await sql.query('DELETE FROM auth.audit_events WHERE seq = 40');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 40, problem: expect.stringMatching(/newest records were deleted/) });
    await sql.query('DELETE FROM auth.audit_events WHERE seq = 20');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'record 20 is missing' });
  });

});

describe('PrismaAuditLog: hostile text', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  test('hostile text (NUL, lone surrogates, quotes) is stored as hashed: the action succeeds and the chain stays intact', async () => {
    const log = new PrismaAuditLog(prisma);
    await log.record({ tenantId: null, type: 'bot.join', actor: 'bot:a\0b', target: 'bot:\ud800x"y', result: 'failure', requestId: 'r\udfff', details: { 'k\0': 'v\ud83d', ok: '\u{1F600} {"json": true}' } });
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, checked: 1 });
    const [e] = await log.list('00000000-0000-0000-0000-000000000000', { limit: 1 });
    expect(e).toMatchObject({ actor: 'bot:a\uFFFDb', target: 'bot:\uFFFDx"y', requestId: 'r\uFFFD', details: { 'k\uFFFD': 'v\uFFFD', ok: '\u{1F600} {"json": true}' } });
  });
});
