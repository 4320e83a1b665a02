import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, runMigrations } from '@mezite/platform';
import { chainHash } from '../domain/audit-chain';
import { AuditCheckpoints, CheckpointSigner, checkpointFromJson, checkpointToJson, type AuditCheckpoint } from '../domain/audit-checkpoint';
import { PrismaAuditCheckpointStore } from './prisma-audit-checkpoint-store';
import { PrismaAuditLog } from './prisma-audit-log';
import { createPrismaClient } from './prisma';

const clock = { now: () => new Date('2026-12-07T06:00:00Z') };

describe('checkpoint signatures and their exported form', () => {
  const signer = new CheckpointSigner(randomBytes(32));
  const cp = signer.sign({ seq: 12, hash: randomBytes(32), time: clock.now(), keyedFrom: 3 });

  test('an exported line reads back as the same, still validly signed checkpoint', () => {
    const line = JSON.stringify(checkpointToJson(cp));
    const back = checkpointFromJson(JSON.parse(line));
    expect(back).toEqual(cp);
    expect(signer.verify(back)).toBe(true);
  });

  test.each<[string, Partial<Record<string, unknown>>]>([
    ['a later seq', { seq: 13 }],
    ['another link', { hash: randomBytes(32).toString('hex') }],
    ['another time', { time: '2026-12-07T07:00:00.000Z' }],
    ['a moved switch point', { keyed_from: 100 }],
  ])('a checkpoint edited to %s no longer verifies', (_, change) => {
    expect(signer.verify(checkpointFromJson({ ...checkpointToJson(cp), ...change }))).toBe(false);
  });

  test('a checkpoint signed by another key does not verify', () => {
    const other = new CheckpointSigner(randomBytes(32)).sign({ seq: 12, hash: cp.hash, time: cp.time, keyedFrom: 3 });
    expect(signer.verify(other)).toBe(false);
    expect(signer.verify({ ...other, keyId: signer.keyId })).toBe(false);
  });

  test.each([{}, { ...checkpointToJson(cp), seq: -1 }, { ...checkpointToJson(cp), hash: 'zz' }, { ...checkpointToJson(cp), signature: 'short' }, { ...checkpointToJson(cp), time: 'soon' }, null])('a malformed line is refused (%#)', (o) => {
    expect(() => checkpointFromJson(o)).toThrow(/^checkpoint: /);
  });
});

describe('PrismaAuditCheckpointStore: exported checkpoints catch what the database alone cannot', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let prisma: ReturnType<typeof createPrismaClient>;
  const signer = new CheckpointSigner(randomBytes(32));
  let log: PrismaAuditLog;
  let checkpoints: AuditCheckpoints;
  const sql = (q: string) => prisma.$executeRawUnsafe(q);
  const ev = (i: number) => ({ tenantId: null, type: 'bot.join', actor: `bot:b${i}`, target: `bot:b${i}`, result: 'success' as const, requestId: `r${i}`, details: { n: String(i) } });

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations({ databaseUrl: db.url, schema: 'auth', dir: join(__dirname, '..', '..', 'migrations') });
    prisma = createPrismaClient(db.url, 2);
    log = new PrismaAuditLog(prisma, { current: { id: '1', secret: randomBytes(32) } });
    checkpoints = new AuditCheckpoints({ store: new PrismaAuditCheckpointStore(prisma), signer, clock });
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await db.drop();
  });

  let exported: AuditCheckpoint[];
  test('checkpoints are signed over the head, kept once per seq, listed oldest first, and match the intact chain', async () => {
    for (let i = 1; i <= 5; i++) await log.record(ev(i));
    const first = await checkpoints.checkpoint();
    expect(first).toMatchObject({ seq: 5, keyedFrom: 1, keyId: signer.keyId });
    expect(signer.verify(first)).toBe(true);
    expect(await checkpoints.checkpoint()).toEqual(first); // same head: the first is kept
    for (let i = 6; i <= 10; i++) await log.record(ev(i));
    await checkpoints.checkpoint();
    expect((await checkpoints.list(0, 10)).map((c) => c.seq)).toEqual([5, 10]);
    expect((await checkpoints.list(5, 10)).map((c) => c.seq)).toEqual([10]);
    // What an operator ships to write-once storage: JSON lines, read back later.
    exported = (await checkpoints.list(0, 10)).map((c) => checkpointFromJson(JSON.parse(JSON.stringify(checkpointToJson(c)))));
    expect((await log.verify()).ok).toBe(true);
    expect(await checkpoints.verify(exported)).toBeNull();
  });

  test('the newest records deleted and the head moved back: the chain alone verifies, the exported checkpoint does not', async () => {
    const head = await prisma.auditChainHead.findUniqueOrThrow({ where: { id: 1 } });
    const rows = await prisma.auditEvent.findMany({ where: { seq: { gt: 7n } } });
    const seven = await prisma.auditEvent.findUniqueOrThrow({ where: { seq: 7n } });
    await sql('DELETE FROM auth.audit_events WHERE seq > 7');
    await sql('DELETE FROM auth.audit_checkpoints WHERE seq > 7'); // the database's own copies go too
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { seq: 7n, hash: seven.hash as Uint8Array<ArrayBuffer> } });
    expect(await log.verify()).toMatchObject({ ok: true, checked: 7 });
    expect(await checkpoints.verify(exported)).toEqual({ ok: false, checked: 0, firstBadSeq: 8, problem: expect.stringMatching(/^the chain ends at record 7 but the checkpoint of 2026-12-07T06:00:00.000Z covers record 10: newest records were deleted$/) });
    // Put back.
    await prisma.auditEvent.createMany({ data: rows.map((r) => ({ ...r, details: r.details as Record<string, string> })) });
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { seq: head.seq, hash: head.hash } });
    expect(await checkpoints.verify(exported)).toBeNull();
  });

  test('everything rewritten with SHA-256 and the switch point moved past the head: the exported checkpoint catches it', async () => {
    await sql('ALTER TABLE auth.audit_events DROP CONSTRAINT audit_events_keyed');
    await sql("UPDATE auth.audit_events SET actor = 'user:mallory' WHERE seq = 4");
    let prev: Buffer = Buffer.alloc(32);
    for (const r of await prisma.auditEvent.findMany({ orderBy: { seq: 'asc' } })) {
      const hash = chainHash(prev, { id: r.id, tenantId: r.tenantId, time: r.time, type: r.type, actor: r.actor, target: r.target, result: r.result as 'success', requestId: r.requestId, details: r.details as Record<string, string>, seq: Number(r.seq) });
      await prisma.auditEvent.update({ where: { id: r.id }, data: { prevHash: new Uint8Array(prev), hash: new Uint8Array(hash), keyId: null } });
      prev = hash;
    }
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { hash: new Uint8Array(prev), keyedFrom: 11n } });
    expect((await log.verify()).ok).toBe(true); // the database alone agrees with itself
    expect(await checkpoints.verify(exported)).toMatchObject({ ok: false, firstBadSeq: 1, problem: 'the keyed switch point moved from 1 to 11 since the checkpoint of 2026-12-07T06:00:00.000Z: records were rewritten' });
    // Even with the switch point put back, the links no longer match the checkpoints.
    await prisma.auditChainHead.update({ where: { id: 1 }, data: { keyedFrom: 1n } });
    expect(await checkpoints.verify(exported)).toMatchObject({ ok: false, firstBadSeq: 5, problem: expect.stringMatching(/^record 5 does not match the checkpoint/) });
  });

  test('a forged checkpoint is refused', async () => {
    const forged = new CheckpointSigner(randomBytes(32)).sign({ seq: 3, hash: randomBytes(32), time: clock.now(), keyedFrom: 1 });
    expect(await checkpoints.verify([forged])).toMatchObject({ ok: false, firstBadSeq: 3, problem: expect.stringMatching(/is not signed by this server's checkpoint key/) });
  });
});
