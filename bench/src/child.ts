import { type ChildProcess, fork } from 'node:child_process';

interface Request {
  id: number;
  method: string;
  params: unknown;
}
interface Response {
  id: number;
  result?: unknown;
  error?: string;
}

/**
 * A Node process of the benchmark (load generator, signer, reference server) driven
 * over IPC: `call(method, params)` resolves with what the child's handler returned.
 * Each call has a time limit, so a wedged child fails the run instead of hanging it.
 */
export class BenchChild {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly exited: Promise<void>;
  private stderr = '';

  private constructor(readonly name: string, readonly proc: ChildProcess) {
    proc.on('message', (m: Response) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(`${name}: ${m.error}`));
      else p.resolve(m.result);
    });
    proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new Error(`${name} exited (${code ?? signal}): ${this.stderr.trim()}`));
        }
        this.pending.clear();
        resolve();
      }),
    );
  }

  /** Forks `entry` (a compiled module that calls {@link serveChild}) with extra Node flags. */
  static start(name: string, entry: string, o: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}): BenchChild {
    const proc = fork(entry, [], { execArgv: o.execArgv ?? [], env: { ...process.env, ...o.env }, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    return new BenchChild(name, proc);
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  call<T>(method: string, params: unknown = {}, timeoutMs = 60_000): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.send({ id, method, params } satisfies Request);
    });
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/** In a child: answers each IPC request with `handlers[method](params)`; SIGTERM exits. */
export function serveChild(handlers: Record<string, (params: never) => unknown>): void {
  process.on('message', (m: Request) => {
    const h = handlers[m.method];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown method ${m.method}`);
        return h(m.params as never);
      })
      .then(
        (result) => {
          if (process.env.BENCH_DEBUG) process.stdout.write(`[child ${process.pid}] ${m.method} answered\n`);
          process.send?.({ id: m.id, result: result ?? null } satisfies Response);
        },
        (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Response),
      );
  });
  process.on('SIGTERM', () => process.exit(0));
  process.on('disconnect', () => process.exit(0));
}
