import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createMeziteClients, Metadata, publicChannelCredentials, type MeziteClient } from '@mezite/platform';
import { authv1 } from '@mezite/proto';
import { encodePublicKey, formatPublicKey, makeCertAuthCredential, parseCertificate } from '@mezite/ssh';
import { renewBotRequest } from './bot-credentials';
import { PrivatePostgres } from './private-postgres';
import { PrivateRedis } from './private-redis';
import { TcpProxy } from './tcp-proxy';
import { TestStack } from './test-stack';

/** Typed clients of one auth-server replica's public port. */
export interface ReplicaClients {
  addr: string;
  join: MeziteClient<typeof authv1.JoinServiceDefinition>;
  bots: MeziteClient<typeof authv1.BotServiceDefinition>;
  roles: MeziteClient<typeof authv1.RoleServiceDefinition>;
  tokens: MeziteClient<typeof authv1.IdentityTokenServiceDefinition>;
  identity: MeziteClient<typeof authv1.IdentityServiceDefinition>;
  nodes: MeziteClient<typeof authv1.NodeServiceDefinition>;
  close(): void;
}

/** A role that lets bots log in as `deploy`, for bots the chaos tests create. */
export const CHAOS_ROLE = 'kind: role\nmetadata:\n  name: chaos\nspec:\n  allow:\n    logins: [deploy]\n';

/**
 * The stack with replicas (default 2 of each service) on a PostgreSQL and a Redis of
 * the test's own, which a test may stop and start: the machine's shared servers are
 * never touched. Clients of every auth-server replica are ready in `replicas`.
 */
export class ChaosEnv {
  private constructor(
    readonly pg: PrivatePostgres,
    readonly redis: PrivateRedis,
    readonly stack: TestStack,
    readonly ca: string,
    readonly adminToken: string,
    readonly replicas: ReplicaClients[],
    /** With `partitionable`: the last replica of each service reaches Redis through this proxy, which a test cuts. */
    readonly partition: TcpProxy | undefined,
  ) {}

  static async start(o: { replicas?: number; env?: NodeJS.ProcessEnv; partitionable?: boolean } = {}): Promise<ChaosEnv> {
    const pg = await PrivatePostgres.start();
    const redis = await PrivateRedis.start();
    const n = o.replicas ?? 2;
    const partition = o.partitionable ? await TcpProxy.start(redis.port) : undefined;
    // One Redis URL per replica: the last one goes through the proxy.
    const redisUrl = partition ? [...Array.from({ length: n - 1 }, () => redis.url), partition.redisUrl].join(',') : redis.url;
    let stack: TestStack | undefined;
    try {
      stack = await TestStack.start({ replicas: n, databaseUrl: pg.url, redisUrl, env: { MEZITE_DEV_OIDC: 'false', ...o.env } });
      const admin = JSON.parse(readFileSync(stack.adminIdentityFile, 'utf8')) as { ca_cert: string; token: string };
      const replicas = stack.authAddrs.map((addr) => clientsFor(addr, admin.ca_cert));
      const env = new ChaosEnv(pg, redis, stack, admin.ca_cert, admin.token, replicas, partition);
      await env.replicas[0]?.roles.upsertRole({ yaml: CHAOS_ROLE, fileName: 'chaos.yaml', force: true }, env.admin());
      return env;
    } catch (err) {
      await stack?.destroy();
      await partition?.partition();
      await redis.stop();
      await pg.destroy();
      throw err;
    }
  }

  /** Call options carrying the bootstrap admin's session. */
  admin(): { metadata: Metadata } {
    return { metadata: Metadata({ authorization: `Bearer ${this.adminToken}` }) };
  }

  /** Replica `i` modulo their number, to spread calls. */
  replica(i: number): ReplicaClients {
    return this.replicas[i % this.replicas.length] as ReplicaClients;
  }

  /** Creates a bot with the chaos role; returns its join token. */
  async addBot(name: string, via = 0): Promise<string> {
    const r = await this.replica(via).bots.createBot({ name, roles: ['chaos'], tokenTtlSeconds: 3600 }, this.admin());
    return r.joinToken;
  }

  async destroy(): Promise<void> {
    for (const r of this.replicas) r.close();
    await this.stack.destroy();
    await this.partition?.partition();
    await this.redis.stop();
    await this.pg.destroy();
  }
}

/** Clients of one auth-server's public port, trusting the stack's CA. */
export function clientsFor(addr: string, ca: string): ReplicaClients {
  const c = createMeziteClients({ address: addr, credentials: publicChannelCredentials(ca), peerName: `auth server ${addr}` });
  return {
    addr,
    join: c.create(authv1.JoinServiceDefinition),
    bots: c.create(authv1.BotServiceDefinition),
    roles: c.create(authv1.RoleServiceDefinition),
    tokens: c.create(authv1.IdentityTokenServiceDefinition),
    identity: c.create(authv1.IdentityServiceDefinition),
    nodes: c.create(authv1.NodeServiceDefinition),
    close: () => c.close(),
  };
}

/** A bot's key and certificate, as mezd holds them. */
export interface Held {
  key: KeyObject;
  certificate: string;
  generation: number;
  /** The instance its join created (every renewal keeps it). */
  instanceId: string;
}

/** A key pair to certify: the private key, its authorized_keys line and its blob. */
export type NewKey = ReturnType<typeof newKey>;

/** A fresh ECDSA P-256 key pair, as mezd makes one per join and renewal. */
export function newKey(): { key: KeyObject; publicKey: string; blob: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, publicKey: formatPublicKey(publicKey), blob: encodePublicKey(publicKey) };
}

/** Joins with `token` on `r`. */
export async function joinBot(r: ReplicaClients, token: string): Promise<Held> {
  const k = newKey();
  const res = await r.join.join({ joinToken: token, publicKey: k.publicKey, requestedTtlSeconds: 3600 });
  return { key: k.key, certificate: res.certificate, generation: res.generation, instanceId: res.instanceId };
}

/**
 * One renewal (RenewBot) on `r`: `held`'s key signs for `next` (a fresh key unless
 * given; mezd keeps the key of a renewal whose answer was lost and presents it again).
 */
export async function renewBot(r: ReplicaClients, held: Held, next: NewKey = newKey()): Promise<Held> {
  const res = await r.join.renewBot(renewBotRequest(held, next));
  return { key: next.key, certificate: res.certificate, generation: res.generation, instanceId: res.instanceId };
}

/** Call options authenticating as the bot by its certificate (`authorization: SshCert …`), as msh does. */
export function asBot(held: Held): { metadata: Metadata } {
  const blob = parseCertificate(held.certificate).blob;
  return { metadata: Metadata({ authorization: `SshCert ${makeCertAuthCredential(blob, held.key, new Date())}` }) };
}

/** The code of a rejected call (`Unavailable`, …), or `ok`. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (err: unknown) => (err as { code?: string }).code ?? `error: ${(err as Error).message}`,
  );
}

/** Counts of each outcome. */
export function tally(outcomes: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) t[o] = (t[o] ?? 0) + 1;
  return t;
}

/** Polls `cond` (bounded in time and count); false when it never held. */
export async function eventually(cond: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / stepMs) + 1; i++) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return false;
}

/** One call of a load loop: what it used, when it was sent, how long it took, how it ended (`ok` or a code). */
export interface Sample {
  what: string;
  sent: number;
  ms: number;
  result: string;
}

/**
 * Runs `workers` loops of `call` until `done()`, at most `maxPerWorker` calls each
 * (bounded in count; `done` bounds it in time), recording every call. `call(i)` gets
 * a running index, so `env.replica(i)` spreads the calls over the replicas.
 */
export async function load(workers: number, maxPerWorker: number, call: (i: number) => Promise<unknown> | { what: string; p: Promise<unknown> }, done: () => boolean): Promise<Sample[]> {
  const samples: Sample[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; i < maxPerWorker && !done(); i++) {
        const sent = Date.now();
        const c = call(w * maxPerWorker + i);
        const { what, p } = c instanceof Promise ? { what: '', p: c } : c;
        const result = await outcome(p);
        samples.push({ what, sent, ms: Date.now() - sent, result });
      }
    }),
  );
  return samples;
}

/** `call`, retried while it fails with Unavailable (a client channel reconnecting after a restart), for at most 15 s. */
export async function untilAvailable<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (let i = 0; ; i++) {
    try {
      return await call();
    } catch (err) {
      if ((err as { code?: string }).code !== 'Unavailable' || Date.now() > deadline || i > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The `p`th percentile of `xs` (nearest rank). */
export function percentile(xs: number[], p: number): number {
  return [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;
}

/** Prints one measured line (durations are printed, never asserted). */
export function report(line: string): void {
  process.stderr.write(`[chaos] ${line}\n`);
}

/** Runs `fn` and reports how long it took. */
export async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    report(`${label}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}
