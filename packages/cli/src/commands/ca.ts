import { chmod, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { invalidArgument, parseDuration } from '@mezite/identity';
import type { Argv } from 'yargs';
import type { CliContext } from '../cli-context';
import type { GlobalOptions } from '../connection';
import { readTextFile } from '../input-file';
import type { authv1 } from '@mezite/proto';
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

const caRow = (x: authv1.CertAuthorityInfo) => [x.type, x.state, x.fingerprint, rfc3339(x.createTime), rfc3339(x.lastCertificateExpireTime)];
const caJson = (x: authv1.CertAuthorityInfo) => ({ type: x.type, state: x.state, fingerprint: x.fingerprint, public_key: x.publicKey, created_at: rfc3339(x.createTime), last_certificate_expires_at: x.lastCertificateExpireTime ? rfc3339(x.lastCertificateExpireTime) : null });

/** What to do after a rotation phase. */
function rotationNext(type: string, phase: string, cas: authv1.CertAuthorityInfo[]): string {
  const who = type === 'user' ? 'every node has picked up the new CA (mezd node refreshes its trusted CAs every --refresh-interval; default 1m)' : 'every bot has renewed (mezd identity rewrites known_hosts on each renewal)';
  if (phase === 'init') return `Next: wait until ${who}, then run: mezctl ca rotate --type=${type} --phase=switch\n`;
  if (phase === 'switch') {
    const prev = cas.find((c) => c.state === 'previous');
    const until = prev?.lastCertificateExpireTime ? ` (its last certificate expires ${rfc3339(prev.lastCertificateExpireTime)})` : '';
    return `New certificates are signed by the new CA; the old one stays trusted${until}.\nNext: once the old CA's certificates have expired, run: mezctl ca rotate --type=${type} --phase=complete\n`;
  }
  if (phase === 'complete') return 'The old CA is no longer trusted. Nodes and bots drop it at their next refresh or renewal.\n';
  return 'The new CA was dropped; the active CA is unchanged.\n';
}

/**
 * `mezctl ca …`: the cluster's SSH certificate authorities. `export` prints what nodes
 * and clients must trust; `sign-host` certifies an existing host key for sshd.
 */
export function caCommand(ctx: CliContext) {
  return {
    command: 'ca',
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
        .command(
          ['ls', 'list'],
          'List the trusted CAs and where each stands in a rotation',
          (a) => a.option('type', { choices: ['user', 'host'] as const, describe: 'Only this CA type' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.cas.listCertAuthorities({ type: argv.type ?? '' }, c.auth());
              ctx.printList(argv.output, r.certAuthorities, ['TYPE', 'STATE', 'FINGERPRINT', 'CREATED_AT', 'LAST_CERT_EXPIRES_AT'], caRow, (items) => ({ items: items.map(caJson) }));
            });
          },
        )
        .command(
          'rotate',
          'Rotate a CA in phases: init (trust the new CA everywhere), switch (sign with it), complete (stop trusting the old one)',
          (a) =>
            a
              .option('type', { choices: ['user', 'host'] as const, demandOption: true, describe: 'Which CA' })
              .option('phase', { choices: ['init', 'switch', 'complete', 'rollback'] as const, describe: 'The phase to run (default: the next one)' })
              .option('force', { type: 'boolean', default: false, describe: 'Complete although certificates of the old CA are still valid (they stop working)' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              const r = await c.cas.rotateCertAuthority({ type: argv.type, phase: argv.phase ?? '', force: argv.force }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ type: argv.type, phase: r.phase, cert_authorities: r.certAuthorities.map(caJson) });
              ctx.print(`${argv.type === 'user' ? 'User' : 'Host'} CA rotation: phase ${r.phase} done.\n` + r.certAuthorities.map((x) => `  ${x.state.padEnd(9)}${x.fingerprint}\n`).join('') + rotationNext(argv.type, r.phase, r.certAuthorities));
            });
          },
        )
        .command(
          'revoke <serial>',
          'Revoke one certificate by serial (as ssh-keygen -L prints it): nodes refuse it through the KRL',
          (a) => a.positional('serial', { type: 'string', demandOption: true }).option('reason', { type: 'string', default: '', describe: 'Why (audited)' }),
          async (argv) => {
            await ctx.withClients(argv, async (c) => {
              await c.cas.revokeCertificate({ serial: argv.serial, reason: argv.reason }, c.auth());
              if (argv.output === 'json') return ctx.printJson({ revoked: argv.serial });
              ctx.print(`Certificate revoked: ${argv.serial}\n`);
            });
          },
        )
        .demandCommand(1, 'name a ca command: export, sign-host, ls, rotate, revoke'),
    handler: () => undefined,
  };
}
