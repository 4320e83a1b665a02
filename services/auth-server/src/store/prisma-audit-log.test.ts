import { join } from 'node:path';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createTestDatabase, MIGRATION_FILE, runMigrations } from '@mezite/platform';
import { randomBytes, randomUUID } from 'node:crypto';
import { chainHash, keyedChainHash, type ChainedEvent } from '../domain/audit-chain';
import { PrismaAuditLog } from './prisma-audit-log';
import { createPrismaClient } from './prisma';

const keys = { current: { id: 'a1', secret: randomBytes(32) } };

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
    const a = new PrismaAuditLog(prisma, keys);
    const b = new PrismaAuditLog(other, keys);
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).record(ev(i))));
    expect(await a.verify()).toEqual({ ok: true, checked: 40, firstBadSeq: 0, problem: '' });
  });

  test('an edited, a deleted, and reordered records are each detected', async () => {
    const log = new PrismaAuditLog(prisma, keys);
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
    const writer = new PrismaAuditLog(prisma, keys);
    for (let i = 1; i <= 25; i++) await writer.record({ tenantId: null, type: 'bot.join', actor: `bot:b${i}`, target: `bot:b${i}`, result: 'success', requestId: `r${i}`, details: { n: String(i) } });
    const log = new PrismaAuditLog(prisma, keys, { verifyBatch: 10 });
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
    const log = new PrismaAuditLog(prisma, keys, { verifyBatch: 10 });
    const writer = new PrismaAuditLog(prisma, keys);
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

describe('PrismaAuditLog: a keyed chain the database alone cannot rewrite', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  const dir = join(__dirname, '..', '..', 'migrations');
  beforeAll(async () => {
    db = await createTestDatabase();
    prisma = createPrismaClient(db.url, 2);
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  const ev = (i: number) => ({ tenantId: null, type: 'bot.join', actor: `bot:b${i}`, target: `bot:b${i}`, result: 'success' as const, requestId: `r${i}`, details: { n: String(i) } });

  /** What an attacker with database write access does: edit one record, re-link every later one, move the head. */
  async function rewrite(fromSeq: number, link: (prev: Buffer, e: Omit<ChainedEvent, 'prevHash' | 'hash'>) => Buffer, keyId: string | null) {
    await prisma.$executeRawUnsafe(`UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = ${fromSeq}`);
    const rows = await prisma.auditEvent.findMany({ where: { seq: { gte: BigInt(fromSeq) } }, orderBy: { seq: 'asc' } });
    const before = await prisma.auditEvent.findUnique({ where: { seq: BigInt(fromSeq - 1) } });
    let prev: Buffer = Buffer.from(before?.hash ?? Buffer.alloc(32));
    for (const r of rows) {
      const e = { id: r.id, tenantId: r.tenantId, time: r.time, type: r.type, actor: r.actor, target: r.target, result: r.result as 'success', requestId: r.requestId, details: r.details as Record<string, string>, seq: Number(r.seq) };
      const hash = link(prev, e);
      await prisma.auditEvent.update({ where: { id: r.id }, data: { prevHash: new Uint8Array(prev), hash: new Uint8Array(hash), keyId } });
      prev = hash;
    }
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { hash: new Uint8Array(prev) } });
  }

  test('records from before the upgrade verify unkeyed up to the switch point; edits re-linked with SHA-256 or a guessed key are detected', async () => {
    // Five records written before the keyed chain (migrations up to 0007, unkeyed links).
    const old = await mkdtemp(join(tmpdir(), 'mezite-auth-migrations-'));
    for (const name of await readdir(dir)) if (Number(MIGRATION_FILE.exec(name)?.[1]) <= 7) await copyFile(join(dir, name), join(old, name));
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: old });
    await rm(old, { recursive: true, force: true });
    let prev: Buffer = Buffer.alloc(32);
    for (let seq = 1; seq <= 5; seq++) {
      const e = { ...ev(seq), id: randomUUID(), time: new Date(1_700_000_000_000 + seq * 1000), seq };
      const hash = chainHash(prev, e);
      await prisma.$executeRawUnsafe(
        'INSERT INTO auth.audit_events (id, tenant_id, time, type, actor, target, result, request_id, details, seq, prev_hash, hash) VALUES ($1::uuid, NULL, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)',
        e.id, e.time, e.type, e.actor, e.target, e.result, e.requestId, JSON.stringify(e.details), seq, prev, hash,
      );
      prev = hash;
    }
    await prisma.$executeRawUnsafe('UPDATE auth.audit_chain_head SET seq = 5, hash = $1 WHERE id = 1', prev);
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir });
    const log = new PrismaAuditLog(prisma, keys);
    for (let i = 6; i <= 12; i++) await log.record(ev(i));
    expect(await log.verify()).toEqual({ ok: true, checked: 12, firstBadSeq: 0, problem: '' });
    // A previous version's replica, still running during the rollout, cannot append an unkeyed link.
    await expect(
      prisma.$executeRawUnsafe("INSERT INTO auth.audit_events (id, time, type, actor, target, result, request_id, seq, prev_hash, hash) VALUES (gen_random_uuid(), now(), 'bot.join', 'bot:x', 'bot:x', 'success', 'r', 13, '\\x00', '\\x00')"),
    ).rejects.toThrow(/audit_events_keyed/);
    // The attacker can write anything in the database, constraints included.
    await prisma.$executeRawUnsafe('ALTER TABLE auth.audit_events DROP CONSTRAINT audit_events_keyed');
    const snapshot = await prisma.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    const head = await prisma.auditChainHead.findUniqueOrThrow({ where: { id: 1 } });
    const restore = async () => {
      for (const r of snapshot) await prisma.auditEvent.update({ where: { id: r.id }, data: { actor: r.actor, prevHash: r.prevHash, hash: r.hash, keyId: r.keyId } });
      await prisma.auditChainHead.update({ where: { id: 1 }, data: { seq: head.seq, hash: head.hash, keyedFrom: head.keyedFrom } });
      expect((await log.verify()).ok).toBe(true);
    };

    // Re-linked with plain SHA-256, as the unkeyed chain allowed.
    await rewrite(8, chainHash, null);
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 8 });
    await restore();
    // Re-linked with the keyed rule under a key the attacker made up, claiming the real key id.
    const guessed = { id: 'a1', secret: randomBytes(32) };
    await rewrite(8, (p, e) => keyedChainHash(guessed, p, e), 'a1');
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 8, problem: 'record 8 was modified' });
    await restore();
    // A record from before the switch point edited in place.
    await prisma.$executeRawUnsafe("UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = 3");
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 3, problem: 'record 3 was modified' });
    await restore();
    // Everything re-linked with SHA-256 and the switch point moved past the head: the
    // database alone now looks like a chain from before the upgrade (an exported signed
    // checkpoint catches this, see audit-checkpoint tests); the next keyed append shows it.
    await rewrite(3, chainHash, null);
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { keyedFrom: 100n } });
    await log.record(ev(13));
    expect(await log.verify()).toMatchObject({ ok: false, firstBadSeq: 13 });
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
    const log = new PrismaAuditLog(prisma, keys);
    await log.record({ tenantId: null, type: 'bot.join', actor: 'bot:a\0b', target: 'bot:\ud800x"y', result: 'failure', requestId: 'r\udfff', details: { 'k\0': 'v\ud83d', ok: '\u{1F600} {"json": true}' } });
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, checked: 1 });
    const [e] = await log.list('00000000-0000-0000-0000-000000000000', { limit: 1 });
    expect(e).toMatchObject({ actor: 'bot:a\uFFFDb', target: 'bot:\uFFFDx"y', requestId: 'r\uFFFD', details: { 'k\uFFFD': 'v\uFFFD', ok: '\u{1F600} {"json": true}' } });
  });
});

describe('PrismaAuditLog: the results an audit record can have', () => {
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

  test('requested (an admin action about to run), success and failure are stored; anything else is refused', async () => {
    const log = new PrismaAuditLog(prisma, keys);
    for (const result of ['requested', 'success', 'failure'] as const) await log.record({ tenantId: null, type: 'bot.lock', actor: 'user:a', target: 'bot:b', result, requestId: 'r', details: {} });
    expect((await log.list('00000000-0000-0000-0000-000000000000', { limit: 5 })).map((e) => e.result).sort()).toEqual(['failure', 'requested', 'success']);
    await expect(log.record({ tenantId: null, type: 'bot.lock', actor: 'user:a', target: 'bot:b', result: 'maybe' as 'success', requestId: 'r', details: {} })).rejects.toThrow();
    expect((await log.verify()).ok).toBe(true);
  });
});
