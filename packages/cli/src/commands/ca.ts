import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { invalidArgument, parseDuration } from '@mezite/identity';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { readTextFile } from '../input-file';
import { rfc3339, type OutputFormat } from '../output';

type Opts = GlobalOptions & { output: OutputFormat };

/**
 * The host's public key from `--public-key`: its first line. A private key is
 * refused before anything is sent, since it must never leave the host.
 */
export function publicKeyFrom(text: string, file: string): string {
  if (/PRIVATE KEY/.test(text)) throw invalidArgument(`--public-key ${file} holds a private key; pass the public key (the .pub file)`);
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!line) throw invalidArgument(`--public-key ${file} is empty`);
  return line;
}

/** Writes a certificate as sshd reads it: world-readable (0644), replaced atomically. */
async function writeCertificate(path: string, line: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, line + '\n', { mode: 0o644 });
    await chmod(tmp, 0o644); // the umask may have taken bits away
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw invalidArgument(`cannot write --out ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/**
 * `mezctl ca …`: the cluster's SSH certificate authorities. `export` prints what nodes
 * and clients must trust; `sign-host` certifies an existing host key for sshd.
 */
export function caCommand(ctx: CliContext) {
  return {
    command: 'ca <command>',
    describe: 'Export the SSH certificate authorities and sign host certificates',
    builder: (y: Argv<Opts>) =>
      y
        .command(
          'export',
          'Print CA public keys: --type=user for sshd TrustedUserCAKeys, --type=host for known_hosts',
          (a) => a.option('type', { choices: ['user', 'host'] as const, demandOption: true, describe: 'Which CA' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.cas.exportCertAuthorities({ type: argv.type }, c.auth());
              const keys = r.publicKeys.map((k) => k.trim()).filter(Boolean);
              if (argv.output === 'json') return ctx.printJson({ type: argv.type, public_keys: keys });
              ctx.print(keys.map((k) => (argv.type === 'host' ? `@cert-authority * ${k}\n` : `${k}\n`)).join(''));
            });
          },
        )
        .command(
          'sign-host',
          "Sign a host certificate for an existing host key (for sshd's HostCertificate)",
          (a) =>
            a
              .option('public-key', { type: 'string', demandOption: true, requiresArg: true, describe: "The host's public key file (e.g. /etc/ssh/ssh_host_ed25519_key.pub)" })
              .option('principals', { type: 'string', demandOption: true, requiresArg: true, describe: 'Comma-separated host names and addresses the certificate is valid for' })
              .option('ttl', { type: 'string', demandOption: true, requiresArg: true, describe: 'Certificate lifetime (e.g. 720h)' })
              .option('out', { type: 'string', requiresArg: true, describe: 'Write the certificate here (0644) instead of printing it' }),
          async (argv) => {
            const ttlSeconds = Math.ceil(parseDuration(argv.ttl, '--ttl') / 1000);
            const principals = argv.principals.split(',').map((p) => p.trim()).filter(Boolean);
            if (principals.length === 0) throw invalidArgument('--principals: at least one host name or address is required');
            const publicKey = publicKeyFrom(await readTextFile(argv.publicKey, '--public-key'), argv.publicKey);
            await ctx.withClients(argv, async (c) => {
              const r = await c.cas.signHostCertificate({ publicKey, principals, ttlSeconds }, c.auth());
              const certificate = r.certificate.trim();
              if (argv.out !== undefined) await writeCertificate(argv.out, certificate);
              if (argv.output === 'json') return ctx.printJson({ certificate, expires_at: rfc3339(r.expireTime), ...(argv.out !== undefined ? { written_to: argv.out } : {}) });
              ctx.print(argv.out !== undefined ? `Host certificate written to ${argv.out} (expires: ${rfc3339(r.expireTime)})\n` : `${certificate}\n`);
            });
          },
        )
        .demandCommand(1, 'name a ca command: export, sign-host'),
    handler: () => undefined,
  };
}
