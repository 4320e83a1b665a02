import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from './migrate';
import { ensureServiceRoles, scramVerifier, serviceDatabaseUrl, serviceRolesSql, type ServiceRole } from './service-roles';
import { createTestDatabase, type TestDatabase } from './test-database';

// Roles are cluster-wide: names of this run only, dropped at the end.
const tag = randomBytes(4).toString('hex');
const roles: ServiceRole[] = [
  { role: `t${tag}_auth`, schema: 'auth', password: 'pw-auth' },
  { role: `t${tag}_token`, schema: 'token', password: 'pw-token' },
];
const [auth, token] = roles as [ServiceRole, ServiceRole];

let db: TestDatabase;
let admin: Client;
const dirs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  admin = new Client(db.url);
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
  const base = new Client(process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test');
  await base.connect();
  for (const r of roles) await base.query(`DROP ROLE IF EXISTS ${r.role}`);
  await base.end();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mezite-roles-'));
  dirs.push(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

/** Runs `sql` as `r` (its own URL), returning the error code, or 'ok'. */
async function as(r: ServiceRole, sql: string): Promise<string> {
  const c = new Client(serviceDatabaseUrl(db.url, r.role, r.password));
  await c.connect();
  try {
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return String((err as { code?: string }).code);
  } finally {
    await c.end();
  }
}

const owner = async (schema: string, rel?: string) =>
  rel
    ? (await admin.query<{ o: string }>('SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = $1::regclass', [`${schema}.${rel}`])).rows[0]?.o
    : (await admin.query<{ o: string }>('SELECT pg_get_userbyid(nspowner) AS o FROM pg_namespace WHERE nspname = $1', [schema])).rows[0]?.o;

describe('ensureServiceRoles', () => {
  test('a database from before roles: the schema and its tables and sequences pass to the role', async () => {
    // As the single superuser URL did: the superuser migrated token's schema.
    await runMigrations({ databaseUrl: db.url, schema: 'token', dir: migrationsDir({ '0001_a.sql': 'CREATE TABLE api_tokens (id serial PRIMARY KEY, secret text); CREATE SEQUENCE free_seq;' }) });
    await admin.query("INSERT INTO token.api_tokens (secret) VALUES ('s1')");
    await ensureServiceRoles({ adminUrl: db.url, roles });
    expect(await owner('token')).toBe(token.role);
    for (const rel of ['api_tokens', 'api_tokens_id_seq', 'free_seq', 'mezite_migrations']) expect(await owner('token', rel)).toBe(token.role);
    expect(await owner('auth')).toBe(auth.role);
    expect(await as(token, "INSERT INTO token.api_tokens (secret) VALUES ('s2')")).toBe('ok');
  });

  test("a service's role cannot read or write another service's schema (permission denied)", async () => {
    for (const sql of ['SELECT * FROM token.api_tokens', "INSERT INTO token.api_tokens (secret) VALUES ('x')", 'DELETE FROM token.api_tokens', 'SELECT * FROM token.mezite_migrations', 'CREATE TABLE token.planted (id int)']) {
      expect([sql, await as(auth, sql)]).toEqual([sql, '42501']);
    }
  });

  test('no role can add a schema, or tables to public', async () => {
    expect(await as(auth, 'CREATE SCHEMA extra')).toBe('42501');
    expect(await as(auth, 'CREATE TABLE public.extra (id int)')).toBe('42501');
  });

  test("a role migrates its own existing schema without CREATE on the database", async () => {
    const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE sessions (id int);' });
    expect(await runMigrations({ databaseUrl: serviceDatabaseUrl(db.url, auth.role, auth.password), schema: 'auth', dir })).toEqual(['0001_a']);
    expect(await owner('auth', 'sessions')).toBe(auth.role);
    expect(await as(token, 'SELECT * FROM auth.sessions')).toBe('42501');
  });

  test('runs again, and concurrently, without error and without changing ownership', async () => {
    await Promise.all([1, 2, 3].map(() => ensureServiceRoles({ adminUrl: db.url, roles })));
    expect(await owner('auth', 'sessions')).toBe(auth.role);
    expect(await owner('token', 'api_tokens')).toBe(token.role);
  });

  test('the password reaches the server only as a SCRAM verifier', () => {
    const sql = serviceRolesSql(roles).join('\n');
    expect(sql).not.toContain('pw-auth');
    expect(sql).toMatch(/PASSWORD 'SCRAM-SHA-256\$4096:[^']+'/);
    // Same password and salt, same verifier; another salt, another.
    const salt = Buffer.alloc(16, 1);
    expect(scramVerifier('pw', salt)).toBe(scramVerifier('pw', salt));
    expect(scramVerifier('pw', salt)).not.toBe(scramVerifier('pw'));
  });

  test('refuses a role or schema name that is not a plain identifier', () => {
    expect(() => serviceRolesSql([{ role: 'x; DROP ROLE postgres', schema: 'auth' }])).toThrow(/must match/);
  });
});
