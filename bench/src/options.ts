/** Phases of a run, in the order they run; `--only` picks some. */
export const PHASES = ['sign', 'echo', 'store', 'whoami', 'cc', 'join', 'renew', 'fleet', 'mezd'] as const;
export type Phase = (typeof PHASES)[number];

/** Everything a run can be told, from flags, then `BENCH_*` environment, then defaults. */
export interface BenchOptions {
  quick: boolean;
  /** Bots created, joined, renewed and run as the fleet. */
  bots: number;
  /** Fixed-length throughput runs (echo, WhoAmI, client_credentials): window after warm-up. */
  durationMs: number;
  warmupMs: number;
  /** The fixed-length gRPC and HTTP rows and their references run this many times; each keeps its best round. */
  rounds: number;
  /** Operations in flight across all load generators (rows 2–5). */
  inflight: number;
  /** Load generator processes. */
  workers: number;
  /** Per CA algorithm, for row 1. */
  signDurationMs: number;
  fleetDurationMs: number;
  fleetTtlMs: number;
  /** mezd's --renewal-interval for the fleet (its loop adds ±10 % and caps at 2/3 of the certificate life). */
  fleetIntervalMs: number;
  /** HTTP/2 connections per load generator for the bots. */
  botChannels: number;
  /** Upper bound of the bot creation and join phases; the renewal phase gets 0.6 of it. */
  phaseDeadlineMs: number;
  only: Set<Phase>;
  /** Run the services with --cpu-prof and summarise the profiles. */
  profile: boolean;
  /** Use the embedded PostgreSQL and in-memory cache even if servers run at 127.0.0.1. */
  embedded: boolean;
  keepDatabase: boolean;
  postgresUrl: string;
  redisUrl: string;
  /** Directory for results JSON (default bench/results). */
  out: string | undefined;
  /** Wait up to this long for the machine to be quiet (< 20 % busy) before starting; 0: start at once. */
  waitQuietMs: number;
}

/** `300s`, `5m`, `1500ms`, or a bare number of seconds. */
export function parseDuration(v: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new Error(`${name}: expected a duration such as 30s, 5m or 1500ms, got "${v}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
}

function parseCount(v: string, name: string): number {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${v}"`);
  return n;
}

/** Reads argv (`--key=value`, `--flag`) and BENCH_* environment; throws naming the bad key. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const flags = new Map<string, string>();
  for (const a of argv) {
    if (a === '--') continue;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument "${a}" (use --key=value; see docs/PERFORMANCE.md)`);
    flags.set(m[1]!, m[2] ?? 'true');
  }
  const known = ['quick', 'bots', 'duration', 'warmup', 'inflight', 'workers', 'sign-duration', 'fleet-duration', 'fleet-ttl', 'fleet-interval', 'bot-channels', 'phase-deadline', 'rounds', 'only', 'profile', 'embedded', 'keep-db', 'out', 'wait-quiet'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown flag --${k} (known: ${known.map((x) => `--${x}`).join(', ')})`);
  const get = (k: string): string | undefined => flags.get(k) ?? env[`BENCH_${k.toUpperCase().replace(/-/g, '_')}`];
  const bool = (k: string) => /^(1|true|yes|on)$/i.test(get(k) ?? '');
  const quick = bool('quick');
  const dur = (k: string, full: string, q: string) => parseDuration(get(k) ?? (quick ? q : full), `--${k}`);
  const count = (k: string, full: number, q: number) => (get(k) !== undefined ? parseCount(get(k)!, `--${k}`) : quick ? q : full);
  const onlyRaw = get('only');
  const only = new Set<Phase>(onlyRaw ? (onlyRaw.split(',').map((s) => s.trim()) as Phase[]) : PHASES);
  for (const p of only) if (!PHASES.includes(p)) throw new Error(`--only: unknown phase "${p}" (phases: ${PHASES.join(', ')})`);
  const o: BenchOptions = {
    quick,
    bots: count('bots', 10_000, 1_000),
    durationMs: dur('duration', '4s', '3s'),
    warmupMs: dur('warmup', '1s', '1s'),
    inflight: count('inflight', 64, 64),
    rounds: count('rounds', 2, 1),
    workers: count('workers', 2, 2),
    signDurationMs: dur('sign-duration', '2.5s', '2s'),
    fleetDurationMs: dur('fleet-duration', '300s', '60s'),
    fleetTtlMs: dur('fleet-ttl', '60s', '60s'),
    fleetIntervalMs: dur('fleet-interval', '40s', '40s'),
    botChannels: count('bot-channels', 4, 4),
    phaseDeadlineMs: dur('phase-deadline', '30s', '20s'),
    only,
    profile: bool('profile'),
    embedded: bool('embedded'),
    keepDatabase: bool('keep-db'),
    postgresUrl: env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test',
    redisUrl: env.BENCH_REDIS_URL || env.TEST_REDIS_URL || 'redis://127.0.0.1:6379',
    out: get('out'),
    waitQuietMs: get('wait-quiet') !== undefined ? parseDuration(get('wait-quiet')!, '--wait-quiet') : 0,
  };
  if (o.fleetIntervalMs >= o.fleetTtlMs) throw new Error('--fleet-interval must be shorter than --fleet-ttl (mezd refuses it too)');
  if (o.fleetTtlMs < 60_000) throw new Error('--fleet-ttl must be at least 60s (the auth server refuses shorter certificates)');
  if (o.inflight % o.workers !== 0) throw new Error('--inflight must be a multiple of --workers');
  return o;
}
