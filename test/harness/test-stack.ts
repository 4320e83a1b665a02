import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { REPO_ROOT } from './cli';
import { freePort } from './ports';

/** What the stack publishes in `<data dir>/stack.json`. */
export interface StackStatus {
  pid: number;
  dataDir: string;
  /** The superuser's URL (tests that inspect the database use it); each service has its own role's (processEnv). */
  databaseUrl: string;
  embeddedPostgres: boolean;
  adminIdentityFile: string;
  /**
   * `dev-oidc` is there while the stack runs its development OpenID Provider; with
   * replicas, further copies are `auth-server#2`, `token-service#2`, ….
   */
  services: Record<'auth-server' | 'token-service' | 'ssh-ca', { pid?: number; addr: string; healthy: boolean }> & { 'dev-oidc'?: { pid?: number; addr: string; healthy: boolean } } & Partial<Record<ReplicaName, { pid?: number; addr: string; healthy: boolean }>>;
}

/** The data dir's `secrets.json`. */
export interface StackSecretsFile {
  token_pepper: string;
  session_pepper: string;
  ca_kek: string;
  audit_key: string;
  audit_signing_key: string;
  auth_db_password: string;
  token_db_password: string;
  sshca_db_password: string;
}

/** A further copy of a service when the stack runs replicas (`auth-server#2`). */
export type ReplicaName = `${ServiceName}#${number}`;

export type Ports = Record<'auth' | 'http' | 'token' | 'sshCa' | 'pg' | 'oidc', number>;

/** Options of startTestStack. */
export interface TestStackOptions {
  /** Reuse a data dir (restart tests); default a fresh temp dir. */
  dataDir?: string;
  ports?: Ports;
  databaseUrl?: string;
  redisUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** Give each service a metrics endpoint and a plaintext health listener on free ports (the first replica's). */
  ops?: boolean;
  /**
   * Copies of each service (default 1) on free loopback ports, sharing the database
   * and Redis (`redisUrl` is then required); the auth-servers balance over the
   * token-service and ssh-ca copies. `authAddrs` lists the public addresses.
   */
  replicas?: number;
}

/** Per replicated listener, the port of each replica (index 0 is the one in `ports`). */
export type ReplicaPorts = Record<'auth' | 'http' | 'token' | 'sshCa', number[]>;

/** The services of the stack. */
export type ServiceName = 'auth-server' | 'token-service' | 'ssh-ca';
const SERVICE_NAMES: ServiceName[] = ['auth-server', 'token-service', 'ssh-ca'];
const envKey = (s: ServiceName) => s.toUpperCase().replace(/-/g, '_');

/**
 * The stack exactly as `pnpm start` runs it — `node packages/stack/dist/main.js`, a
 * process of its own — on free loopback ports and its own data dir, so it never meets
 * a quickstart running on this machine. Services are not restarted automatically, so
 * a test decides when a stopped one comes back.
 */
export class TestStack {
  private constructor(
    readonly dataDir: string,
    readonly ports: Ports,
    private readonly child: ChildProcess,
    private readonly output: { text: string },
    /** Per service, when started with `ops`: its metrics and health ports. */
    readonly opsPorts: Partial<Record<ServiceName, { metrics: number; health: number }>>,
    /** Per listener, the port of each replica. */
    readonly replicaPorts: ReplicaPorts,
  ) {}

  /**
   * Starts the stack on free ports. A port found free can be taken by another process
   * (a parallel test's listener, an outbound connection's ephemeral port) before the
   * stack binds it; when the stack exits with EADDRINUSE on ports it chose, it is
   * started again on fresh ones (at most three times).
   */
  static async start(o: TestStackOptions = {}): Promise<TestStack> {
    // One data dir for every attempt: it holds the secrets (the CA key-encryption key
    // among them) that match what the first attempt may already have written to the
    // database. A fresh one on a retry against the same PostgreSQL made ssh-ca refuse the
    // CA it had stored ("wrong key-encryption key"; the chaos suite hit it).
    const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'mezite-e2e-'));
    for (let attempt = 1; ; attempt++) {
      try {
        return await TestStack.startOnce(o, dataDir);
      } catch (err) {
        if (attempt >= 3 || o.ports || !/EADDRINUSE/.test(String((err as Error).message))) {
          if (!o.dataDir) rmSync(dataDir, { recursive: true, force: true });
          throw err;
        }
      }
    }
  }

  private static async startOnce(o: TestStackOptions, dataDir: string): Promise<TestStack> {
    const ports: Ports = o.ports ?? { auth: await freePort(), http: await freePort(), token: await freePort(), sshCa: await freePort(), pg: await freePort(), oidc: await freePort() };
    const replicas = o.replicas ?? 1;
    const more = async () => Promise.all(Array.from({ length: replicas - 1 }, () => freePort()));
    const replicaPorts: ReplicaPorts = { auth: [ports.auth, ...(await more())], http: [ports.http, ...(await more())], token: [ports.token, ...(await more())], sshCa: [ports.sshCa, ...(await more())] };
    const list = (ps: number[]) => ps.map((p) => `127.0.0.1:${p}`).join(',');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...o.env,
      MEZITE_DATA_DIR: dataDir,
      MEZITE_REPLICAS: String(replicas),
      MEZITE_AUTH_SERVER_ADDR: list(replicaPorts.auth),
      MEZITE_HTTP_ADDR: list(replicaPorts.http),
      MEZITE_TOKEN_SERVICE_ADDR: list(replicaPorts.token),
      MEZITE_SSH_CA_ADDR: list(replicaPorts.sshCa),
      MEZITE_EMBEDDED_PG_PORT: String(ports.pg),
      MEZITE_DEV_OIDC_ADDR: `127.0.0.1:${ports.oidc}`,
      MEZITE_STACK_RESTART: 'false',
    };
    const opsPorts: Partial<Record<ServiceName, { metrics: number; health: number }>> = {};
    if (o.ops) {
      for (const s of SERVICE_NAMES) {
        opsPorts[s] = { metrics: await freePort(), health: await freePort() };
        env[`MEZITE_${envKey(s)}_METRICS_ADDR`] = `127.0.0.1:${opsPorts[s].metrics}`;
        env[`MEZITE_${envKey(s)}_HEALTH_ADDR`] = `127.0.0.1:${opsPorts[s].health}`;
      }
    }
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    if (o.databaseUrl) env.DATABASE_URL = o.databaseUrl;
    if (o.redisUrl) {
      env.REDIS_URL = o.redisUrl;
      // Stacks sharing the machine's Redis must not share failure limits (all callers are 127.0.0.1).
      env.MEZITE_REDIS_KEY_PREFIX = `auth:${basename(dataDir)}:`;
    }
    const child = spawn(process.execPath, [join(REPO_ROOT, 'packages', 'stack', 'dist', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = { text: '' };
    child.stdout?.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output.text += d.toString()));
    const stack = new TestStack(dataDir, ports, child, output, opsPorts, replicaPorts);
    await stack.waitFor(() => output.text.includes('Mezite is running'), 120_000, 'the stack to start');
    return stack;
  }

  /** The public gRPC address (`localhost:<port>`) of each auth-server replica, for clients to spread over. */
  get authAddrs(): string[] {
    return this.replicaPorts.auth.map((p) => `localhost:${p}`);
  }

  /** `http://127.0.0.1:<port>/metrics` of a service (needs `ops`). */
  metricsUrl(service: ServiceName): string {
    const p = this.opsPorts[service];
    if (!p) throw new Error('start the stack with { ops: true } for metrics endpoints');
    return `http://127.0.0.1:${p.metrics}/metrics`;
  }

  /** `127.0.0.1:<port>` of a service's plaintext health listener (needs `ops`). */
  healthAddr(service: ServiceName): string {
    const p = this.opsPorts[service];
    if (!p) throw new Error('start the stack with { ops: true } for health listeners');
    return `127.0.0.1:${p.health}`;
  }

  /** What the stack printed so far. */
  get log(): string {
    return this.output.text;
  }

  /** The stack's published status. */
  status(): StackStatus {
    return JSON.parse(readFileSync(join(this.dataDir, 'stack.json'), 'utf8')) as StackStatus;
  }

  get adminIdentityFile(): string {
    return join(this.dataDir, 'admin-identity.json');
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  /** The issuer of the stack's development OpenID Provider (unless MEZITE_DEV_OIDC=false). */
  get oidcIssuer(): string {
    return `http://127.0.0.1:${this.ports.oidc}`;
  }

  /** Environment that points bin/ commands at this stack as its bootstrap admin. */
  get cliEnv(): NodeJS.ProcessEnv {
    return { MEZITE_DATA_DIR: this.dataDir, MEZITE_IDENTITY: this.adminIdentityFile, PLEXSPHERE_URL: '', MEZITE_AUTH_SERVER: '' };
  }

  /** The stack's secrets (peppers, KEK, the services' database passwords) as it generated them. */
  secrets(): StackSecretsFile {
    return JSON.parse(readFileSync(join(this.dataDir, 'secrets.json'), 'utf8')) as StackSecretsFile;
  }

  /** The environment a running process of the stack actually has (`/proc/<pid>/environ`; Linux). */
  processEnv(name: keyof StackStatus['services']): Record<string, string> {
    const pid = this.status().services[name]?.pid;
    if (!pid) throw new Error(`${name} is not running`);
    const env: Record<string, string> = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  }

  /**
   * Kills one service (SIGKILL: a crash, not a clean stop) and waits until the stack
   * sees it gone. With replicas, `auth-server` is the first copy and `auth-server#2`
   * the second; `startStopped()` brings back every copy that is down.
   */
  async killService(name: keyof StackStatus['services']): Promise<void> {
    const pid = this.status().services[name]?.pid;
    if (pid) process.kill(pid, 'SIGKILL');
    await this.waitFor(() => !this.status().services[name]?.healthy, 10_000, `${name} to stop`);
  }

  /** Asks the stack to start every service that is not running, and waits until all are healthy. */
  async startStopped(): Promise<void> {
    this.child.kill('SIGUSR2');
    await this.waitFor(() => Object.values(this.status().services).every((s) => s?.healthy), 60_000, 'services to become healthy');
  }

  /** Stops the stack (SIGTERM, as Ctrl-C would) and waits for it to exit. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** Stops the stack and removes its data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    if (process.env.MEZITE_KEEP_TEST_DATA) process.stderr.write(`test stack data kept in ${this.dataDir}\n`);
    else rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the stack exited (${this.child.exitCode}) while waiting for ${what}:\n${this.output.text}`);
      try {
        if (cond()) return;
      } catch {
        /* status file not written yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.output.text}`);
  }
}

/** True when stack.json exists in `dataDir`. */
export function hasStatus(dataDir: string): boolean {
  return existsSync(join(dataDir, 'stack.json'));
}
