import { MeziteError, type ErrorCode } from '@mezite/identity';
import type { Counter, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How a counted operation ended: `refused` is the caller's fault (bad token, locked bot), `error` ours (a dependency down). */
export type Outcome = 'success' | 'refused' | 'error';

/** What a PostgreSQL pool reports about itself (pg's Pool). */
export interface ObservablePool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

const pools = new Map<string, ObservablePool>();

/** Defines every metric on a fresh registry (prom-client is loaded here, on first use). */
function define() {
  const { Counter, Gauge, Histogram, Registry } = require('prom-client') as typeof import('prom-client');
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'mezite_db_pool_connections',
    help: 'Connections of the PostgreSQL pool, by state (busy, idle).',
    labelNames: ['pool', 'state'] as const,
    registers,
    collect() {
      for (const [name, p] of pools) {
        this.set({ pool: name, state: 'idle' }, p.idleCount);
        this.set({ pool: name, state: 'busy' }, p.totalCount - p.idleCount);
      }
    },
  });
  new Gauge({
    name: 'mezite_db_pool_max_connections',
    help: 'Largest number of connections the PostgreSQL pool opens.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      for (const [name, p] of pools) this.set({ pool: name }, p.options.max ?? 10);
    },
  });
  new Gauge({
    name: 'mezite_db_pool_waiting',
    help: 'Queries waiting for a connection of the PostgreSQL pool.',
    labelNames: ['pool'] as const,
    registers,
    collect() {
      for (const [name, p] of pools) this.set({ pool: name }, p.waitingCount);
    },
  });
  const metrics = {
    /** Every gRPC call a service handled: latency by method and status code (the server middleware). */
    grpcHandling: new Histogram({
      name: 'mezite_grpc_server_handling_seconds',
      help: 'Time to handle a gRPC call, by method and status code.',
      labelNames: ['grpc_service', 'grpc_method', 'grpc_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    /** Every HTTP request of the auth-server's OAuth2 endpoints, by route and status. */
    httpHandling: new Histogram({
      name: 'mezite_http_server_handling_seconds',
      help: 'Time to handle an HTTP request, by route and status code.',
      labelNames: ['route', 'code'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    /** Calls refused for the caller's reasons (domain error code in snake case), by method. */
    refusals: new Counter({
      name: 'mezite_refusals_total',
      help: 'Requests refused, by reason (unauthenticated, permission_denied, resource_exhausted, …) and method.',
      labelNames: ['reason', 'method'] as const,
      registers,
    }),
    /** Bot joins (auth-server), by outcome. */
    joins: new Counter({ name: 'mezite_bot_joins_total', help: 'Bot joins, by result (success, refused, error).', labelNames: ['result'] as const, registers }),
    /** Bot certificate renewals (auth-server), by outcome. */
    renewals: new Counter({ name: 'mezite_bot_renewals_total', help: 'Bot certificate renewals, by result (success, refused, error).', labelNames: ['result'] as const, registers }),
    /** Certificates ssh-ca signed and logged, by CA fingerprint and certificate type. */
    certificatesIssued: new Counter({
      name: 'mezite_ssh_certificates_issued_total',
      help: 'SSH certificates issued, by CA (SHA256 fingerprint) and type (user, host).',
      labelNames: ['ca', 'type'] as const,
      registers,
    }),
    /** Verifications of bearer secrets, by kind (api_token, client_secret, session) and outcome. */
    tokenVerifications: new Counter({
      name: 'mezite_token_verifications_total',
      help: 'Verifications of API tokens, client secrets and sessions, by kind and result (success, refused, error).',
      labelNames: ['kind', 'result'] as const,
      registers,
    }),
    /** Requests the brute-force limiter refused, by what was over its limit (client id or source address). */
    rateLimited: new Counter({ name: 'mezite_rate_limited_total', help: 'Requests refused by the failed-authentication limiter, by scope (client, source).', labelNames: ['scope'] as const, registers }),
    /** Alerts of failed client authentications for one client id across sources over the alert threshold (once per client per window). */
    authFailureSpikes: new Counter({
      name: 'mezite_auth_failure_spikes_total',
      help: 'Alerts raised when failed client authentications for one client id, over every source, pass MEZITE_AUTH_FAILURE_ALERT in a minute (once per client and minute).',
      labelNames: ['scope'] as const,
      registers,
    }),
    /** Where API token verifications found the token: `memory` and `cache` are hits, `database` a miss. */
    apiTokenLookups: new Counter({
      name: 'mezite_api_token_lookups_total',
      help: 'API token metadata lookups by where they were answered (memory, cache: hits; database: miss).',
      labelNames: ['source'] as const,
      registers,
    }),
  };
  return { registry, metrics };
}

let defined: ReturnType<typeof define> | undefined;
const defs = () => (defined ??= define());

/** The metrics of meziteMetrics. */
export type MeziteMetrics = ReturnType<typeof define>['metrics'];

/**
 * Every metric a Mezite service exports, defined once so names and labels stay the
 * same across services (each service exports the ones it moves). Metrics are
 * process-wide, like logs: code that counts an event imports this object rather than
 * being handed it, since nothing reads a metric back but the scrape. Defined on first
 * use, so a CLI that imports this package never loads prom-client.
 */
export const meziteMetrics: MeziteMetrics = new Proxy({} as MeziteMetrics, { get: (_, key) => defs().metrics[key as keyof MeziteMetrics] });

/**
 * The process's Prometheus registry, served on `/metrics` when MEZITE_METRICS_ADDR is
 * set. One per process, like prom-client's default one, but our own so nothing a
 * dependency registers ends up on it.
 */
export function metricsRegistry(): Registry {
  return defs().registry;
}

/** The outcome of a failed operation: a MeziteError the caller caused is `refused`, anything else `error`. */
export function outcomeOf(err: unknown): Exclude<Outcome, 'success'> {
  return err instanceof MeziteError && !['Internal', 'Unavailable', 'DeadlineExceeded'].includes(err.code) ? 'refused' : 'error';
}

/** `PermissionDenied` → `permission_denied`, the `reason` label of refusals. */
export function refusalReason(code: ErrorCode): string {
  return code.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Runs `fn` and counts how it ended in `counter` (label `result`, plus `labels`),
 * returning or rethrowing what it did.
 */
export async function countOutcome<T, L extends string>(counter: Counter<L | 'result'>, labels: Partial<Record<L, string>>, fn: () => Promise<T>): Promise<T> {
  try {
    const value = await fn();
    counter.inc({ ...labels, result: 'success' } as Partial<Record<L | 'result', string>>);
    return value;
  } catch (err) {
    counter.inc({ ...labels, result: outcomeOf(err) } as Partial<Record<L | 'result', string>>);
    throw err;
  }
}

/** Reports `pool`'s use on `/metrics` under `name` (the service's schema). Returns the pool. */
export function observePool<P extends ObservablePool>(name: string, pool: P): P {
  pools.set(name, pool);
  return pool;
}
