import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { BenchChild } from './child';
import { combine, type CombinedResult, type LoadResult } from './load/load-result';
import type { FleetResult } from './load/bot-fleet';
import { machineInfo, waitQuiet } from './machine';
import { bareNodeRss, MezdWatch } from './mezd-memory';
import { type BenchOptions, type Phase, parseOptions } from './options';
import { pidsByComm, ProcessSampler, topProcesses } from './proc-stats';
import { summariseProfiles, type ProfileSummary } from './profile-summary';
import { DIST, REPO_ROOT } from './repo';
import { otherCores, renderReport } from './render';
import { mib } from './report';
import { buildRows, type RunData } from './rows';
import type { SignResults } from './sign/sign-worker';
import { type PgActivity, type PgCounters, reachable, SERVICE_NAMES, StackUnderTest } from './stack-under-test';

/** The role every benchmark bot has: one login, and room for the 1 h certificates of the join and renewal rows. */
const ROLE_YAML = `kind: role
metadata:
  name: bench
spec:
  options:
    max_session_ttl: 2h
  allow:
    logins: [deploy]
`;
/** The demo service identity the stack seeds (seed 000's fixture values). */
const DEMO_CLIENT = { id: 'svc-deployer', secret: 'svc-deployer-demo-secret' };
const HOUR = 3_600_000;

const t0 = Date.now();
const log = (line: string) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${line}\n`);

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  const want = (p: Phase) => opts.only.has(p);
  log(`${opts.quick ? 'quick run' : 'full run'}: ${opts.bots} bots, fleet ${opts.fleetDurationMs / 1000}s, ${opts.workers} load generators × ${opts.inflight / opts.workers} in flight`);
  const waited = Date.now();
  if (opts.waitQuietMs > 0) await waitQuiet(opts.waitQuietMs, log);
  const waitedSeconds = Math.round((Date.now() - waited) / 1000);
  const started = Date.now();
  const machine = await machineInfo(3000);
  log(`${machine.cpuModel} × ${machine.cores}, node ${machine.node}, load ${machine.loadAvgStart.join(' ')}, ${(machine.busyBeforeStart * 100).toFixed(0)}% busy before start`);

  const pgUrl = new URL(opts.postgresUrl);
  const redisUrl = new URL(opts.redisUrl);
  const usePg = !opts.embedded && (await reachable(pgUrl.hostname, Number(pgUrl.port || 5432)));
  const useRedis = !opts.embedded && (await reachable(redisUrl.hostname, Number(redisUrl.port || 6379)));
  const outDir = opts.out ?? join(REPO_ROOT, 'bench', 'results');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profileDir = opts.profile ? join(outDir, 'profiles', stamp) : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });

  const stack = await StackUnderTest.start({
    postgresUrl: usePg ? opts.postgresUrl : undefined,
    redisUrl: useRedis ? opts.redisUrl : undefined,
    env: profileDir ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require=${join(DIST, 'profile-preload.js')}`.trim(), MEZITE_BENCH_PROFILE_DIR: profileDir } : {},
    log,
  });
  const storage = `${usePg ? `PostgreSQL at ${pgUrl.host} (fresh database ${stack.database?.name})` : 'embedded PostgreSQL'}, ${useRedis ? `Redis at ${redisUrl.host}` : 'in-memory cache'}`;
  log(`stack up: ${storage}`);
  const sampler = new ProcessSampler();
  const children: BenchChild[] = [];
  let mezd: MezdWatch | undefined;
  const data: RunData = { opts, machine, storage, phases: {}, sign: [], memory: {} };
  const pidNames = new Map<number, string>();
  /** Phase names in order: the n-th profile of each service covers profiledPhases[n]. */
  const profiledPhases: string[] = [];
  /** Stops everything this run started (once): on the way out, or at once on SIGINT/SIGTERM. */
  let stopping: Promise<void> | undefined;
  const teardown = () =>
    (stopping ??= (async () => {
      await mezd?.finish().catch(() => undefined);
      for (const c of children) await c.stop().catch(() => undefined);
      log('stopping the stack');
      await stack.destroy({ keepDatabase: opts.keepDatabase });
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping`);
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const pids = stack.pids();
    for (const s of SERVICE_NAMES) {
      sampler.watch(s, pids[s]);
      pidNames.set(pids[s], s);
    }
    pidNames.set(pids.stack, 'stack');
    sampler.watch('stack (supervisor, logs)', pids.stack);
    const redisPids = useRedis ? pidsByComm('redis-server') : [];
    if (redisPids.length) sampler.watch('redis (shared)', redisPids);
    await stack.createRole(ROLE_YAML);
    const admin = stack.adminIdentity;

    const echo = BenchChild.start('echo reference', join(DIST, 'reference', 'echo-server.js'));
    const oidc = BenchChild.start('oidc-provider', join(DIST, 'reference', 'oidc-server.js'));
    children.push(echo, oidc);
    const { rawPort, mezitePort } = await echo.call<{ rawPort: number; mezitePort: number }>('start', stack.tlsFiles);
    const { url: oidcUrl } = await oidc.call<{ url: string }>('start', { clientId: DEMO_CLIENT.id, clientSecret: DEMO_CLIENT.secret });
    sampler.watch('echo reference', echo.pid);
    sampler.watch('oidc-provider', oidc.pid);
    const workers = Array.from({ length: opts.workers }, (_, i) => BenchChild.start(`load generator ${i}`, join(DIST, 'load', 'load-worker.js')));
    children.push(...workers);
    await Promise.all(
      workers.map((w, i) => w.call('connect', { workerIndex: i, caCertPem: admin.ca_cert, authServer: stack.authServer, echoRaw: `localhost:${rawPort}`, echoMezite: `localhost:${mezitePort}`, botChannels: opts.botChannels })),
    );
    sampler.watch('load generators', workers.map((w) => w.pid));
    const perWorker = opts.inflight / opts.workers;
    // --profile: each SIGUSR2 starts or stops the services' sampling (profile-preload.ts), one profile per phase.
    const toggleProfiles = profileDir ? () => SERVICE_NAMES.forEach((s) => process.kill(pids[s], 'SIGUSR2')) : () => undefined;

    // Idle memory: everything started, nothing asked yet.
    await new Promise((r) => setTimeout(r, 2000));
    data.memory.idle = sampler.rssNow();
    data.memory.bareNode = await bareNodeRss();

    const phase = async <T>(name: string, fn: () => Promise<T>, summary: (v: T) => CombinedResult | undefined = (v) => v as CombinedResult): Promise<T> => {
      if (stopping) throw new Error('interrupted');
      sampler.watch('postgres (this database)', await stack.pgBackends());
      log(`${name}…`);
      const pg0 = await stack.pgCounters();
      toggleProfiles();
      profiledPhases.push(name);
      sampler.begin();
      // Pools open connections as load grows: look for new backends while the phase runs.
      const backends = setInterval(() => void stack.pgBackends().then((p) => sampler.watch('postgres (this database)', [...new Set([...sampler.pidsOf('postgres (this database)'), ...p])]), () => undefined), 2000);
      // And what they do: running, waiting for a lock, or idle inside a transaction.
      const activity: PgActivity[] = [];
      const watchActivity = setInterval(() => void stack.pgActivity().then((a) => a && activity.push(a), () => undefined), 500);
      const value = await fn().finally(() => {
        clearInterval(backends);
        clearInterval(watchActivity);
        toggleProfiles();
      });
      sampler.watch('postgres (this database)', [...new Set([...sampler.pidsOf('postgres (this database)'), ...(await stack.pgBackends())])]);
      const usage = sampler.end();
      // PostgreSQL publishes a backend's counters at most once a second: let the last ones in.
      if ((usage.cpuSeconds['postgres (this database)'] ?? 0) > 0.02) await new Promise((r) => setTimeout(r, 1100));
      const pg1 = await stack.pgCounters();
      const result = summary(value);
      const pg = pg0 && pg1 ? (Object.fromEntries(Object.keys(pg1).map((k) => [k, pg1[k as keyof PgCounters] - pg0[k as keyof PgCounters]])) as unknown as PgCounters) : undefined;
      const avg = (k: keyof PgActivity) => activity.reduce((a, x) => a + x[k], 0) / Math.max(1, activity.length);
      const pgActivity = activity.length ? { active: avg('active'), lockWaiters: avg('lockWaiters'), idleInTransaction: avg('idleInTransaction') } : undefined;
      data.phases[name] = { result, usage, ...(pg ? { pg } : {}), ...(pgActivity ? { pgActivity } : {}) };
      if (result) log(`${name}: ${Math.round(result.rate)}/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms, ${result.errors} errors${result.errorSamples.length ? ` (${result.errorSamples[0]})` : ''}; machine ${(usage.machineBusy * 100).toFixed(0)}% busy, ${otherCores(usage, machine.cores).toFixed(2)} cores not ours`);
      return value;
    };
    /**
     * A row and its reference, back to back, `opts.rounds` times, keeping each one's
     * best round (highest rate): other people's work only ever slows a round down, so
     * the best is the closest to what this machine can do. Every round is in the JSON.
     */
    const bestOf = async (names: string[], runs: Array<() => Promise<unknown>>) => {
      const rounds: Array<Record<string, RunData['phases'][string]>> = [];
      for (let r = 0; r < opts.rounds; r++) {
        for (const run of runs) await run();
        rounds.push(Object.fromEntries(names.map((n) => [n, data.phases[n]!])));
      }
      const kept: Record<string, number> = {};
      for (const n of names) {
        const rate = (i: number) => rounds[i]![n]!.result?.rate ?? 0;
        kept[n] = rounds.reduce((best, _rd, i) => (rate(i) > rate(best) ? i : best), 0);
        data.phases[n] = rounds[kept[n]]![n]!;
      }
      (data.rounds ??= {})[names.join(' | ')] = { kept, rounds: rounds.map((rd) => names.map((n) => ({ phase: n, rate: rd[n]!.result?.rate, otherCores: otherCores(rd[n]!.usage, machine.cores) }))) };
      if (rounds.length > 1) log(`${names.join(' | ')}: kept rounds ${names.map((n) => kept[n]! + 1).join(', ')} of ${rounds.length} (best of each)`);
    };
    const all = <T>(method: string, params: (i: number) => unknown, timeoutMs: number) => Promise.all(workers.map((w, i) => w.call<T>(method, params(i), timeoutMs)));
    const runTimeout = opts.warmupMs + opts.durationMs + 60_000;
    const grpc = (name: string, target: string, bearer?: string) =>
      phase(name, async () => combine(await all<LoadResult>('grpc', () => ({ target, inflight: perWorker, warmupMs: opts.warmupMs, durationMs: opts.durationMs, ...(bearer ? { bearer } : {}) }), runTimeout)));

    // Row 7 first: mezd joins, then idles (renewing every ~15 s) while row 1 runs.
    if (want('mezd')) {
      const add = JSON.parse(await stack.mezctl(['bots', 'add', '--name=mezd-rss', '--roles=bench', '--output', 'json'])) as { join_token: string };
      mezd = new MezdWatch(stack.authServer, add.join_token);
      await mezd.joined();
      sampler.watch('mezd', mezd.pid);
    }

    // Row 1: in process, one core, nothing else asked of the stack.
    if (want('sign')) {
      const signer = BenchChild.start('signer', join(DIST, 'sign', 'sign-worker.js'), profileDir ? { execArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] } : {});
      children.push(signer);
      pidNames.set(signer.pid, 'signer');
      sampler.watch('signer', signer.pid);
      for (const algorithm of ['ecdsa-p256', 'ed25519'] as const) {
        const r = await phase(`sign ${algorithm}`, () => signer.call<SignResults>('run', { algorithm, durationMs: opts.signDurationMs, rounds: 4 }, opts.signDurationMs * 4 + 60_000), () => undefined);
        data.sign.push({ ...r, peakRss: data.phases[`sign ${algorithm}`]?.usage.peakRss.signer });
      }
      await signer.stop();
      sampler.unwatch('signer');
    }

    // References and the gRPC rows, back to back so the machine is in the same state.
    if (want('echo') || want('join') || want('renew')) await bestOf(['echo grpc-js', 'health auth-server'], [() => grpc('echo grpc-js', 'echo-raw'), () => grpc('health auth-server', 'health')]);
    // What the rows stand on: PostgreSQL and Redis directly, and through the auth-server's Prisma stores.
    if (want('store')) {
      const store = BenchChild.start('store', join(DIST, 'store', 'store-worker.js'));
      children.push(store);
      sampler.watch('store worker', store.pid);
      await store.call('connect', { databaseUrl: stack.databaseUrl(), ...(useRedis ? { redisUrl: opts.redisUrl } : {}), poolSize: 16 });
      const run = (name: string, what: string, inflight: number) =>
        phase(name, async () => combine([await store.call<LoadResult>('run', { what, inflight, warmupMs: opts.warmupMs, durationMs: Math.min(opts.durationMs, 3000) }, runTimeout)]));
      await run('store pg insert', 'pg-insert', 16);
      await run('store audit append', 'audit-append', 16);
      await run('store chain append pg', 'chain-pg', 16);
      await run('store chain append batched', 'chain-batched', 16);
      // One at a time: Prisma batches findUnique calls made in the same tick into one query.
      await run('store pg select', 'pg-select', 1);
      await run('store prisma select', 'prisma-select', 1);
      if (useRedis) await run('store redis get', 'redis-get', 64);
      await store.call('close');
      await store.stop();
      sampler.unwatch('store worker');
    }
    let apiToken: string | undefined;
    if (want('whoami') || want('cc')) apiToken = await clientCredentialsToken(stack.httpUrl);
    if (want('whoami')) await bestOf(['echo Mezite server', 'whoami'], [() => grpc('echo Mezite server', 'echo-mezite'), () => grpc('whoami', 'whoami', apiToken)]);
    if (want('cc')) {
      const http = (name: string, url: string) =>
        phase(name, async () => combine(await all<LoadResult>('http', () => ({ url, clientId: DEMO_CLIENT.id, clientSecret: DEMO_CLIENT.secret, inflight: perWorker, warmupMs: opts.warmupMs, durationMs: opts.durationMs }), runTimeout)));
      await bestOf(['client_credentials oidc-provider', 'client_credentials auth-server'], [() => http('client_credentials oidc-provider', oidcUrl), () => http('client_credentials auth-server', `${stack.httpUrl}/oauth2/token`)]);
    }
    if (mezd) {
      data.mezd = await mezd.finish();
      sampler.unwatch('mezd');
      mezd = undefined;
      log(`mezd: idle VmRSS ${mib(data.mezd.idleRss)?.toFixed(1)} MiB after ${data.mezd.refreshes} joins/renewals; VmHWM ${mib(data.mezd.hwm)?.toFixed(1)} MiB`);
    }

    // Rows 2, 3, 6: the same bots throughout. Join and renewal certificates last 1 h so
    // every bot is still valid when the fleet starts; the fleet renews to 1-minute ones.
    if (want('join') || want('renew') || want('fleet')) {
      const share = (i: number) => Math.floor(opts.bots / opts.workers) + (i < opts.bots % opts.workers ? 1 : 0);
      await phase('create bots (admin API)', async () => combine(await all<LoadResult>('createBots', (i) => ({ count: share(i), role: 'bench', adminToken: admin.token, inflight: perWorker, deadlineMs: opts.phaseDeadlineMs }), opts.phaseDeadlineMs + 60_000)));
      await phase('join', async () => combine(await all<LoadResult>('join', () => ({ inflight: perWorker, ttlMs: HOUR, deadlineMs: opts.phaseDeadlineMs }), opts.phaseDeadlineMs + 60_000)));
      if (want('renew') || want('fleet')) {
        const renewDeadline = Math.round(opts.phaseDeadlineMs * 0.6);
        await phase('renew', async () => combine(await all<LoadResult>('renew', () => ({ inflight: perWorker, ttlMs: HOUR, deadlineMs: renewDeadline }), renewDeadline + 60_000)));
      }
      if (want('fleet')) {
        const joined = (await all<number>('joined', () => ({}), 10_000)).reduce((a, b) => a + b, 0);
        const periodMs = fleetPeriodMs(opts);
        data.fleetDemand = { bots: joined, periodMs, rate: joined / (periodMs / 1000) };
        log(`fleet: ${joined} bots, 1 renewal per ~${(periodMs / 1000).toFixed(1)} s each → ${data.fleetDemand.rate.toFixed(0)} renewals/s asked for ${opts.fleetDurationMs / 1000} s`);
        const results = await phase(
          'fleet',
          () => all<FleetResult>('fleet', () => ({ durationMs: opts.fleetDurationMs, ttlMs: opts.fleetTtlMs, intervalMs: opts.fleetIntervalMs, spreadMs: periodMs }), opts.fleetDurationMs + 90_000),
          (rs) => combine(rs.map((r) => ({ ok: r.renewals, okTotal: r.renewals, hung: r.hung, errors: r.failures, errorSamples: r.errorSamples, hist: r.hist, startedAt: r.startedAt, endedAt: r.endedAt, clientCpuSeconds: r.clientCpuSeconds }))),
        );
        data.fleet = {
          bots: results.reduce((a, r) => a + r.bots, 0),
          gaveUp: results.reduce((a, r) => a + r.gaveUp, 0),
          expired: results.reduce((a, r) => a + r.expired, 0),
          maxInFlight: results.reduce((a, r) => a + r.maxInFlight, 0),
          stuckAtStop: results.reduce((a, r) => a + r.stuckAtStop, 0),
          timeline: mergeTimelines(results.map((r) => r.timeline)),
        };
      }
    }
    data.memory.hwm = sampler.hwmNow();
    data.memory.afterLoad = sampler.rssNow();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }

  let profiles: ProfileSummary[] | undefined;
  if (profileDir) profiles = summariseProfiles(profileDir, pidNames, profiledPhases, log);
  const finishedAt = Date.now();
  const rows = buildRows(data);
  const result = {
    version: 1,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    /** The run itself, without waiting for a quiet moment (`waitedSeconds`) or the build. */
    durationSeconds: Math.round((finishedAt - started) / 1000),
    waitedSeconds,
    machine: { ...data.machine, loadAvgEnd: loadavg().map((x) => Math.round(x * 100) / 100), topAtEnd: topProcesses() },
    storage,
    options: { ...opts, only: [...opts.only] },
    rows,
    memory: data.memory,
    mezd: data.mezd,
    fleet: data.fleet,
    fleetDemand: data.fleetDemand,
    rounds: data.rounds,
    sign: data.sign,
    phases: data.phases,
    ...(profiles ? { profiles } : {}),
  };
  const text = renderReport(rows, data, result.machine, false);
  process.stdout.write(`\n${text}\n`);
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${stamp}${opts.quick ? '-quick' : ''}.json`);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
  renameSync(tmp, file);
  writeFileSync(join(outDir, opts.quick ? 'latest-quick.json' : 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(outDir, opts.quick ? 'latest-quick.md' : 'latest.md'), renderReport(rows, data, result.machine, true) + '\n');
  log(`results: ${file} (${Math.round((finishedAt - started) / 1000)} s${waitedSeconds ? `, after ${waitedSeconds} s waiting for a quiet moment` : ''})`);
}

/**
 * How often one fleet bot renews: mezd's loop waits the interval (±10 %) but never past
 * 2/3 of the certificate's life from issuance (±5 % of the life).
 */
function fleetPeriodMs(o: BenchOptions): number {
  return Math.min(o.fleetIntervalMs, (o.fleetTtlMs * 2) / 3);
}

function mergeTimelines(ts: Array<Array<[number, number]>>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const t of ts) t.forEach(([ok, fail], i) => (out[i] = [(out[i]?.[0] ?? 0) + ok, (out[i]?.[1] ?? 0) + fail]));
  return out;
}

/** One client_credentials grant through the auth-server's token endpoint: the API token WhoAmI presents. */
async function clientCredentialsToken(httpUrl: string): Promise<string> {
  const r = await fetch(`${httpUrl}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${DEMO_CLIENT.id}:${DEMO_CLIENT.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const body = (await r.json()) as { access_token?: string };
  if (!r.ok || !body.access_token) throw new Error(`client_credentials failed: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});

