import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { internal, invalidArgument } from '@mezite/identity';
import { Client } from 'pg';
import { translateDbError } from './db-errors';

/** A service's own PostgreSQL role, the one schema it owns, and the role's password. */
export interface ServiceRole {
  /** Login role, e.g. `mezite_auth`. */
  role: string;
  /** The schema the role owns and the service migrates, e.g. `auth`. */
  schema: string;
  /** The role's password; omitted, the role is created without one (trust or certificate authentication). */
  password?: string;
}

/**
 * Each service's role and schema: a service's DATABASE_URL names its own role, which
 * owns its schema and has no privilege on any other (docs/DECISIONS.md, "A database
 * role per service"). The schemas are the ones each service's main.ts migrates.
 */
export const SERVICE_DATABASE_ROLES = {
  'auth-server': { role: 'mezite_auth', schema: 'auth' },
  'token-service': { role: 'mezite_token', schema: 'token' },
  'ssh-ca': { role: 'mezite_sshca', schema: 'sshca' },
} as const satisfies Record<string, Omit<ServiceRole, 'password'>>;

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const SCRAM_ITERATIONS = 4096;

/**
 * The SQL that gives each role its schema and nothing else, idempotent: run it at
 * every start, or once by hand (`make-secrets.mjs --sql`). Per role: create it if
 * missing (LOGIN, no other attribute) and set its password as a SCRAM verifier (the
 * password itself never reaches the server or its statement log); create its schema
 * owned by it, or, for a database from before roles, give it the schema and every
 * table, view and free-standing sequence in it (a table's own sequences and indexes
 * follow their table). Then PUBLIC loses CREATE on the database and on schema
 * `public`, so no role can add a schema or tables beside the services'. Needs a
 * superuser (or a role with CREATEROLE that is a member of each service role).
 */
export function serviceRolesSql(roles: ServiceRole[]): string[] {
  const out: string[] = [];
  for (const r of roles) {
    if (!IDENT.test(r.role) || !IDENT.test(r.schema)) throw invalidArgument(`role "${r.role}" and schema "${r.schema}" must match ${IDENT.source}`);
    const password = r.password === undefined ? 'PASSWORD NULL' : `PASSWORD ${literal(scramVerifier(r.password))}`;
    out.push(
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(r.role)}) THEN CREATE ROLE ${r.role} LOGIN; END IF; END $$`,
      `ALTER ROLE ${r.role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS ${password}`,
      `CREATE SCHEMA IF NOT EXISTS ${r.schema} AUTHORIZATION ${r.role}`,
      `ALTER SCHEMA ${r.schema} OWNER TO ${r.role}`,
      `REVOKE ALL ON SCHEMA ${r.schema} FROM PUBLIC`,
      `DO $$ DECLARE o record; BEGIN
  FOR o IN SELECT c.relname, c.relkind FROM pg_class c
    WHERE c.relnamespace = ${literal(r.schema)}::regnamespace AND c.relowner <> ${literal(r.role)}::regrole
      AND (c.relkind IN ('r', 'p', 'v', 'm', 'f')
        OR (c.relkind = 'S' AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))))
  LOOP
    EXECUTE format('ALTER %s %I.%I OWNER TO %I',
      CASE o.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
      ${literal(r.schema)}, o.relname, ${literal(r.role)});
  END LOOP;
END $$`,
    );
  }
  out.push(`DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM PUBLIC', current_database()); END $$`, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC');
  return out;
}

/** Errors of two runs racing on the cluster-wide role catalogue; the loser tries again. */
const RACE_CODES = new Set(['42710', '23505', 'XX000', '40001', '40P01']);

/**
 * Runs serviceRolesSql on `adminUrl` (a superuser's URL) in one transaction. Roles are
 * cluster-wide, so stacks sharing a server (the test suite) may race to create them:
 * a run that loses is tried again, up to five times.
 */
export async function ensureServiceRoles(o: { adminUrl: string; roles: ServiceRole[] }): Promise<void> {
  const statements = serviceRolesSql(o.roles);
  for (let attempt = 1; ; attempt++) {
    const c = new Client({ connectionString: o.adminUrl, connectionTimeoutMillis: 10_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('BEGIN');
      for (const s of statements) await c.query(s);
      await c.query('COMMIT');
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (attempt < 5 && typeof code === 'string' && RACE_CODES.has(code)) {
        await new Promise((r) => setTimeout(r, 50 * attempt + Math.floor(Math.random() * 50)));
        continue;
      }
      const verdict = translateDbError(err);
      if (verdict.code === 'Unavailable') throw verdict;
      // A PostgreSQL message names objects and privileges, never the password (only its verifier is sent).
      throw internal(`setting up the services' database roles failed: ${(err as Error).message}`, { cause: err });
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** `url` with `role` and `password` as its user: the URL a service connects with. */
export function serviceDatabaseUrl(url: string, role: string, password?: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password === undefined ? '' : encodeURIComponent(password);
  return u.toString();
}

/** PostgreSQL's SCRAM-SHA-256 verifier of `password` (what `ALTER ROLE … PASSWORD` stores). */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
