import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './ports';

/**
 * A redis-server of the test's own on a free loopback port, with no persistence
 * (`--save '' --appendonly no`): stopping it is an outage, starting it again is a
 * Redis that comes back empty. The machine's shared Redis is never touched.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server (again, on the same port) and resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.running) return;
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${this.port}:\n${out}`)), 10_000);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}):\n${out}`));
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot run redis-server (the chaos tests need it on PATH; .ci/run installs it): ${err.message}`));
      });
    });
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Kills the server (SIGKILL: an outage, nothing flushed) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }
}
