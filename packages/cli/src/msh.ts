import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import yargs from 'yargs';
import { invalidArgument } from '@mezite/identity';
import { reportError, UsageError } from './errors';

/** Where `mezd identity` records its last destination, so `msh` finds the certificate without flags. */
export function identityPointerPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.MEZITE_HOME ?? join(homedir(), '.mezite'), 'identity.json');
}

/**
 * The certificate to use: `--cert`, then `MEZITE_CERT`, then the destination mezd
 * wrote last (recorded in ~/.mezite/identity.json), then /var/lib/mezite/identity/certs.
 */
export function findCertificate(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return resolve(flag);
  if (env.MEZITE_CERT) return resolve(env.MEZITE_CERT);
  try {
    const p = JSON.parse(readFileSync(identityPointerPath(env), 'utf8')) as { destination?: string };
    if (p.destination && existsSync(join(p.destination, 'ssh_key-cert.pub'))) return join(p.destination, 'ssh_key-cert.pub');
  } catch {
    /* no pointer: fall through */
  }
  const fallback = '/var/lib/mezite/identity/certs/ssh_key-cert.pub';
  if (existsSync(fallback)) return fallback;
  throw invalidArgument('no certificate: pass --cert=DIR/ssh_key-cert.pub, or run mezd identity start first');
}

/** The ssh(1) arguments that use a Mezite certificate, its key and its known_hosts. */
export function sshArgs(o: { cert: string; login?: string | undefined; port?: number | undefined; node: string; command: string[]; sshConfig?: string | undefined }): string[] {
  if (!o.cert.endsWith('-cert.pub')) throw invalidArgument(`--cert ${o.cert}: expected a file named …-cert.pub next to its private key`);
  const key = o.cert.slice(0, -'-cert.pub'.length);
  if (!existsSync(o.cert)) throw invalidArgument(`--cert ${o.cert}: no such file`);
  if (!existsSync(key)) throw invalidArgument(`private key ${key} (next to --cert) is missing`);
  const args = [...(o.sshConfig ? ['-F', o.sshConfig] : []), '-i', key, '-o', `CertificateFile=${o.cert}`, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes'];
  const knownHosts = join(dirname(o.cert), 'known_hosts');
  if (existsSync(knownHosts)) args.push('-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes');
  if (o.login) args.push('-l', o.login);
  if (o.port) args.push('-p', String(o.port));
  args.push(o.node);
  if (o.command.length) args.push('--', ...o.command);
  return args;
}

/**
 * `msh ssh [--cert FILE] [--login USER] NODE [-- COMMAND]`: runs the system `ssh`
 * with the bot's key, certificate and known_hosts, passing the remote command through
 * and returning its exit code. Node names resolve as ssh resolves them (the auth
 * server's node inventory arrives with the nodes issue).
 */
export async function runMsh(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let failure: unknown;
  let code = 0;
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  await yargs(own)
    .scriptName('msh')
    .command(
      'ssh <node>',
      'Open an SSH session (or run a command) with the Mezite certificate',
      (y) =>
        y
          .positional('node', { type: 'string', demandOption: true })
          .option('cert', { type: 'string', describe: 'Certificate file (ssh_key-cert.pub) written by mezd identity' })
          .option('login', { alias: 'l', type: 'string', describe: 'Remote login' })
          .option('port', { alias: 'p', type: 'number', describe: 'SSH port' })
          .option('ssh-config', { type: 'string', describe: 'ssh_config file for host names and ports (ssh -F); env MSH_SSH_CONFIG' }),
      async (a) => {
        const cert = findCertificate(a.cert, env);
        const args = sshArgs({ cert, login: a.login, port: a.port, node: a.node, command, sshConfig: a.sshConfig ?? env.MSH_SSH_CONFIG });
        code = await new Promise<number>((res, rej) => {
          const child = spawn(env.MSH_SSH ?? 'ssh', args, { stdio: 'inherit', env });
          child.once('error', (e) => rej(invalidArgument(`cannot run ssh: ${e.message}`)));
          child.once('exit', (c, sig) => res(c ?? (sig ? 128 + 15 : 1)));
        });
      },
    )
    .demandCommand(1, 'name a command')
    .strict()
    .version(false)
    .fail((msg, err) => {
      if (err && err.name !== 'YError') throw err;
      throw new UsageError((msg || err?.message || 'invalid usage').replace(/\s*\n\s*/g, ' '));
    })
    .parseAsync()
    .catch((err: unknown) => {
      failure = err;
    });
  if (failure !== undefined) return reportError('msh', failure);
  return code;
}
