import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The checkout's root; `bin/` holds the commands users run. */
export const REPO_ROOT = resolve(__dirname, '..', '..');
export const BIN = join(REPO_ROOT, 'bin');

/** What a command printed and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one of the commands in bin/ as a user would (PATH including bin/), with a
 * hard time limit so a hang fails the test instead of stalling the suite.
 */
export function runBin(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(BIN, cmd), args, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ''}`, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
