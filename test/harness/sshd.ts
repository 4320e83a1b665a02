import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Why OpenSSH tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync('/usr/sbin/sshd')) return 'stock sshd is not installed (apt-get install openssh-server; .ci/run does)';
  if (!existsSync('/usr/bin/ssh')) return 'stock ssh is not installed (apt-get install openssh-client)';
  if (process.getuid?.() !== 0) return 'sshd tests need root (to run sshd and log in as another user)';
  return undefined;
}

/**
 * Makes sure a local user exists that sshd will let in with a certificate: a home, a
 * shell, and `*` as password field (sshd without PAM refuses locked `!` accounts).
 */
export function ensureLoginUser(name: string): string {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', name], { stdio: 'ignore' });
  }
  execFileSync('usermod', ['-p', '*', name], { stdio: 'ignore' });
  return execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':')[5] ?? `/home/${name}`;
}

/** A stock OpenSSH server on 127.0.0.1 that trusts Mezite's CAs. */
export interface Sshd {
  port: number;
  /** What sshd logged (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `sshd -D -e` with a config that uses Mezite certificates only. */
export async function startSshd(o: { dir: string; port: number; hostKey: string; hostCert?: string; trustedUserCaKeys?: string; revokedKeys?: string; extra?: string[] }): Promise<Sshd> {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = join(o.dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${o.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${o.hostKey}`,
      ...(o.hostCert ? [`HostCertificate ${o.hostCert}`] : []),
      ...(o.trustedUserCaKeys ? [`TrustedUserCAKeys ${o.trustedUserCaKeys}`] : []),
      ...(o.revokedKeys ? [`RevokedKeys ${o.revokedKeys}`] : []),
      `PidFile ${join(o.dir, 'sshd.pid')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'AuthorizedKeysFile none',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('Server listening') && Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!out.includes('Server listening')) throw new Error(`sshd did not start: ${out}`);
  return {
    port: o.port,
    log: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs stock ssh non-interactively; resolves with exit code and output. */
export function runSsh(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/ssh', ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ssh ${args.join(' ')} timed out: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
