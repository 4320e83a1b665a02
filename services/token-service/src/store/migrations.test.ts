import { join } from 'node:path';
import { createPgPool, createTestDatabase, runMigrations } from '@mezite/platform';

/** What token-service's migrations leave in the `token` schema. */
test('the migrations leave API tokens, their usage and client secrets, and no join_tokens table (join tokens live in the auth-server)', async () => {
  const db = await createTestDatabase();
  const c = createPgPool('token', { connectionString: db.url, max: 1 });
  try {
    await runMigrations({ databaseUrl: db.url, schema: 'token', dir: join(__dirname, '..', '..', 'migrations') });
    const { rows } = await c.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'token' AND table_type = 'BASE TABLE' ORDER BY 1");
    const tables = rows.map((r) => r.t).filter((t) => t !== 'mezite_migrations');
    expect(tables).toEqual(['api_token_usage', 'api_tokens', 'client_secrets']);
  } finally {
    await c.end();
    await db.drop();
  }
});
