import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type Clock, isMeziteError, parseDuration, systemClock, unauthenticated } from '@mezite/identity';
import { createLogger, createMeziteClients, type Logger, type MeziteCallOptions, publicChannelCredentials } from '@mezite/platform/client';
import { authv1 } from '@mezite/proto';
import { fingerprintSha256, parseCertificate, parsePrivateKey, parsePublicKey, signRenewal } from '@mezite/ssh';
import type { Client } from 'nice-grpc';
import { parseHostPort } from './address';
import { writeFileAtomic } from './atomic-file';
import { establishTrust } from './ca-trust';
import { UsageError } from './errors';
import type { SignalSource } from './identity-start';
import { systemTimers, type Timers } from './timers';

/** The settings of `mezd node start`. */
export interface NodeConfig {
  authServer: string;
  joinToken?: string | undefined;
  /** The host's public key file (…/ssh_host_ed25519_key.pub); its private half must be next to it. */
  hostKey: string;
  /** Where the certificate, trusted CAs, KRL, node file and sshd_config snippet go. */
  destination: string;
  dataDir: string;
  caPin?: string | undefined;
  /** How often the KRL and the trusted User CAs are fetched again. */
  refreshIntervalMs: number;
  /** Host certificate lifetime to ask for; renewed at 2/3 of it. */
  certificateTtlMs: number;
  oneShot: boolean;
  /** The command sshd runs as AuthorizedPrincipalsCommand (absolute paths). */
  principalsCommand: string;
  /** The user sshd runs it as. */
  principalsCommandUser: string;
}

/** What `node start` needs from its process; tests pass their own. */
export interface NodeStartIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  signals: SignalSource;
  clock?: Clock;
  timers?: Timers;
}

/** The node's state between runs: the auth server's CA and the newest host certificate. */
interface NodeState {
  version: 1;
  authServer: string;
  caCertPem: string;
  hostCertificate: string;
  node: NodeFile;
}

/** What `mezd authorized-principals` reads: the node's name, labels and tenant. */
export interface NodeFile {
  name: string;
  labels: Record<string, string>;
  /** The node's tenant id; written since issue 14 (a file without it admits no login). */
  tenant?: string;
}

export const ROOT_NODE_DATA_DIR = '/var/lib/mezite/node';
export const NODE_FILE = 'node.json';
export const USER_CA_FILE = 'user_ca.pub';
export const KRL_FILE = 'revoked_keys.krl';
export const SSHD_SNIPPET = 'sshd_config';

/** Reads and checks the flags of `mezd node start`. */
export function nodeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, isRoot: boolean, home: string): NodeConfig {
  const str = (k: string) => (typeof flags[k] === 'string' && flags[k] !== '' ? (flags[k] as string) : undefined);
  const authServer = str('auth-server') ?? env.MEZITE_AUTH_SERVER;
  if (!authServer) throw new UsageError('--auth-server is required (or MEZITE_AUTH_SERVER)');
  parseHostPort(authServer);
  const hostKey = resolve(str('host-key') ?? '/etc/ssh/ssh_host_ed25519_key.pub');
  if (!hostKey.endsWith('.pub')) throw new UsageError(`--host-key ${hostKey}: give the public key file (…/ssh_host_ed25519_key.pub); its private key must be next to it`);
  const duration = (k: string, dflt: string, min: number) => {
    const ms = parseDuration(str(k) ?? dflt, `--${k}`);
    if (ms < min) throw new UsageError(`--${k} must be at least ${min / 1000}s`);
    return ms;
  };
  const caPin = (str('ca-pin') ?? env.MEZITE_CA_PIN)?.toLowerCase();
  if (caPin !== undefined && !/^sha256:[0-9a-f]{64}$/.test(caPin)) throw new UsageError('--ca-pin must be sha256:<64 hex digits> (ca_pin in /.well-known/mezite)');
  const mezd = resolve(process.argv[1] ?? 'mezd');
  return {
    authServer,
    joinToken: str('join-token') ?? env.MEZITE_JOIN_TOKEN,
    hostKey,
    destination: resolve(str('destination') ?? '/etc/ssh/mezite'),
    dataDir: resolve(str('data-dir') ?? (isRoot ? ROOT_NODE_DATA_DIR : join(home, '.local', 'state', 'mezite', 'node'))),
    caPin,
    refreshIntervalMs: duration('refresh-interval', '1m', 1000),
    certificateTtlMs: duration('certificate-ttl', '24h', 60_000),
    oneShot: flags['one-shot'] === true,
    principalsCommand: str('principals-command') ?? `${process.execPath} ${mezd} authorized-principals`,
    principalsCommandUser: str('principals-command-user') ?? 'nobody',
  };
}

type JoinClient = Client<typeof authv1.JoinServiceDefinition, MeziteCallOptions>;
type CaClient = Client<typeof authv1.CertAuthorityServiceDefinition, MeziteCallOptions>;

/**
 * `mezd node start`: enrolls a stock OpenSSH server. It joins once with the node's
 * one-time token and its existing host key, then keeps four files fresh for sshd —
 * the host certificate (renewed at 2/3 of its life, proving possession of the host
 * key), the trusted User CAs (a CA rotation reaches sshd here), the KRL (a lock or
 * revocation reaches sshd here, every --refresh-interval) and the node file that
 * `mezd authorized-principals` reads — and writes the sshd_config snippet that wires
 * them in. Files are replaced atomically; sshd reads them on each connection.
 */
export async function nodeStart(config: NodeConfig, io: NodeStartIo): Promise<number> {
  const clock = io.clock ?? systemClock;
  const timers = io.timers ?? systemTimers;
  const log: Logger = createLogger({ service: 'mezd-node', write: (l) => io.stdout(l + '\n') }).child({ auth_server: config.authServer });
  const hostPublic = (await readFile(config.hostKey, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--host-key ${config.hostKey}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  })).trim();
  const hostKeyBlob = parsePublicKey(hostPublic).blob;
  const privatePath = config.hostKey.slice(0, -'.pub'.length);
  const hostPrivate = parsePrivateKey(await readFile(privatePath, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`the host private key ${privatePath} cannot be read (${e.code ?? e.message}); mezd node runs as root on the node`);
  }), privatePath);
  const statePath = join(config.dataDir, 'node-state.json');
  let state = await readState(statePath);
  if (state && state.authServer !== config.authServer) log.warn('the data dir holds a node identity from another auth server address', { saved_auth_server: state.authServer });
  const usable = state && parseCertificate(state.hostCertificate).validBefore > clock.now();
  if (!usable && !config.joinToken) throw new UsageError(state ? `--join-token is required: the host certificate in ${statePath} has expired` : `--join-token is required on the first start (${statePath} holds no node identity)`);
  const trust = await establishTrust({ address: config.authServer, caPin: config.caPin, pinned: state ? { caCertPem: state.caCertPem, from: statePath } : undefined, warn: io.stderr });
  log.info('auth server CA trusted', { ca_pin: trust.pin, source: trust.source, host_key: fingerprintSha256(hostKeyBlob) });
  const clients = createMeziteClients({ address: config.authServer, credentials: publicChannelCredentials(trust.caCertPem), peerName: `auth server ${config.authServer}`, defaultDeadlineMs: 15_000 });
  const joins: JoinClient = clients.create(authv1.JoinServiceDefinition);
  const cas: CaClient = clients.create(authv1.CertAuthorityServiceDefinition);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await mkdir(config.destination, { recursive: true, mode: 0o755 });
  const certFile = join(config.destination, `${basename(privatePath)}-cert.pub`);
  const ttlSeconds = Math.ceil(config.certificateTtlMs / 1000);

  const save = async (r: authv1.NodeCertificateResponse) => {
    const node: NodeFile = { name: r.node?.name ?? '', labels: r.node?.labels ?? {}, tenant: r.tenantId };
    state = { version: 1, authServer: config.authServer, caCertPem: trust.caCertPem, hostCertificate: r.hostCertificate.trim(), node };
    await writeFileAtomic(statePath, JSON.stringify(state, null, 2) + '\n', 0o600);
    await writeFileAtomic(certFile, state.hostCertificate + '\n', 0o644);
    await writeFileAtomic(join(config.destination, NODE_FILE), JSON.stringify(node, null, 2) + '\n', 0o644);
    await writeTrustedCas(r.userCertAuthorities);
    log.info('host certificate written', { node: node.name, file: certFile, expires: r.expireTime?.toISOString(), principals: r.principals });
  };
  let lastCas = '';
  const writeTrustedCas = async (keys: string[]) => {
    const text = keys.map((k) => k.trim()).filter(Boolean).join('\n') + '\n';
    if (text === lastCas) return;
    await writeFileAtomic(join(config.destination, USER_CA_FILE), text, 0o644);
    if (lastCas) log.info('trusted User CAs changed', { count: keys.length });
    lastCas = text;
  };
  let lastKrl: Buffer | undefined;
  const refresh = async () => {
    const [krl, userCas] = await Promise.all([cas.getRevocationList({}), cas.exportCertAuthorities({ type: 'user' })]);
    const bytes = Buffer.from(krl.krl);
    if (!lastKrl || !lastKrl.equals(bytes)) {
      await writeFileAtomic(join(config.destination, KRL_FILE), bytes, 0o644);
      log.info('KRL written', { revoked_certificates: Number(krl.revokedCertificates), bytes: bytes.length });
      lastKrl = bytes;
    }
    await writeTrustedCas(userCas.publicKeys);
  };
  const renewIfDue = async () => {
    const cert = parseCertificate((state as NodeState).hostCertificate);
    const life = cert.validBefore.getTime() - cert.validAfter.getTime();
    // A state saved before nodes knew their tenant renews at once: until then its node file admits no login.
    const knowsTenant = !!(state as NodeState).node.tenant;
    if (knowsTenant && clock.now().getTime() < cert.validAfter.getTime() + (life * 2) / 3) return;
    const begun = await joins.beginNodeRenewal({ hostCertificate: (state as NodeState).hostCertificate });
    const signature = signRenewal(hostPrivate, Buffer.from(begun.challenge), hostKeyBlob);
    await save(await joins.completeNodeRenewal({ challengeId: begun.challengeId, signature, requestedTtlSeconds: ttlSeconds }));
  };

  try {
    if (!usable) {
      await save(await joins.joinNode({ joinToken: config.joinToken as string, hostPublicKey: hostPublic, requestedTtlSeconds: ttlSeconds }));
    } else {
      await writeFileAtomic(certFile, (state as NodeState).hostCertificate + '\n', 0o644);
      await writeFileAtomic(join(config.destination, NODE_FILE), JSON.stringify((state as NodeState).node, null, 2) + '\n', 0o644);
      await renewIfDue();
    }
    await refresh();
    await writeFileAtomic(join(config.destination, SSHD_SNIPPET), sshdSnippet(config, certFile), 0o644);
    if (config.oneShot) return 0;

    log.info('started', { node: state?.node.name, destination: config.destination, refresh_interval_s: config.refreshIntervalMs / 1000 });
    let stopped = false;
    let wake: (() => void) | undefined;
    const onHup = () => wake?.();
    const onStop = () => {
      stopped = true;
      wake?.();
    };
    io.signals.on('SIGHUP', onHup);
    io.signals.on('SIGTERM', onStop);
    io.signals.on('SIGINT', onStop);
    try {
      while (!stopped) {
        await new Promise<void>((res) => {
          const t = timers.set(res, config.refreshIntervalMs);
          wake = () => {
            timers.clear(t);
            res();
          };
        });
        if (stopped) break;
        try {
          await renewIfDue();
          await refresh();
        } catch (err) {
          // Keep serving the last files: sshd keeps enforcing the last KRL we wrote.
          log.warn('refresh failed; keeping the files written last', { code: isMeziteError(err) ? err.code : 'Internal', reason: (err as Error).message });
        }
      }
      log.info('stopped');
      return 0;
    } finally {
      io.signals.off('SIGHUP', onHup);
      io.signals.off('SIGTERM', onStop);
      io.signals.off('SIGINT', onStop);
    }
  } finally {
    clients.close();
  }
}

/** The sshd_config lines that make sshd use what mezd node keeps fresh. */
export function sshdSnippet(config: NodeConfig, certFile: string): string {
  const d = config.destination;
  return [
    '# Written by mezd node. Include it from /etc/ssh/sshd_config (before any Match block):',
    `#   Include ${join(d, SSHD_SNIPPET)}`,
    `HostCertificate ${certFile}`,
    `TrustedUserCAKeys ${join(d, USER_CA_FILE)}`,
    `RevokedKeys ${join(d, KRL_FILE)}`,
    `AuthorizedPrincipalsCommand ${config.principalsCommand} --node-file=${join(d, NODE_FILE)} %u %t %k`,
    `AuthorizedPrincipalsCommandUser ${config.principalsCommandUser}`,
    '',
  ].join('\n');
}

async function readState(path: string): Promise<NodeState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const s = JSON.parse(text) as NodeState;
  if (s?.version !== 1 || typeof s.hostCertificate !== 'string' || typeof s.caCertPem !== 'string') throw unauthenticated(`${path} is not a mezd node state file; remove it to join again`);
  return s;
}

/** Reads the node file for `mezd authorized-principals`; null when it cannot (the login is then refused). */
export function readNodeFile(path: string): NodeFile | null {
  try {
    const n = JSON.parse(readFileSync(path, 'utf8')) as NodeFile;
    if (typeof n?.name !== 'string' || typeof n.labels !== 'object' || n.labels === null || Array.isArray(n.labels)) return null;
    if (n.tenant !== undefined && typeof n.tenant !== 'string') return null;
    for (const v of Object.values(n.labels)) if (typeof v !== 'string') return null;
    return n;
  } catch {
    return null;
  }
}
