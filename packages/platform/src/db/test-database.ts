import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The server tests use unless `TEST_DATABASE_URL` names another (any database on it). */
export const DEFAULT_TEST_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/test';

/** A throw-away database; see createTestDatabase. */
export interface TestDatabase {
  /** Connection URL of the new database (same server, user and options as the base URL). */
  url: string;
  /** Name of the new database (`mezite_t_<12 hex>`). */
  name: string;
  /** Terminates every connection to the database and drops it; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * Creates a fresh, empty database `mezite_t_<random>` on the server of
 * `TEST_DATABASE_URL` (default DEFAULT_TEST_DATABASE_URL), so each test suite is
 * isolated from the others and from earlier runs (STYLE.md §14). For tests only: the
 * user needs CREATEDB. Call `drop()` in `afterAll`.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  const name = `mezite_t_${randomBytes(6).toString('hex')}`;
  await withClient(base, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(base);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      // WITH (FORCE) (PostgreSQL 13+) terminates the database's sessions first.
      await withClient(base, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      dropped = true;
    },
  };
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined); // a dying admin connection rejects the pending query anyway
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
