import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '@mezite/stack';
import { Client } from 'pg';
import { freePort } from './ports';

/**
 * A PostgreSQL cluster of the test's own (the embedded PostgreSQL the quickstart
 * runs) on a free loopback port, which a test may stop and start again; the shared
 * server on 5432 is never touched. `fsync` is off: a stop is a process going away,
 * not the machine, so committed data survives it (it is in the kernel's cache),
 * and commits do not wait for the disk of a 2-core CI machine.
 */
export class PrivatePostgres {
  private server: { url: string; stop(): Promise<void> } | undefined;
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private urlValue: string,
  ) {}

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'mezite-chaos-pg-'));
    const port = await freePort();
    const pg = new PrivatePostgres(dir, port, '');
    await pg.start();
    await pg.query(`ALTER SYSTEM SET fsync = off`);
    await pg.query(`ALTER SYSTEM SET full_page_writes = off`);
    await pg.query(`SELECT pg_reload_conf()`);
    return pg;
  }

  /** `postgresql://…/mezite` (the same across restarts). */
  get url(): string {
    return this.urlValue;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Starts the cluster (again) and resolves when it accepts connections. */
  async start(): Promise<void> {
    if (this.server) return;
    this.server = await startEmbeddedPostgres({ dataDir: join(this.dir, 'data'), port: this.port });
    this.urlValue = this.server.url;
  }

  /** Fast shutdown: open connections are cut, the server is gone when this resolves. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }

  /** One statement on a connection of its own. */
  async query<R extends Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<R[]> {
    const c = new Client({ connectionString: this.url });
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
