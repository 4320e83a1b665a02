import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import yargs from 'yargs';
import { invalidArgument, isMeziteError, notFound } from '@mezite/identity';
import { createMeziteClient, publicChannelCredentials } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { CERT_AUTH_SCHEME, encodePublicKey, makeCertAuthCredential, parseCertificate, parsePrivateKey } from '@mezite/ssh';
import { Metadata } from 'nice-grpc';
import { reportError, UsageError } from './errors';
import { formatTable } from './output';

/** Where `mezd identity` records its last destination, so `msh` finds the certificate without flags. */
export function identityPointerPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.MEZITE_HOME ?? join(homedir(), '.mezite'), 'identity.json');
}

/** What mezd identity records for msh: where the certificate is and which auth server issued it. */
interface IdentityPointer {
  destination?: string;
  auth_server?: string;
  ca_cert?: string;
}

/** The file mezd identity writes beside each destination's certificate (DESTINATION_RECORD in @mezite/daemon). */
const DESTINATION_RECORD = 'mezite-auth.json';

function readJson(path: string): IdentityPointer {
  try {
    const doc = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return doc !== null && typeof doc === 'object' ? (doc as IdentityPointer) : {};
  } catch {
    return {};
  }
}

function readPointer(env: NodeJS.ProcessEnv): IdentityPointer {
  return readJson(identityPointerPath(env));
}

/** Where msh asks about nodes, or why it cannot. */
type InventoryTarget = { address: string; caCertPem: string } | { why: string };

/**
 * The auth server msh asks about nodes: `--auth-server`/MEZITE_AUTH_SERVER, else the one
 * mezd identity recorded beside the certificate (`mezite-auth.json`), else the one in
 * ~/.mezite/identity.json when the certificate is the one it names; with the CA recorded
 * with it (or MEZITE_CA_CERT). Otherwise the reason there is none.
 */
export function inventoryTarget(flag: string | undefined, env: NodeJS.ProcessEnv, cert: string): InventoryTarget {
  const beside = readJson(join(dirname(cert), DESTINATION_RECORD));
  const p = readPointer(env);
  const pointed = p.destination !== undefined && resolve(p.destination) === dirname(cert) ? p : {};
  const record = typeof beside.auth_server === 'string' ? beside : pointed;
  const address = flag ?? env.MEZITE_AUTH_SERVER ?? record.auth_server;
  if (!address) return { why: `no auth server is recorded beside ${cert} (${DESTINATION_RECORD}, written by mezd identity) and none was given (--auth-server, MEZITE_AUTH_SERVER)` };
  const caFile = env.MEZITE_CA_CERT;
  const caCertPem = caFile ? readFileSync(caFile, 'utf8') : record.auth_server === address ? record.ca_cert : undefined;
  if (!caCertPem) throw invalidArgument(`no CA for the auth server ${address}: run mezd identity start first (it records it beside the certificate), or set MEZITE_CA_CERT to the CA's PEM file`);
  return { address, caCertPem };
}

/**
 * Calls the auth server's NodeService as the bot, authenticated by its certificate:
 * a signature by the certificate's key over the current time (no other secret).
 */
async function withInventory<T>(certPath: string, target: { address: string; caCertPem: string }, fn: (nodes: ReturnType<typeof nodeClient>['client'], md: Metadata) => Promise<T>): Promise<T> {
  const certLine = readFileSync(certPath, 'utf8').trim();
  const key = parsePrivateKey(readFileSync(certPath.slice(0, -'-cert.pub'.length), 'utf8'), 'the private key next to --cert');
  const credential = makeCertAuthCredential(parseCertificate(certLine).blob, key, new Date());
  const c = nodeClient(target);
  try {
    return await fn(c.client, Metadata({ authorization: `${CERT_AUTH_SCHEME} ${credential}` }));
  } finally {
    c.close();
  }
}

function nodeClient(target: { address: string; caCertPem: string }) {
  return createMeziteClient(authv1.NodeServiceDefinition, { address: target.address, credentials: publicChannelCredentials(target.caCertPem), peerName: `auth server ${target.address}`, defaultDeadlineMs: 15_000 });
}

/**
 * Copies the certificate, its key and known_hosts into a private temporary directory,
 * after checking the certificate certifies that key. mezd replaces the files one by
 * one while renewing; reading them during a renewal can pair a new key with the old
 * certificate, which ssh would offer and the server refuse. A mismatch is read again
 * (for up to two seconds) rather than passed on.
 */
export async function snapshotIdentity(certPath: string): Promise<{ dir: string; cert: string }> {
  const keyPath = certPath.slice(0, -'-cert.pub'.length);
  const knownHosts = join(dirname(certPath), 'known_hosts');
  if (!existsSync(certPath)) throw invalidArgument(`--cert ${certPath}: no such file`);
  if (!existsSync(keyPath)) throw invalidArgument(`private key ${keyPath} (next to --cert) is missing`);
  for (let attempt = 0; ; attempt++) {
    const certLine = readFileSync(certPath, 'utf8');
    const keyText = readFileSync(keyPath, 'utf8');
    let matches = false;
    try {
      matches = encodePublicKey(parsePrivateKey(keyText, keyPath)).equals(parseCertificate(certLine.trim()).subjectKey.blob);
    } catch {
      matches = false;
    }
    if (matches || attempt >= 40) {
      const dir = mkdtempSync(join(tmpdir(), 'msh-'));
      writeFileSync(join(dir, 'ssh_key'), keyText, { mode: 0o600 });
      writeFileSync(join(dir, 'ssh_key-cert.pub'), certLine, { mode: 0o644 });
      if (existsSync(knownHosts)) writeFileSync(join(dir, 'known_hosts'), readFileSync(knownHosts), { mode: 0o644 });
      return { dir, cert: join(dir, 'ssh_key-cert.pub') };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `host:port` → parts (IPv6 in brackets). */
function splitAddr(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(addr);
  if (!m) throw invalidArgument(`the inventory holds a malformed address "${addr}"`);
  return { host: m[1] as string, port: Number(m[2]) };
}

/**
 * The certificate to use: `--cert`, then `MEZITE_CERT`, then the destination mezd
 * wrote last (recorded in ~/.mezite/identity.json), then /var/lib/mezite/identity/certs.
 */
export function findCertificate(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return resolve(flag);
  if (env.MEZITE_CERT) return resolve(env.MEZITE_CERT);
  const p = readPointer(env);
  if (p.destination && existsSync(join(p.destination, 'ssh_key-cert.pub'))) return join(p.destination, 'ssh_key-cert.pub');
  const fallback = '/var/lib/mezite/identity/certs/ssh_key-cert.pub';
  if (existsSync(fallback)) return fallback;
  throw invalidArgument('no certificate: pass --cert=DIR/ssh_key-cert.pub, or run mezd identity start first');
}

/** The ssh(1) arguments that use a Mezite certificate, its key and its known_hosts. */
export function sshArgs(o: { cert: string; login?: string | undefined; port?: number | undefined; node: string; command: string[]; sshConfig?: string | undefined; hostKeyAlias?: string | undefined }): string[] {
  if (!o.cert.endsWith('-cert.pub')) throw invalidArgument(`--cert ${o.cert}: expected a file named …-cert.pub next to its private key`);
  const key = o.cert.slice(0, -'-cert.pub'.length);
  if (!existsSync(o.cert)) throw invalidArgument(`--cert ${o.cert}: no such file`);
  if (!existsSync(key)) throw invalidArgument(`private key ${key} (next to --cert) is missing`);
  const args = [...(o.sshConfig ? ['-F', o.sshConfig] : []), '-i', key, '-o', `CertificateFile=${o.cert}`, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes'];
  const knownHosts = join(dirname(o.cert), 'known_hosts');
  if (existsSync(knownHosts)) args.push('-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes');
  // The host certificate names the node: check it by name whatever address ssh dials.
  if (o.hostKeyAlias) args.push('-o', `HostKeyAlias=${o.hostKeyAlias}`);
  if (o.login) args.push('-l', o.login);
  if (o.port) args.push('-p', String(o.port));
  args.push(o.node);
  if (o.command.length) args.push('--', ...o.command);
  return args;
}

/**
 * `msh ssh [--cert FILE] [--login USER] NODE [-- COMMAND]`: runs the system `ssh`
 * with the bot's key, certificate and known_hosts, passing the remote command through
 * and returning its exit code. The node name resolves through the auth server's
 * inventory (asked as the bot, with its certificate); without a known auth server it
 * resolves as ssh resolves it (ssh_config, DNS). `msh ls` lists the nodes the bot may
 * reach and its logins there.
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
          .option('ssh-config', { type: 'string', describe: 'ssh_config file for host names and ports (ssh -F); env MSH_SSH_CONFIG' })
          .option('auth-server', { type: 'string', describe: 'Auth server to resolve the node with (default: the one mezd identity recorded; env MEZITE_AUTH_SERVER)' }),
      async (a) => {
        const cert = findCertificate(a.cert, env);
        let node = a.node;
        let login = a.login;
        const at = node.lastIndexOf('@');
        if (at > 0) {
          login ??= node.slice(0, at);
          node = node.slice(at + 1);
        }
        let port = a.port;
        let host = node;
        let alias: string | undefined;
        const target = inventoryTarget(a.authServer, env, cert);
        if ('why' in target) {
          process.stderr.write(`msh: not asking the inventory: ${target.why}; "${node}" resolves as ssh resolves it\n`);
        } else {
          const n = await withInventory(cert, target, (nodes, metadata) =>
            nodes.getNode({ name: node }, { metadata }).catch((err: unknown) => {
              if (isMeziteError(err, 'NotFound')) throw notFound(`node "${node}" is not in the inventory or your roles do not reach it (msh ls lists the nodes you may reach)`);
              throw err;
            }),
          );
          const addr = splitAddr(n.addr);
          host = addr.host;
          port ??= addr.port;
          alias = n.name;
        }
        // mezd may be renewing right now: hand ssh a key and certificate that belong together.
        const snapshot = await snapshotIdentity(cert);
        try {
          const args = sshArgs({ cert: snapshot.cert, login, port, node: host, command, sshConfig: a.sshConfig ?? env.MSH_SSH_CONFIG, hostKeyAlias: alias });
          code = await new Promise<number>((res, rej) => {
            const child = spawn(env.MSH_SSH ?? 'ssh', args, { stdio: 'inherit', env });
            child.once('error', (e) => rej(invalidArgument(`cannot run ssh: ${e.message}`)));
            child.once('exit', (c, sig) => res(c ?? (sig ? 128 + 15 : 1)));
          });
        } finally {
          rmSync(snapshot.dir, { recursive: true, force: true });
        }
      },
    )
    .command(
      ['ls', 'list'],
      'List the nodes your roles reach, with your logins there',
      (y) =>
        y
          .option('cert', { type: 'string', describe: 'Certificate file (ssh_key-cert.pub) written by mezd identity' })
          .option('auth-server', { type: 'string', describe: 'Auth server (default: the one mezd identity recorded; env MEZITE_AUTH_SERVER)' })
          .option('output', { alias: 'o', choices: ['text', 'json'] as const, default: 'text' as const }),
      async (a) => {
        const cert = findCertificate(a.cert, env);
        const target = inventoryTarget(a.authServer, env, cert);
        if ('why' in target) throw invalidArgument(`cannot list nodes: ${target.why}`);
        const nodes: authv1.Node[] = [];
        await withInventory(cert, target, async (client, metadata) => {
          let pageToken = '';
          do {
            const r = await client.listNodes({ pageSize: 500, pageToken }, { metadata });
            nodes.push(...r.nodes);
            pageToken = r.nextPageToken;
          } while (pageToken);
        });
        const labels = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',');
        if (a.output === 'json') process.stdout.write(JSON.stringify({ items: nodes.map((n) => ({ name: n.name, addr: n.addr, labels: n.labels, logins: n.logins })) }, null, 2) + '\n');
        else process.stdout.write(formatTable(['NAME', 'ADDR', 'LABELS', 'LOGINS'], nodes.map((n) => [n.name, n.addr, labels(n.labels), n.logins.join(',')])));
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
