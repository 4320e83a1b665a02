import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** A service running as a child process, its output appended to a log file. */
export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines it wrote to stderr, for error messages. */
  stderrTail(): string;
}

/** Starts `node <entry>` with `env`, logging stdout and stderr to `logFile`. */
export function spawnService(o: { name: string; entry: string; env: NodeJS.ProcessEnv; logFile: string; echo?: boolean }): ServiceProcess {
  mkdirSync(dirname(o.logFile), { recursive: true });
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [o.entry], { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.stdout?.on('data', (d: Buffer) => {
    log.write(d);
    if (o.echo) process.stdout.write(d);
  });
  child.stderr?.on('data', (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString()).slice(-4000);
    if (o.echo) process.stderr.write(d);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      log.end();
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    name: o.name,
    child,
    exited,
    stderrTail: () => tail.trim(),
    async stop(graceMs = 8000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
