import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, MIGRATION_FILE, runMigrations, type TestDatabase } from '@mezite/platform';
import { PrismaBotInstanceStore } from './prisma-bot-instance-store';
import { createPrismaClient, pgPoolOf } from './prisma';

const MIGRATIONS = join(__dirname, '..', '..', 'migrations');

/**
 * 0007 carries every bot that has joined into `bot_instances`, as one instance with the
 * bot's id and its generation as the legacy generation, so bots that exist keep
 * renewing with the certificates they hold (which name no instance).
 */
describe('migration 0007: existing bots become instances', () => {
  let db: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'mezite-auth-migrations-'));
  });
  /** The runner applies everything in a directory: it gets the files up to `n`, so later migrations do not change what is tested. */
  const upTo = async (n: number) => {
    for (const name of await readdir(MIGRATIONS)) {
      const m = MIGRATION_FILE.exec(name);
      if (m && Number(m[1]) <= n) await copyFile(join(MIGRATIONS, name), join(dir, name));
    }
  };
  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a bot at generation 3 gets an instance with its id at generation 3 (legacy 3); a bot that never joined gets none', async () => {
    await upTo(6);
    expect((await runMigrations({ databaseUrl: db.url, schema: 'auth', dir })).at(-1)).toBe('0006_renewal_challenge_generation');
    const tenantId = randomUUID();
    const joined = randomUUID();
    const fresh = randomUUID();
    const lastSeen = new Date('2026-03-01T12:00:00.123Z');
    const certExpires = new Date('2026-03-01T13:00:00.123Z');
    const prisma = createPrismaClient(db.url, 2);
    try {
      const sql = pgPoolOf(prisma);
      await sql.query(`INSERT INTO auth.tenants (id, domain, kind) VALUES ($1, $2, 'mixed')`, [tenantId, `t-${tenantId}`]);
      await sql.query(
        `INSERT INTO auth.bots (id, tenant_id, name, roles, created_at, generation, join_generation, last_seen_at, cert_expires_at)
         VALUES ($1, $3, 'github-deploy', '{ci-deployer}', '2026-01-01T00:00:00Z', 3, 1, $4, $5),
                ($2, $3, 'never-joined', '{ci-deployer}', '2026-01-02T00:00:00Z', 0, 0, NULL, NULL)`,
        [joined, fresh, tenantId, lastSeen, certExpires],
      );

      await upTo(7);
      expect(await runMigrations({ databaseUrl: db.url, schema: 'auth', dir })).toEqual(['0007_bot_instances_join_tokens']);

      const store = new PrismaBotInstanceStore(prisma);
      expect(await store.get(tenantId, joined)).toEqual({
        id: joined,
        tenantId,
        botId: joined,
        generation: 3,
        joinMethod: 'token',
        joinTokenId: null,
        createdAt: lastSeen,
        lastRenewalAt: lastSeen,
        lastAddress: '',
        heartbeat: null,
        certExpiresAt: certExpires,
        lock: null,
        legacyGeneration: 3,
      });
      expect(await store.lineage(tenantId, joined)).toEqual([]); // generations before the upgrade recorded no keys
      expect(await store.get(tenantId, fresh)).toBeNull();
      expect(await store.list(tenantId, { botId: fresh, limit: 10 })).toEqual([]);
      expect((await store.list(tenantId, { limit: 10 })).map((i) => i.id)).toEqual([joined]);
    } finally {
      await prisma.$disconnect();
    }
  });
});
