import { Client } from 'pg';
import { createTestDatabase } from './test-database';

async function exists(url: string, name: string): Promise<boolean> {
  const c = new Client(url);
  await c.connect();
  try {
    return (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe('createTestDatabase', () => {
  test('creates an empty database of its own and drops it even with a session still open', async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    expect(a.name).toMatch(/^mezite_t_[0-9a-f]{12}$/);
    expect(a.name).not.toBe(b.name);
    await b.drop();

    const open = new Client(a.url);
    open.on('error', () => undefined); // the drop terminates it
    await open.connect();
    expect((await open.query('SELECT current_database() AS d')).rows[0]).toEqual({ d: a.name });
    expect((await open.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")).rows[0]).toEqual({ n: 0 });

    await a.drop();
    await a.drop(); // twice is fine
    await open.end().catch(() => undefined);
    expect(await exists(a.url.replace(a.name, 'postgres'), a.name)).toBe(false);
  });
});
