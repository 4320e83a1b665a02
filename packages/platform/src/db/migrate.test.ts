import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMeziteError } from '@mezite/identity';
import { Client } from 'pg';
import { MIGRATIONS_TABLE, runMigrations } from './migrate';
import { createTestDatabase, type TestDatabase } from './test-database';

let db: TestDatabase;
let sql: Client;
const dirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new Client(db.url);
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh migrations directory holding `files`. */
function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-migrations-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

async function tables(schema: string): Promise<string[]> {
  const r = await sql.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
  return r.rows.map((x) => x.table_name);
}

async function recorded(schema: string): Promise<string[]> {
  const r = await sql.query<{ name: string }>(`SELECT name FROM "${schema}".${MIGRATIONS_TABLE} ORDER BY id`);
  return r.rows.map((x) => x.name);
}

const run = (schema: string, dir: string, extra: { lockTimeoutMs?: number } = {}) => runMigrations({ databaseUrl: db.url, schema, dir, ...extra });

describe('runMigrations', () => {
  test('applies the files in numeric order into the schema, and nothing the second time', async () => {
    const dir = migrationsDir({
      '0002_b.sql': 'CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id));',
      '0001_a.sql': '-- Up Migration\nCREATE TABLE a (id int PRIMARY KEY);\n\n-- Down Migration\nDROP TABLE a;\n',
      'README.md': 'not a migration',
    });
    expect(await run('s_order', dir)).toEqual(['0001_a', '0002_b']);
    expect(await tables('s_order')).toEqual(['a', 'b', MIGRATIONS_TABLE]);
    expect(await tables('public')).toEqual([]);
    expect(await run('s_order', dir)).toEqual([]);
    expect(await recorded('s_order')).toEqual(['0001_a', '0002_b']);
  });

  test('a later run applies only the new file', async () => {
    const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);' });
    expect(await run('s_incr', dir)).toEqual(['0001_a']);
    writeFileSync(join(dir, '0002_b.sql'), 'ALTER TABLE a ADD COLUMN note text;');
    expect(await run('s_incr', dir)).toEqual(['0002_b']);
    const cols = await sql.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 's_incr' AND table_name = 'a' ORDER BY ordinal_position");
    expect(cols.rows.map((c: { column_name: string }) => c.column_name)).toEqual(['id', 'note']);
  });

  test('replicas starting together apply each file exactly once', async () => {
    const dir = migrationsDir({
      '0001_slow.sql': 'SELECT pg_sleep(0.3); CREATE TABLE slow (id int);',
      '0002_counter.sql': 'CREATE TABLE counter (n int); INSERT INTO counter VALUES (1);',
    });
    const results = await Promise.all([run('s_race', dir), run('s_race', dir), run('s_race', dir)]);
    expect(results.flat().sort()).toEqual(['0001_slow', '0002_counter']);
    expect(await recorded('s_race')).toEqual(['0001_slow', '0002_counter']);
    expect((await sql.query('SELECT count(*)::int AS n FROM s_race.counter')).rows[0]).toEqual({ n: 1 });
  });

  test('a failing file leaves the schema as it was: the whole run rolls back', async () => {
    const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);' });
    await run('s_fail', dir);
    writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE b (id int); INSERT INTO a VALUES (1);');
    writeFileSync(join(dir, '0003_broken.sql'), 'CREATE TABLE c (id int); SELECT * FROM no_such_table;');
    const err = await run('s_fail', dir).catch((e: unknown) => e);
    expect(isMeziteError(err, 'Internal')).toBe(true);
    expect((err as Error).message).toMatch(/no_such_table/);
    expect(await tables('s_fail')).toEqual(['a', MIGRATIONS_TABLE]);
    expect((await sql.query('SELECT count(*)::int AS n FROM s_fail.a')).rows[0]).toEqual({ n: 0 });
    expect(await recorded('s_fail')).toEqual(['0001_a']);
  });

  test('schemas are independent: the same files apply to each', async () => {
    const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE a (id int);' });
    expect(await run('s_one', dir)).toEqual(['0001_a']);
    expect(await run('s_two', dir)).toEqual(['0001_a']);
    expect(await tables('s_two')).toEqual(['a', MIGRATIONS_TABLE]);
  });

  test('a new file numbered before an applied one is refused', async () => {
    const dir = migrationsDir({ '0002_b.sql': 'CREATE TABLE b (id int);' });
    await run('s_order_check', dir);
    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE a (id int);');
    await expect(run('s_order_check', dir)).rejects.toMatchObject({ code: 'Internal', message: expect.stringMatching(/0001_a/) });
    expect(await tables('s_order_check')).toEqual(['b', MIGRATIONS_TABLE]);
  });

  test('a replica that cannot get the lock in time fails with Unavailable', async () => {
    const slow = migrationsDir({ '0001_slow.sql': 'SELECT pg_sleep(1.5); CREATE TABLE slow (id int);' });
    const first = run('s_lock', slow);
    await new Promise((r) => setTimeout(r, 300));
    await expect(run('s_lock', slow, { lockTimeoutMs: 100 })).rejects.toMatchObject({ code: 'Unavailable' });
    expect(await first).toEqual(['0001_slow']);
  });

  test.each([
    ['a badly named file', { '1_a.sql': 'SELECT 1;' }, /NNNN_snake_name/],
    ['two files with one number', { '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 1;' }, /share the number/],
    ['a down section without an up marker', { '0001_a.sql': 'CREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;' }, /Up Migration/],
  ])('refuses %s with InvalidArgument before touching the database', async (_what, files, message) => {
    await expect(run('s_invalid', migrationsDir(files))).rejects.toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(message) });
    expect(await tables('s_invalid')).toEqual([]);
  });

  test('refuses a schema name that is not a plain identifier', async () => {
    await expect(run('x"; DROP SCHEMA public; --', migrationsDir({}))).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  test('an unreachable database is Unavailable', async () => {
    const dir = migrationsDir({ '0001_a.sql': 'SELECT 1;' });
    await expect(runMigrations({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/test', schema: 's_x', dir })).rejects.toMatchObject({ code: 'Unavailable', message: 'database unavailable' });
  });
});
