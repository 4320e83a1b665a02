import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, invalidArgument, MeziteError, unavailable } from '@mezite/identity';
import { runner } from 'node-pg-migrate';
import { Client } from 'pg';
import { translateDbError } from './db-errors';

/** Options of runMigrations. */
export interface MigrateOptions {
  /** PostgreSQL URL; the user needs CREATE on the database (to create the schema) or owns the existing schema (a service's own role). */
  databaseUrl: string;
  /** The schema the service's tables live in (`[a-z_][a-z0-9_]*`); created if missing. */
  schema: string;
  /** Directory of the migration files (see runMigrations for the convention). */
  dir: string;
  /** Called with one line of progress per event. */
  log?: (msg: string) => void;
  /** How long to wait for another replica's run to finish; default 5 minutes. */
  lockTimeoutMs?: number;
}

/** The table, inside the service's schema, that records applied migrations (`id`, `name`, `run_on`). */
export const MIGRATIONS_TABLE = 'mezite_migrations';

/** `NNNN_snake_name.sql`: four digits, an underscore, lower-case words. */
export const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const UP = /^\s*--[\s-]*up\s+migration/im;
const DOWN = /^\s*--[\s-]*down\s+migration/im;

/**
 * Applies the pending plain-SQL migrations in `dir` to PostgreSQL schema `schema` and
 * returns their names (file names without `.sql`, e.g. `0001_init`) in the order
 * applied; an up-to-date schema returns `[]`. Built on node-pg-migrate's runner.
 *
 * File convention: `NNNN_snake_name.sql` (MIGRATION_FILE), applied in numeric order;
 * numbers are unique and a new file must sort after every applied one (checkOrder).
 * A file holds the forward SQL, optionally below a line `-- Up Migration`; a line
 * `-- Down Migration` starts the reverse SQL, which is never run here but must come
 * after `-- Up Migration` (without it node-pg-migrate would run the down part too, so
 * this is rejected). No other comment line may start with `-- up migration` or
 * `-- down migration`. Other files in `dir` (README, dotfiles) are ignored. Statements
 * run unqualified with `search_path` set to the schema alone, so write `CREATE TABLE
 * tokens`, not `CREATE TABLE token.tokens`. Statements that cannot run in a
 * transaction (`CREATE INDEX CONCURRENTLY`, `ALTER TYPE … ADD VALUE` on PG < 12) are
 * not supported.
 *
 * Guarantees: one run is one transaction — if any file fails, none of this run's
 * files stay applied (the schema and the empty bookkeeping table may remain).
 * Replicas starting together serialize on a session advisory lock keyed by the schema
 * name, so each file is applied exactly once; the others wait (up to `lockTimeoutMs`)
 * and then find nothing to do. The lock needs a real session: point `databaseUrl` at
 * PostgreSQL or a session-mode pooler, not a transaction-mode PgBouncer.
 *
 * Throws `Unavailable` when the database cannot be reached or the lock is not granted
 * in time, `InvalidArgument` for a bad schema name or migration file, and `Internal`
 * (message naming the failing SQL error, original as `cause`) when a migration fails.
 */
export async function runMigrations(opts: MigrateOptions): Promise<string[]> {
  const log = opts.log ?? (() => undefined);
  if (!SCHEMA_NAME.test(opts.schema)) throw invalidArgument(`schema name "${opts.schema}" must match ${SCHEMA_NAME.source}`);
  await checkFiles(opts.dir);

  const client = new Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined); // a lost connection rejects the pending query, which we report
  try {
    await client.connect();
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(opts.lockTimeoutMs ?? 300_000))}`);
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey(opts.schema)]);
    await client.query('SET lock_timeout = 0');
  } catch (err) {
    await client.end().catch(() => undefined);
    if ((err as { code?: unknown }).code === '55P03') throw unavailable(`timed out waiting for another migration of schema "${opts.schema}"`, { cause: err });
    throw translateDbError(err, 'migration lock');
  }

  try {
    // CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema is
    // there; a service's own role owns its schema but has no CREATE on the database.
    const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [opts.schema]);
    const applied = await runner({
      dbClient: client,
      dir: opts.dir,
      ignorePattern: '(?!\\d{4}_[a-z0-9_]+\\.sql$).*',
      schema: opts.schema,
      createSchema: exists.rowCount === 0,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      noLock: true, // our blocking per-schema lock above replaces node-pg-migrate's try-lock
      logger: migrationLogger(log),
    });
    for (const m of applied) log(`applied migration ${m.name} to schema ${opts.schema}`);
    return applied.map((m) => m.name);
  } catch (err) {
    if (err instanceof MeziteError) throw err;
    const verdict = translateDbError(err);
    if (verdict.code === 'Unavailable') throw verdict;
    throw internal(`migrating schema "${opts.schema}" failed: ${(err as Error).message}`, { cause: err });
  } finally {
    // Ending the session releases the advisory lock and rolls back anything left open.
    await client.end().catch(() => undefined);
  }
}

/** Rejects file names and marker layouts that node-pg-migrate would misread. */
async function checkFiles(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  for (const name of names) {
    const m = MIGRATION_FILE.exec(name);
    if (!m) throw invalidArgument(`migration file ${name} must be named NNNN_snake_name.sql`);
    const prior = seen.get(m[1] as string);
    if (prior) throw invalidArgument(`migration files ${prior} and ${name} share the number ${m[1]}`);
    seen.set(m[1] as string, name);
    const sql = await readFile(join(dir, name), 'utf8');
    const up = sql.search(UP);
    const down = sql.search(DOWN);
    if (down >= 0 && (up < 0 || up > down)) throw invalidArgument(`migration file ${name} has "-- Down Migration" without a "-- Up Migration" line before it`);
  }
}

/** A stable 64-bit advisory-lock key per schema, so services sharing a database do not wait on each other. */
function lockKey(schema: string): string {
  return createHash('sha256').update(`mezite:migrate:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * node-pg-migrate's logger, forwarding to `log`. Its complaint that a 4-digit prefix
 * is not a timestamp is dropped: it then orders by the number, which is what we want.
 */
function migrationLogger(log: (msg: string) => void) {
  const forward = (msg: string) => {
    if (!msg.startsWith("Can't determine timestamp")) log(msg);
  };
  return { info: forward, warn: forward, error: forward };
}
