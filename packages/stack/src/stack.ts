import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureInternalPki, ensureServiceRoles, internalChannelCredentials, publicChannelCredentials, type InternalPki } from '@mezite/platform';
import { startEmbeddedPostgres } from './embedded-postgres';
import { waitHealthy, waitHttpOk } from './health';
import { balancedTarget, replicaList } from './replicas';
import { ensureSecrets, type StackSecrets } from './secrets';
import { secretEnv, serviceRoles, withoutSecrets } from './service-env';
import { spawnService, type ServiceProcess } from './service-process';

/** The three services, in start order; the auth-server last, as it calls the others. */
export const SERVICES = ['token-service', 'ssh-ca', 'auth-server'] as const;
export type ServiceName = (typeof SERVICES)[number];
/** The development OpenID Provider, the quickstart's stand-in for a tenant's human identity provider. */
export const DEV_OIDC = 'dev-oidc';
/** One running copy of a service: `auth-server` is the first replica, `auth-server#2` the second. */
export type InstanceName = ServiceName | `${ServiceName}#${number}`;
/** Every process the stack may run. */
export type ProcessName = InstanceName | typeof DEV_OIDC;
/** The process name of replica `index` (0-based) of `service`. */
export function instanceName(service: ServiceName, index: number): InstanceName {
  return index === 0 ? service : `${service}#${index + 1}`;
}
/** Listeners that get one address per replica. */
type ReplicatedListener = ServiceName | 'http';
/** The development provider's demo user, made an admin of the default tenant. */
const DEV_OIDC_ADMIN = 'demo@mezite.dev';

/** Options of startStack; everything defaults to the quickstart's values. */
export interface StackOptions {
  /** Where the stack keeps its state (default `MEZITE_DATA_DIR` or `./.mezite`). */
  dataDir?: string;
  /**
   * A PostgreSQL URL of a superuser (or a role with CREATEROLE); without one the stack
   * runs an embedded PostgreSQL in the data dir. The stack alone uses it: it makes each
   * service's role and gives the service a URL of that role.
   */
  databaseUrl?: string;
  /**
   * A Redis URL; without one token-service uses its in-memory cache. With replicas, a
   * comma-separated list of one URL per replica may give each its own way to the same
   * Redis (the chaos tests cut one replica off through a proxy).
   */
  redisUrl?: string;
  /**
   * Listen addresses (`host:port`). With replicas, a comma-separated list with one
   * address per replica, or one address: replica i then listens on its port + 10·i.
   */
  authAddr?: string;
  httpAddr?: string;
  tokenServiceAddr?: string;
  sshCaAddr?: string;
  /**
   * Copies of each service (default 1), sharing the database and Redis; the
   * auth-servers balance their calls over every token-service and ssh-ca replica.
   * More than one needs `redisUrl`: token-service's in-memory cache is per process,
   * so replicas would disagree about revocations.
   */
  replicas?: number;
  /** Per service: where its first replica serves Prometheus `/metrics` (its MEZITE_METRICS_ADDR); none when absent. */
  metricsAddrs?: Partial<Record<ServiceName, string>>;
  /** Per service: its first replica's plaintext grpc.health.v1 listener (its MEZITE_HEALTH_ADDR); none when absent. */
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
  /** Extra environment for every service (log level, test knobs); secrets in it (service-env.ts SECRET_ENV_KEYS) are dropped. */
  env?: NodeJS.ProcessEnv;
  /** Restart a service that exits unexpectedly (the quickstart does; tests control it). */
  restart?: boolean;
  /** Called with one line of progress. */
  log?: (line: string) => void;
}

/** A running stack. */
export interface Stack {
  dataDir: string;
  /** The superuser's URL the stack sets the database up with; no service gets it. */
  databaseUrl: string;
  /** The URL each service connects with: its own role, which owns only its schema. */
  serviceDatabaseUrls: Record<ServiceName, string>;
  embeddedPostgres: boolean;
  redisUrl: string | undefined;
  /** Where the first replica of each service listens. */
  addrs: Record<ServiceName, string> & { http: string; [DEV_OIDC]?: string };
  /** Copies of each service. */
  replicas: number;
  /** Per listener, the address of each replica (the first is the one in `addrs`). */
  replicaAddrs: Record<ReplicatedListener, string[]>;
  /** The issuer people sign in with (the development provider's, or MEZITE_OIDC_ISSUER); undefined when sign-in is off. */
  oidcIssuer: string | undefined;
  pki: InternalPki;
  secrets: StackSecrets;
  /** The admin identity file the auth-server writes. */
  adminIdentityFile: string;
  /** The running process of each service instance. */
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
  const replicas = o.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9) throw new Error(`replicas must be an integer from 1 to 9, got ${String(o.replicas)}`);
  if (replicas > 1 && !o.redisUrl) throw new Error(`${replicas} replicas need a shared cache: set REDIS_URL (token-service's in-memory cache is per process, so replicas would disagree about revoked tokens)`);
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
  const adminDatabaseUrl = databaseUrl;
  // Each service connects as its own role, owner of its schema alone; run at every start (idempotent).
  try {
    await ensureServiceRoles({ adminUrl: adminDatabaseUrl, roles: Object.values(serviceRoles(secrets)) });
  } catch (err) {
    await pg?.stop();
    throw new Error(`cannot set up the services' database roles (DATABASE_URL must be a superuser's, or a role with CREATEROLE): ${(err as Error).message}`, { cause: err });
  }
  // One Redis for every replica, or one URL per replica (a chaos test cuts one off through a proxy).
  const redisUrls = (o.redisUrl ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  if (redisUrls.length > 1 && redisUrls.length !== replicas) throw new Error(`REDIS_URL: expected one URL or ${replicas} comma-separated URLs (one per replica), got ${redisUrls.length}`);
  const perProcess = secretEnv({ secrets, adminDatabaseUrl, redisUrl: redisUrls[0], env: { ...process.env, ...o.env } });

  const replicaAddrs: Record<ReplicatedListener, string[]> = {
    'auth-server': replicaList(o.authAddr ?? '127.0.0.1:3025', replicas, 'authAddr'),
    http: replicaList(o.httpAddr ?? '127.0.0.1:8080', replicas, 'httpAddr'),
    'token-service': replicaList(o.tokenServiceAddr ?? '127.0.0.1:3026', replicas, 'tokenServiceAddr'),
    'ssh-ca': replicaList(o.sshCaAddr ?? '127.0.0.1:3027', replicas, 'sshCaAddr'),
  };
  const first = (l: ReplicatedListener) => replicaAddrs[l][0] as string;
  const addrs: Stack['addrs'] = { 'auth-server': first('auth-server'), http: first('http'), 'token-service': first('token-service'), 'ssh-ca': first('ssh-ca') };
  const externalIssuer = o.env?.MEZITE_OIDC_ISSUER ?? process.env.MEZITE_OIDC_ISSUER;
  const instances = (s: ServiceName): InstanceName[] => Array.from({ length: replicas }, (_, i) => instanceName(s, i));
  const names: ProcessName[] = SERVICES.flatMap(instances);
  if (o.devOidc !== false && !externalIssuer) {
    addrs[DEV_OIDC] = o.devOidcAddr ?? '127.0.0.1:5556';
    names.unshift(DEV_OIDC);
  }
  // MEZITE_DEV_OIDC_ISSUER: the URL browsers use, when not the listen address (a proxy, another host name).
  const devOidcIssuer = addrs[DEV_OIDC] ? ((o.env?.MEZITE_DEV_OIDC_ISSUER ?? process.env.MEZITE_DEV_OIDC_ISSUER) || `http://${addrs[DEV_OIDC]}`).replace(/\/$/, '') : undefined;
  const adminIdentityFile = join(dataDir, 'admin-identity.json');
  // Common to every process, and free of secrets: each process adds its own from perProcess.
  const baseEnv: NodeJS.ProcessEnv = {
    ...withoutSecrets({ ...process.env, ...o.env }),
    MEZITE_DATA_DIR: dataDir,
    MEZITE_TLS_CA: pki.caCertPath,
    MEZITE_AUTH_SERVER_ADDR: addrs['auth-server'],
    MEZITE_HTTP_ADDR: addrs.http,
    MEZITE_TOKEN_SERVICE_ADDR: addrs['token-service'],
    MEZITE_SSH_CA_ADDR: addrs['ssh-ca'],
    // With replicas, the auth-servers dial every copy (gRPC round robin over a list target).
    MEZITE_TOKEN_SERVICE_TARGET: balancedTarget(replicaAddrs['token-service']),
    MEZITE_SSH_CA_TARGET: balancedTarget(replicaAddrs['ssh-ca']),
    MEZITE_ADMIN_IDENTITY_FILE: adminIdentityFile,
    MEZITE_DEMO_FIXTURES: o.demoFixtures === false ? 'false' : 'true',
  };
  if (devOidcIssuer) {
    baseEnv.MEZITE_DEV_OIDC_ADDR = addrs[DEV_OIDC];
    baseEnv.MEZITE_DEV_OIDC_ISSUER = devOidcIssuer;
    baseEnv.MEZITE_OIDC_ISSUER = devOidcIssuer;
    baseEnv.MEZITE_OIDC_ADMINS = o.env?.MEZITE_OIDC_ADMINS ?? process.env.MEZITE_OIDC_ADMINS ?? DEV_OIDC_ADMIN;
  }
  // One address or service name for three processes would clash: these are set per service below.
  for (const k of ['MEZITE_METRICS_ADDR', 'MEZITE_HEALTH_ADDR', 'OTEL_SERVICE_NAME']) delete baseEnv[k];
  // Only the first replica gets the operator's metrics and health addresses (one address cannot serve two processes).
  const opsEnv = (name: ServiceName, index: number): NodeJS.ProcessEnv =>
    index > 0
      ? {}
      : {
          ...(o.metricsAddrs?.[name] ? { MEZITE_METRICS_ADDR: o.metricsAddrs[name] } : {}),
          ...(o.healthAddrs?.[name] ? { MEZITE_HEALTH_ADDR: o.healthAddrs[name] } : {}),
        };
  /** What differs between replicas: the listen addresses, and only the first writes the admin identity file. */
  const instanceEnv = (service: ServiceName, index: number): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { [`MEZITE_${service.toUpperCase().replace(/-/g, '_')}_ADDR`]: replicaAddrs[service][index] };
    if (redisUrls.length > 1 && perProcess[service].REDIS_URL) env.REDIS_URL = redisUrls[index];
    if (service === 'auth-server') {
      env.MEZITE_HTTP_ADDR = replicaAddrs.http[index];
      if (index > 0) env.MEZITE_ADMIN_IDENTITY_FILE = 'off';
    }
    return env;
  };
  const instanceOf = (name: InstanceName): { service: ServiceName; index: number; addr: string } => {
    const [service, n] = name.split('#') as [ServiceName, string | undefined];
    const index = n === undefined ? 0 : Number(n) - 1;
    return { service, index, addr: replicaAddrs[service][index] as string };
  };
  const addrOf = (name: ProcessName): string => (name === DEV_OIDC ? (addrs[DEV_OIDC] ?? '') : instanceOf(name).addr);

  const processes = new Map<ProcessName, ServiceProcess>();
  const healthy = new Set<ProcessName>();
  let stopping = false;
  const statusFile = join(dataDir, 'stack.json');
  /** Publishes what runs where (0600), for tooling and the end-to-end tests. */
  const writeStatus = () => {
    const services: Record<string, { pid: number | undefined; addr: string; healthy: boolean }> = {};
    for (const n of names) services[n] = { pid: processes.get(n)?.child.pid, addr: addrOf(n), healthy: healthy.has(n) };
    const status = { pid: process.pid, dataDir, databaseUrl, embeddedPostgres: Boolean(pg), redisUrl: o.redisUrl ?? null, addrs, replicas, replicaAddrs, metricsAddrs: o.metricsAddrs ?? {}, healthAddrs: o.healthAddrs ?? {}, adminIdentityFile, services };
    const tmp = `${statusFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(status, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, statusFile);
  };
  const clientCreds = internalChannelCredentials({ caCertPem: pki.caCertPem, certPem: pki.leaf('auth-server').certPem, keyPem: pki.leaf('auth-server').keyPem });

  const startService = async (name: ProcessName): Promise<void> => {
    const inst = name === DEV_OIDC ? undefined : instanceOf(name);
    const p = !inst
      ? spawnService({ name, entry: join(__dirname, 'dev-oidc', 'main.js'), env: { ...baseEnv, ...perProcess[DEV_OIDC] }, logFile: join(dataDir, 'logs', `${name}.log`) })
      : spawnService({
          name,
          entry: join(repoRoot, 'services', inst.service, 'dist', 'main.js'),
          env: { ...baseEnv, ...perProcess[inst.service], ...opsEnv(inst.service, inst.index), ...instanceEnv(inst.service, inst.index), MEZITE_TLS_CERT: pki.leaf(inst.service).certPath, MEZITE_TLS_KEY: pki.leaf(inst.service).keyPath },
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
    if (!inst) await waitHttpOk(`http://${addrs[DEV_OIDC]}/.well-known/openid-configuration`, { timeoutMs: 60_000, failed: () => exited });
    else {
      const creds = inst.service === 'auth-server' ? publicChannelCredentials(pki.caCertPem) : clientCreds;
      await waitHealthy(inst.addr, creds, { timeoutMs: 60_000, failed: () => exited, targetName: inst.service === 'auth-server' ? 'localhost' : inst.service });
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
    // First replicas first, so one of each migrates and seeds alone; the first auth-server
    // bootstraps (tenants, admin identity) before its copies start.
    const auths = instances('auth-server');
    await Promise.all(names.filter((n) => !auths.includes(n as InstanceName) && !n.includes('#')).map(startService));
    await Promise.all(names.filter((n) => !auths.includes(n as InstanceName) && n.includes('#')).map(startService));
    await startService('auth-server');
    await Promise.all(auths.slice(1).map(startService));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dataDir,
    databaseUrl,
    serviceDatabaseUrls: { 'auth-server': perProcess['auth-server'].DATABASE_URL as string, 'token-service': perProcess['token-service'].DATABASE_URL as string, 'ssh-ca': perProcess['ssh-ca'].DATABASE_URL as string },
    embeddedPostgres: Boolean(pg),
    redisUrl: o.redisUrl,
    addrs,
    replicas,
    replicaAddrs,
    oidcIssuer: devOidcIssuer ?? (externalIssuer || undefined),
    pki,
    secrets,
    adminIdentityFile,
    processes,
    startService,
    stopService: async (name) => processes.get(name)?.stop(),
    startStopped: async () => {
      const down = names.filter((name) => {
        const p = processes.get(name);
        return !p || p.child.exitCode !== null || p.child.signalCode !== null;
      });
      // The auth-servers last, as at start; copies of one service come back together.
      const isAuth = (n: ProcessName) => n === 'auth-server' || n.startsWith('auth-server#');
      await Promise.all(down.filter((n) => !isAuth(n)).map(startService));
      await Promise.all(down.filter(isAuth).map(startService));
    },
    stop,
  };
}

