import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { BIN, REPO_ROOT } from './repo';

/** The stack's processes the benchmark watches. */
export type ServiceName = 'auth-server' | 'token-service' | 'ssh-ca';
export const SERVICE_NAMES: ServiceName[] = ['auth-server', 'token-service', 'ssh-ca'];

/** Options of {@link StackUnderTest.start}. */
export interface StackUnderTestOptions {
  /** A PostgreSQL server URL (any database on it); a fresh database is created per run. Undefined: embedded. */
  postgresUrl: string | undefined;
  redisUrl: string | undefined;
  /** Extra environment for the stack and its services (NODE_OPTIONS for --cpu-prof). */
  env?: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

/** pg_stat_database counters of one database. */
export interface PgCounters {
  xact_commit: number;
  xact_rollback: number;
  tup_returned: number;
  tup_fetched: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  blks_hit: number;
  blks_read: number;
}

/** Backends of one database by what they are doing (counts, or averages over a phase). */
export interface PgActivity {
  active: number;
  lockWaiters: number;
  idleInTransaction: number;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** Whether something accepts TCP connections at host:port within a second. */
export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * The whole stack as `pnpm start` runs it (`node packages/stack/dist/main.js`, a
 * process of its own, services as its children) on free loopback ports, a temp data
 * dir and, with a PostgreSQL server given, a fresh database of its own — what the
 * e2e harness (test/harness/test-stack.ts) does, without jest.
 */
export class StackUnderTest {
  private constructor(
    readonly dataDir: string,
    readonly ports: { auth: number; http: number; token: number; sshCa: number; pg: number },
    readonly database: { url: string; name: string; adminUrl: string } | undefined,
    private readonly child: ChildProcess,
    private readonly output: { text: string },
  ) {}

  static async start(o: StackUnderTestOptions): Promise<StackUnderTest> {
    let database: StackUnderTest['database'];
    if (o.postgresUrl) {
      const name = `mezite_bench_${randomBytes(5).toString('hex')}`;
      await withPg(o.postgresUrl, (c) => c.query(`CREATE DATABASE ${name}`));
      const url = new URL(o.postgresUrl);
      url.pathname = `/${name}`;
      database = { url: url.toString(), name, adminUrl: o.postgresUrl };
      o.log(`database ${name} created on ${url.host}`);
    }
    const dataDir = mkdtempSync(join(tmpdir(), 'mezite-bench-'));
    const ports = { auth: await freePort(), http: await freePort(), token: await freePort(), sshCa: await freePort(), pg: await freePort() };
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...o.env,
      MEZITE_DATA_DIR: dataDir,
      MEZITE_AUTH_SERVER_ADDR: `127.0.0.1:${ports.auth}`,
      MEZITE_HTTP_ADDR: `127.0.0.1:${ports.http}`,
      MEZITE_TOKEN_SERVICE_ADDR: `127.0.0.1:${ports.token}`,
      MEZITE_SSH_CA_ADDR: `127.0.0.1:${ports.sshCa}`,
      MEZITE_EMBEDDED_PG_PORT: String(ports.pg),
      MEZITE_STACK_RESTART: 'false',
      MEZITE_DEV_OIDC: 'false',
    };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    if (database) env.DATABASE_URL = database.url;
    if (o.redisUrl) env.REDIS_URL = o.redisUrl;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'packages', 'stack', 'dist', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { text: '' };
    child.stdout?.on('data', (d: Buffer) => (output.text = (output.text + d.toString()).slice(-20_000)));
    child.stderr?.on('data', (d: Buffer) => (output.text = (output.text + d.toString()).slice(-20_000)));
    const stack = new StackUnderTest(dataDir, ports, database, child, output);
    const deadline = Date.now() + 120_000;
    while (!output.text.includes('Mezite is running')) {
      if (child.exitCode !== null) throw new Error(`the stack exited (${child.exitCode}):\n${output.text}`);
      if (Date.now() > deadline) throw new Error(`the stack did not start within 120 s:\n${output.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return stack;
  }

  /** Pids from `<data dir>/stack.json`. */
  pids(): Record<ServiceName, number> & { stack: number } {
    const s = JSON.parse(readFileSync(join(this.dataDir, 'stack.json'), 'utf8')) as { pid: number; services: Record<ServiceName, { pid: number }> };
    return { stack: s.pid, 'auth-server': s.services['auth-server'].pid, 'token-service': s.services['token-service'].pid, 'ssh-ca': s.services['ssh-ca'].pid };
  }

  /** The database URL the services use (the embedded server's too), from stack.json. */
  databaseUrl(): string {
    return (JSON.parse(readFileSync(join(this.dataDir, 'stack.json'), 'utf8')) as { databaseUrl: string }).databaseUrl;
  }

  /** PostgreSQL backends serving this run's database (their pids, for CPU and RSS). */
  async pgBackends(): Promise<number[]> {
    if (!this.database) return [];
    const db = this.database;
    return withPg(db.adminUrl, async (c) => (await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db.name])).rows.map((r) => r.pid));
  }

  /** Counters of this run's database (pg_stat_database): transactions and rows, for "statements per operation". */
  async pgCounters(): Promise<PgCounters | undefined> {
    if (!this.database) return undefined;
    const db = this.database;
    return withPg(db.adminUrl, async (c) => {
      const r = (await c.query<Record<keyof PgCounters, string>>('SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, blks_hit, blks_read FROM pg_stat_database WHERE datname = $1', [db.name])).rows[0];
      return r ? (Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as unknown as PgCounters) : undefined;
    });
  }

  /**
   * What this run's backends are doing right now (pg_stat_activity): how many run a
   * statement, wait for a lock, or sit idle inside a transaction (waiting for the
   * service to send the next statement — a lock held across round trips shows here).
   */
  async pgActivity(): Promise<PgActivity | undefined> {
    if (!this.database) return undefined;
    const db = this.database;
    return withPg(db.adminUrl, async (c) => {
      const r = (
        await c.query<{ active: string; lock: string; idle_tx: string }>(
          `SELECT count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock') AS active,
                  count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock,
                  count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_tx
             FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [db.name],
        )
      ).rows[0];
      return { active: Number(r?.active ?? 0), lockWaiters: Number(r?.lock ?? 0), idleInTransaction: Number(r?.idle_tx ?? 0) };
    });
  }

  get adminIdentity(): { token: string; ca_cert: string } {
    return JSON.parse(readFileSync(join(this.dataDir, 'admin-identity.json'), 'utf8')) as { token: string; ca_cert: string };
  }

  get authServer(): string {
    return `localhost:${this.ports.auth}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  /** The auth-server's TLS files (the internal CA's leaf), for the reference servers. */
  get tlsFiles(): { ca: string; cert: string; key: string } {
    const pki = join(this.dataDir, 'pki');
    return { ca: join(pki, 'ca.crt'), cert: join(pki, 'auth-server.crt'), key: join(pki, 'auth-server.key') };
  }

  /** Runs `mezctl` as the bootstrap admin (as the e2e tests do). */
  mezctl(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const p = execFile(join(BIN, 'mezctl'), args, { env: { ...process.env, MEZITE_DATA_DIR: this.dataDir, MEZITE_IDENTITY: join(this.dataDir, 'admin-identity.json'), PLEXSPHERE_URL: '', MEZITE_AUTH_SERVER: '' }, timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`mezctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout),
      );
      p.stdin?.end(input ?? '');
    });
  }

  /** Creates a role from YAML through `mezctl create -f`. */
  async createRole(yaml: string): Promise<void> {
    const f = join(this.dataDir, 'bench-role.yaml');
    writeFileSync(f, yaml);
    await this.mezctl(['create', '-f', f]);
  }

  /** Stops the stack (SIGTERM, as Ctrl-C), removes its data dir and drops its database. */
  async destroy(opts: { keepDatabase?: boolean } = {}): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    const db = this.database;
    if (db && !opts.keepDatabase) await withPg(db.adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`)).catch(() => undefined);
  }
}
