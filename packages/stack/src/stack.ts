import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureInternalPki, internalChannelCredentials, publicChannelCredentials, type InternalPki } from '@mezite/platform';
import { startEmbeddedPostgres } from './embedded-postgres';
import { waitHealthy, waitHttpOk } from './health';
import { ensureSecrets, type StackSecrets } from './secrets';
import { spawnService, type ServiceProcess } from './service-process';

/** The three services, in start order; the auth-server last, as it calls the others. */
export const SERVICES = ['token-service', 'ssh-ca', 'auth-server'] as const;
export type ServiceName = (typeof SERVICES)[number];
/** The development OpenID Provider, the quickstart's stand-in for a tenant's human identity provider. */
export const DEV_OIDC = 'dev-oidc';
/** Every process the stack may run. */
export type ProcessName = ServiceName | typeof DEV_OIDC;
/** The development provider's demo user, made an admin of the default tenant. */
const DEV_OIDC_ADMIN = 'demo@mezite.dev';

/** Options of startStack; everything defaults to the quickstart's values. */
export interface StackOptions {
  /** Where the stack keeps its state (default `MEZITE_DATA_DIR` or `./.mezite`). */
  dataDir?: string;
  /** A PostgreSQL URL; without one the stack runs an embedded PostgreSQL in the data dir. */
  databaseUrl?: string;
  /** A Redis URL; without one token-service uses its in-memory cache. */
  redisUrl?: string;
  /** Listen addresses (`host:port`). */
  authAddr?: string;
  httpAddr?: string;
  tokenServiceAddr?: string;
  sshCaAddr?: string;
  /** Per service: where it serves Prometheus `/metrics` (its MEZITE_METRICS_ADDR); none when absent. */
  metricsAddrs?: Partial<Record<ServiceName, string>>;
  /** Per service: its plaintext grpc.health.v1 listener (its MEZITE_HEALTH_ADDR); none when absent. */
  healthAddrs?: Partial<Record<ServiceName, string>>;
  /** Port of the embedded PostgreSQL. */
  embeddedPgPort?: number;
  /**
   * Run the development OpenID Provider (default true) for `mezctl login`; skipped when
   * `MEZITE_OIDC_ISSUER` names a real provider.
   */
  devOidc?: boolean;
  /** Listen address of the development provider (default 127.0.0.1:5556). */
  devOidcAddr?: string;
  /** Extra DNS names or IPs for the auth server's TLS certificate. */
  publicHosts?: string[];
  /** Seed the demo fixtures of the seeds (tenant svc-demo, …). */
  demoFixtures?: boolean;
  /** Extra environment for every service (log level, test knobs). */
  env?: NodeJS.ProcessEnv;
  /** Restart a service that exits unexpectedly (the quickstart does; tests control it). */
  restart?: boolean;
  /** Called with one line of progress. */
  log?: (line: string) => void;
}

/** A running stack. */
export interface Stack {
  dataDir: string;
  databaseUrl: string;
  embeddedPostgres: boolean;
  redisUrl: string | undefined;
  addrs: Record<ServiceName, string> & { http: string; [DEV_OIDC]?: string };
  /** The issuer people sign in with (the development provider's, or MEZITE_OIDC_ISSUER); undefined when sign-in is off. */
  oidcIssuer: string | undefined;
  pki: InternalPki;
  secrets: StackSecrets;
  /** The admin identity file the auth-server writes. */
  adminIdentityFile: string;
  /** The running process of each service. */
  processes: Map<ProcessName, ServiceProcess>;
  /** Starts (again) one service and waits until it is healthy. */
  startService(name: ProcessName): Promise<void>;
  /** Stops one service (SIGTERM). */
  stopService(name: ProcessName): Promise<void>;
  /** Starts every service that is not running (after a crash or stopService). */
  startStopped(): Promise<void>;
  /** Stops everything, the database last. */
  stop(): Promise<void>;
}

const repoRoot = resolve(__dirname, '..', '..', '..');

/** Starts PostgreSQL (embedded unless given), the internal PKI, and the three services; resolves when all are healthy. */
export async function startStack(o: StackOptions = {}): Promise<Stack> {
  const log = o.log ?? (() => undefined);
  const dataDir = resolve(o.dataDir ?? process.env.MEZITE_DATA_DIR ?? '.mezite');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = ensureSecrets(dataDir);
  const pki = await ensureInternalPki({ dir: join(dataDir, 'pki'), names: [...SERVICES], hosts: o.publicHosts ?? [] });

  let databaseUrl = o.databaseUrl;
  let pg: { stop(): Promise<void> } | undefined;
  if (!databaseUrl) {
    const port = o.embeddedPgPort ?? 15432;
    log(`starting embedded PostgreSQL on 127.0.0.1:${port}`);
    const started = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port, log });
    databaseUrl = started.url;
    pg = started;
  }

  const addrs: Stack['addrs'] = {
    'auth-server': o.authAddr ?? '127.0.0.1:3025',
    http: o.httpAddr ?? '127.0.0.1:8080',
    'token-service': o.tokenServiceAddr ?? '127.0.0.1:3026',
    'ssh-ca': o.sshCaAddr ?? '127.0.0.1:3027',
  };
  const externalIssuer = o.env?.MEZITE_OIDC_ISSUER ?? process.env.MEZITE_OIDC_ISSUER;
  const names: ProcessName[] = [...SERVICES];
  if (o.devOidc !== false && !externalIssuer) {
    addrs[DEV_OIDC] = o.devOidcAddr ?? '127.0.0.1:5556';
    names.unshift(DEV_OIDC);
  }
  // MEZITE_DEV_OIDC_ISSUER: the URL browsers use, when not the listen address (a proxy, another host name).
  const devOidcIssuer = addrs[DEV_OIDC] ? ((o.env?.MEZITE_DEV_OIDC_ISSUER ?? process.env.MEZITE_DEV_OIDC_ISSUER) || `http://${addrs[DEV_OIDC]}`).replace(/\/$/, '') : undefined;
  const adminIdentityFile = join(dataDir, 'admin-identity.json');
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.env,
    MEZITE_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    MEZITE_TLS_CA: pki.caCertPath,
    MEZITE_TOKEN_PEPPER: secrets.token_pepper,
    MEZITE_SESSION_PEPPER: secrets.session_pepper,
    MEZITE_CA_KEK: secrets.ca_kek,
    MEZITE_AUTH_SERVER_ADDR: addrs['auth-server'],
    MEZITE_HTTP_ADDR: addrs.http,
    MEZITE_TOKEN_SERVICE_ADDR: addrs['token-service'],
    MEZITE_SSH_CA_ADDR: addrs['ssh-ca'],
    MEZITE_TOKEN_SERVICE_TARGET: addrs['token-service'],
    MEZITE_SSH_CA_TARGET: addrs['ssh-ca'],
    MEZITE_ADMIN_IDENTITY_FILE: adminIdentityFile,
    MEZITE_DEMO_FIXTURES: o.demoFixtures === false ? 'false' : 'true',
  };
  if (devOidcIssuer) {
    baseEnv.MEZITE_DEV_OIDC_ADDR = addrs[DEV_OIDC];
    baseEnv.MEZITE_DEV_OIDC_ISSUER = devOidcIssuer;
    baseEnv.MEZITE_OIDC_ISSUER = devOidcIssuer;
    baseEnv.MEZITE_OIDC_ADMINS = o.env?.MEZITE_OIDC_ADMINS ?? process.env.MEZITE_OIDC_ADMINS ?? DEV_OIDC_ADMIN;
  }
  if (o.redisUrl) baseEnv.REDIS_URL = o.redisUrl;
  else delete baseEnv.REDIS_URL;
  // One address or service name for three processes would clash: these are set per service below.
  for (const k of ['MEZITE_METRICS_ADDR', 'MEZITE_HEALTH_ADDR', 'OTEL_SERVICE_NAME']) delete baseEnv[k];
  const opsEnv = (name: ServiceName): NodeJS.ProcessEnv => ({
    ...(o.metricsAddrs?.[name] ? { MEZITE_METRICS_ADDR: o.metricsAddrs[name] } : {}),
    ...(o.healthAddrs?.[name] ? { MEZITE_HEALTH_ADDR: o.healthAddrs[name] } : {}),
  });

  const processes = new Map<ProcessName, ServiceProcess>();
  const healthy = new Set<ProcessName>();
  let stopping = false;
  const statusFile = join(dataDir, 'stack.json');
  /** Publishes what runs where (0600), for tooling and the end-to-end tests. */
  const writeStatus = () => {
    const services: Record<string, { pid: number | undefined; addr: string; healthy: boolean }> = {};
    for (const n of names) services[n] = { pid: processes.get(n)?.child.pid, addr: addrs[n] ?? '', healthy: healthy.has(n) };
    const status = { pid: process.pid, dataDir, databaseUrl, embeddedPostgres: Boolean(pg), redisUrl: o.redisUrl ?? null, addrs, metricsAddrs: o.metricsAddrs ?? {}, healthAddrs: o.healthAddrs ?? {}, adminIdentityFile, services };
    const tmp = `${statusFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, statusFile);
  };
  const clientCreds = internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: pki.leaf('auth-server').certPem, keyPem: pki.leaf('auth-server').keyPem });

  const startService = async (name: ProcessName): Promise<void> => {
    const p =
      name === DEV_OIDC
        ? spawnService({ name, entry: join(__dirname, 'dev-oidc', 'main.js'), env: baseEnv, logFile: join(dataDir, 'logs', `${name}.log`) })
        : spawnService({
            name,
            entry: join(repoRoot, 'services', name, 'dist', 'main.js'),
            env: { ...baseEnv, ...opsEnv(name), MEZITE_TLS_CERT: pki.leaf(name).certPath, MEZITE_TLS_KEY: pki.leaf(name).keyPath },
            logFile: join(dataDir, 'logs', `${name}.log`),
          });
    processes.set(name, p);
    healthy.delete(name);
    let exited: string | undefined;
    void p.exited.then((code) => {
      healthy.delete(name);
      if (!stopping) writeStatus();
      exited = `${name} exited (${code}) during start: ${p.stderrTail() || `see ${join(dataDir, 'logs', `${name}.log`)}`}`;
      if (!stopping && o.restart && processes.get(name) === p) {
        log(`${name} exited (${code}); restarting in 1s`);
        setTimeout(() => {
          if (!stopping) startService(name).catch((err: unknown) => log(`${name} failed to restart: ${(err as Error).message}`));
        }, 1000);
      }
    });
    if (name === DEV_OIDC) await waitHttpOk(`http://${addrs[DEV_OIDC]}/.well-known/openid-configuration`, { timeoutMs: 60_000, failed: () => exited });
    else {
      const creds = name === 'auth-server' ? publicChannelCredentials(pki.caCertPem) : clientCreds;
      await waitHealthy(addrs[name], creds, { timeoutMs: 60_000, failed: () => exited, targetName: name === 'auth-server' ? 'localhost' : name });
    }
    healthy.add(name);
    writeStatus();
  };

  const stop = async () => {
    stopping = true;
    for (const name of [...names].reverse()) await processes.get(name)?.stop();
    await pg?.stop();
  };

  try {
    // The auth-server needs the others at start (it reads the provider's discovery only at the first sign-in).
    await Promise.all(names.filter((n) => n !== 'auth-server').map(startService));
    await startService('auth-server');
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dataDir,
    databaseUrl,
    embeddedPostgres: Boolean(pg),
    redisUrl: o.redisUrl,
    addrs,
    oidcIssuer: devOidcIssuer ?? (externalIssuer || undefined),
    pki,
    secrets,
    adminIdentityFile,
    processes,
    startService,
    stopService: async (name) => processes.get(name)?.stop(),
    startStopped: async () => {
      for (const name of names) {
        const p = processes.get(name);
        if (!p || p.child.exitCode !== null || p.child.signalCode !== null) await startService(name);
      }
    },
    stop,
  };
}
