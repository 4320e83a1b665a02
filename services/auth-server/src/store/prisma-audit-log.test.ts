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

describe('PrismaAuditLog.verify reads the chain in keyset-paginated batches', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  const sql = { query: (q: string) => prisma.$executeRawUnsafe(q) };
  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  test('a chain of 25 read 10 at a time: no read holds more than one batch; tampering on either side of a batch boundary is found', async () => {
    const writer = new PrismaAuditLog(prisma);
    for (let i = 1; i <= 25; i++) await writer.record({ tenantId: null, type: 'bot.join', actor: `bot:b${i}`, target: `bot:b${i}`, result: 'success', requestId: `r${i}`, details: { n: String(i) } });
    const log = new PrismaAuditLog(prisma, { verifyBatch: 10 });
    const reads = jest.spyOn(prisma.auditEvent, 'findMany');
    try {
      expect(await log.verify()).toEqual({ ok: true, checked: 25, firstBadSeq: 0, problem: '' });
      const sizes = await Promise.all(reads.mock.results.map((r) => r.value as Promise<unknown[]>)).then((rs) => rs.map((r) => r.length));
      expect(sizes).toEqual([10, 10, 5]); // three keyset pages, never the whole chain
      expect(reads.mock.calls.every(([q]) => q?.take === 10)).toBe(true);
    } finally {
      reads.mockRestore();
    }
    // The last record of the first batch, then the first of the second, edited.
    for (const seq of [10, 11]) {
      await sql.query(`UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = ${seq}`);
      expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: seq, problem: `record ${seq} was modified` });
      await sql.query(`UPDATE auth.audit_events SET actor = 'bot:b${seq}' WHERE seq = ${seq}`);
    }
    expect((await log.verify()).ok).toBe(true);
    // Records 10 and 11 swapped across the boundary; then 11 deleted (the second batch starts at 12).
    await sql.query('UPDATE auth.audit_events SET seq = -seq WHERE seq IN (10, 11)');
    await sql.query('UPDATE auth.audit_events SET seq = 11 WHERE seq = -10');
    await sql.query('UPDATE auth.audit_events SET seq = 10 WHERE seq = -11');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 10 });
    await sql.query('UPDATE auth.audit_events SET seq = -seq WHERE seq IN (10, 11)');
    await sql.query('UPDATE auth.audit_events SET seq = 11 WHERE seq = -10');
    await sql.query('UPDATE auth.audit_events SET seq = 10 WHERE seq = -11');
    expect((await log.verify()).ok).toBe(true);
    await sql.query('DELETE FROM auth.audit_events WHERE seq = 11');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 11, problem: 'record 11 is missing' });
  });

  test('records appended while a verification reads are left to the next one, not reported as a break', async () => {
    const log = new PrismaAuditLog(prisma, { verifyBatch: 10 });
    const writer = new PrismaAuditLog(prisma);
    await sql.query('DELETE FROM auth.audit_events');
    await sql.query("UPDATE auth.audit_chain_head SET seq = 0, hash = decode(repeat('00', 32), 'hex') WHERE id = 1");
    for (let i = 1; i <= 15; i++) await writer.record({ tenantId: null, type: 'bot.join', actor: 'a', target: 't', result: 'success', requestId: `r${i}`, details: {} });
    const real = prisma.auditEvent.findMany.bind(prisma.auditEvent);
    let first = true;
    const reads = jest.spyOn(prisma.auditEvent, 'findMany').mockImplementation(((q: Parameters<typeof real>[0]) => {
      const r = real(q);
      if (!first) return r;
      first = false;
      // After the first page is read, another replica appends five records.
      return r.then(async (rows) => {
        for (let i = 0; i < 5; i++) await writer.record({ tenantId: null, type: 'bot.join', actor: 'a', target: 't', result: 'success', requestId: 'late', details: {} });
        return rows;
      });
    }) as unknown as typeof real);
    try {
      expect(await log.verify()).toEqual({ ok: true, checked: 15, firstBadSeq: 0, problem: '' });
    } finally {
      reads.mockRestore();
    }
    expect(await log.verify()).toEqual({ ok: true, checked: 20, firstBadSeq: 0, problem: '' });
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
