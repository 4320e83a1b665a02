import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMemory } from './proc-stats';
import { BIN } from './repo';

/** What row 7 measured of one `mezd identity start` daemon. */
export interface MezdMemory {
  /** VmRSS at the end, a few seconds after its last renewal (idle between renewals). */
  idleRss: number;
  /** Lowest and highest VmRSS sampled while idle (≥ 3 s after a join or renewal). */
  idleMin: number;
  idleMax: number;
  /** VmHWM: the peak, reached during start-up, the join or a renewal. */
  hwm: number;
  /** Joins and renewals it logged. */
  refreshes: number;
  observedSeconds: number;
}

/**
 * The real daemon as a user runs it (`bin/mezd identity start`, data dir and
 * destination on disk, 1-minute certificates renewed every ~15 s so several renewals
 * fall in the window), sampled every 250 ms.
 */
export class MezdWatch {
  private readonly dir = mkdtempSync(join(tmpdir(), 'mezite-bench-mezd-'));
  private readonly child: ChildProcess;
  private readonly samples: Array<{ t: number; rss: number }> = [];
  private readonly refreshAt: number[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  private out = '';

  constructor(authServer: string, joinToken: string) {
    this.child = spawn(
      join(BIN, 'mezd'),
      ['identity', 'start', `--auth-server=${authServer}`, `--join-token=${joinToken}`, `--destination=${join(this.dir, 'certs')}`, `--data-dir=${join(this.dir, 'state')}`, '--certificate-ttl=1m', '--renewal-interval=15s'],
      { env: { ...process.env, HOME: this.dir, MEZITE_HOME: join(this.dir, '.mezite') }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout?.on('data', (d: Buffer) => {
      const text = d.toString();
      this.out = (this.out + text).slice(-8000);
      for (const line of text.split('\n')) if (/"msg":"(joined|renewed)"/.test(line)) this.refreshAt.push(Date.now());
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.out = (this.out + d.toString()).slice(-8000)));
    this.timer = setInterval(() => {
      const m = this.child.pid ? readMemory(this.child.pid) : undefined;
      if (m) this.samples.push({ t: Date.now(), rss: m.rss });
    }, 250);
    this.timer.unref();
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Waits until it has joined (or failed). */
  async joined(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.refreshAt.length === 0) {
      if (this.child.exitCode !== null) throw new Error(`mezd exited (${this.child.exitCode}): ${this.out}`);
      if (Date.now() > deadline) throw new Error(`mezd did not join within ${timeoutMs} ms: ${this.out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops it (SIGTERM) at an idle moment (≥ 3 s after its last renewal) and returns the figures. */
  async finish(): Promise<MezdMemory> {
    for (let i = 0; i < 100 && Date.now() - (this.refreshAt.at(-1) ?? 0) < 3000; i++) await new Promise((r) => setTimeout(r, 250));
    const end = readMemory(this.pid);
    clearInterval(this.timer);
    const idle = this.samples.filter((s) => this.refreshAt.some((r) => s.t >= r + 3000) && !this.refreshAt.some((r) => s.t >= r - 500 && s.t < r + 3000));
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
    return {
      idleRss: end?.rss ?? NaN,
      idleMin: Math.min(...idle.map((s) => s.rss)),
      idleMax: Math.max(...idle.map((s) => s.rss)),
      hwm: end?.hwm ?? NaN,
      refreshes: this.refreshAt.length,
      observedSeconds: (Date.now() - this.startedAt) / 1000,
    };
  }
}

/** VmRSS of a bare `node` process doing nothing: the floor every Node daemon stands on. */
export async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1500));
  const rss = child.pid ? (readMemory(child.pid)?.rss ?? NaN) : NaN;
  child.kill('SIGTERM');
  return rss;
}
