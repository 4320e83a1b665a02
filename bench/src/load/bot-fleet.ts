import { systemClock } from '@mezite/identity';
import { type BotIdentity, IdentityRenewer, RenewalLoop } from '@mezite/daemon';
import { type MeziteCallOptions, Metadata, nullLogger } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import { elapsedUs, Histogram } from '../histogram';
import { closedLoop, HungError, within } from './closed-loop';
import { BenchIssuer, MemoryStateStore, realTimers } from './grpc-issuer';
import type { LoadResult } from './load-result';

type BotClient = Client<typeof authv1.BotServiceDefinition, MeziteCallOptions>;
type JoinClient = Client<typeof authv1.JoinServiceDefinition, MeziteCallOptions>;

interface SimBot {
  name: string;
  joinToken: string;
  identity?: BotIdentity;
  /** Its data dir: the pending key of a step whose answer was lost is sent again, as mezd does. */
  store: MemoryStateStore;
}

/** What the fleet run measured in one worker. */
export interface FleetResult {
  bots: number;
  renewals: number;
  failures: number;
  errorSamples: string[];
  /** Bots whose loop gave up (a failure that cannot heal, e.g. the certificate expired). */
  gaveUp: number;
  /** Bots without a valid certificate when the run ended. */
  expired: number;
  /** Loops whose attempt in flight had not ended 40 s after the run (should be 0: calls have 15-s deadlines). */
  stuckAtStop: number;
  /** Renewals abandoned after 45 s without settling (should be 0). */
  hung: number;
  hist: LoadResult['hist'];
  /** Renewals and failures per 10 s slot since the start. */
  timeline: Array<[number, number]>;
  startedAt: number;
  endedAt: number;
  clientCpuSeconds: number;
  maxInFlight: number;
}

/**
 * The bots one load generator simulates. Each is what `mezd identity start` runs —
 * the daemon's own IdentityRenewer (fresh ECDSA P-256 key per certificate, proof of
 * possession, certificate checks) and, in the fleet run, its RenewalLoop (interval
 * ±10 % jitter, never later than 2/3 of the certificate's life, backoff on failure) —
 * with the state kept in memory instead of a data dir.
 */
export class BotFleet {
  private readonly bots: SimBot[] = [];

  constructor(
    private readonly o: { authServer: string; caCertPem: string; botClient: BotClient; joinClients: JoinClient[]; workerIndex: number },
  ) {}

  get size(): number {
    return this.bots.length;
  }

  /** Bots holding a certificate (a join may finish after its phase's window closed). */
  get joined(): number {
    return this.bots.filter((b) => b.identity).length;
  }

  private issuer(i: number): BenchIssuer {
    return new BenchIssuer(this.o.joinClients[i % this.o.joinClients.length]!);
  }

  private renewer(bot: SimBot, i: number, ttlMs: number): IdentityRenewer {
    return new IdentityRenewer({
      issuer: this.issuer(i),
      store: bot.store,
      destinations: [],
      clock: systemClock,
      logger: nullLogger,
      authServer: this.o.authServer,
      caCertPem: this.o.caCertPem,
      certificateTtlMs: ttlMs,
      joinToken: bot.identity ? undefined : bot.joinToken,
      initial: bot.identity,
      pending: bot.store.state?.pending,
      joinTokenHash: bot.store.state?.joinTokenHash,
    });
  }

  /** Creates `count` bots through the admin API (as `mezctl bots add` does) and keeps their join tokens. */
  createBots(p: { count: number; role: string; adminToken: string; inflight: number; deadlineMs: number }): Promise<LoadResult> {
    const start = this.bots.length;
    return closedLoop({ inflight: p.inflight, warmupMs: 0, durationMs: p.deadlineMs, maxOps: p.count }, async (i) => {
      const name = `b-${this.o.workerIndex}-${start + i}`;
      const r = await this.o.botClient.createBot({ name, roles: [p.role], tokenTtlSeconds: 3600 }, { metadata: Metadata({ authorization: `Bearer ${p.adminToken}` }) });
      this.bots.push({ name, joinToken: r.joinToken, store: new MemoryStateStore() });
    });
  }

  /** Every bot that has not joined joins once (a one-time token each). */
  join(p: { inflight: number; ttlMs: number; deadlineMs: number }): Promise<LoadResult> {
    const todo = this.bots.filter((b) => !b.identity);
    return closedLoop({ inflight: p.inflight, warmupMs: 0, durationMs: p.deadlineMs, maxOps: todo.length }, async (i) => {
      const bot = todo[i]!;
      bot.identity = await this.renewer(bot, i, p.ttlMs).refresh();
    });
  }

  /** Every joined bot renews once. */
  renew(p: { inflight: number; ttlMs: number; deadlineMs: number; maxOps?: number }): Promise<LoadResult> {
    const joined = this.bots.filter((b) => b.identity);
    const n = Math.min(joined.length, p.maxOps ?? Infinity);
    return closedLoop({ inflight: p.inflight, warmupMs: 0, durationMs: p.deadlineMs, maxOps: n }, async (i) => {
      const bot = joined[i]!;
      bot.identity = await this.renewer(bot, i, p.ttlMs).refresh();
    });
  }

  /**
   * The fleet: every joined bot runs mezd's RenewalLoop with `ttlMs` certificates for
   * `durationMs`. Loops start at a uniformly random point of the first `spreadMs`, as
   * daemons started at different times would, then follow their own schedule.
   */
  async fleet(p: { durationMs: number; ttlMs: number; intervalMs: number; spreadMs: number }): Promise<FleetResult> {
    const hist = new Histogram();
    const errorSamples = new Set<string>();
    const timeline: Array<[number, number]> = [];
    let renewals = 0;
    let failures = 0;
    let gaveUp = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let hung = 0;
    const startedAt = Date.now();
    const cpu0 = process.cpuUsage();
    const slot = () => {
      const s = Math.floor((Date.now() - startedAt) / 10_000);
      while (timeline.length <= s) timeline.push([0, 0]);
      return timeline[s]!;
    };
    const joined = this.bots.filter((b) => b.identity);
    const running = joined.map((bot, i) => {
      const renewer = this.renewer(bot, i, p.ttlMs);
      const timed = {
        refresh: async () => {
          const t = process.hrtime.bigint();
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            const id = await within(renewer.refresh(), 45_000, 'renewal');
            hist.record(elapsedUs(t));
            renewals++;
            slot()[0]++;
            bot.identity = id;
            return id;
          } catch (err) {
            if (err instanceof HungError) hung++;
            failures++;
            slot()[1]++;
            if (errorSamples.size < 5) errorSamples.add(String((err as Error).message).slice(0, 200));
            throw err;
          } finally {
            inFlight--;
          }
        },
        current: () => renewer.current(),
        canRecover: (now: Date) => renewer.canRecover(now),
        get lastRequestId() {
          return renewer.lastRequestId;
        },
      };
      const loop = new RenewalLoop({ renewer: timed, clock: systemClock, timers: realTimers, logger: nullLogger, renewalIntervalMs: p.intervalMs });
      const timer = setTimeout(() => loop.run().catch(() => gaveUp++), Math.random() * p.spreadMs);
      return { loop, timer };
    });
    const debug = process.env.BENCH_DEBUG
      ? setInterval(() => process.stdout.write(`[fleet ${this.o.workerIndex}] +${Math.round((Date.now() - startedAt) / 1000)}s ${inFlight} in flight, ${renewals} ok, ${failures} failed, ${gaveUp} gave up, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB\n`), 30_000)
      : undefined;
    await new Promise((r) => setTimeout(r, p.durationMs));
    clearInterval(debug);
    const endedAt = Date.now();
    if (process.env.BENCH_DEBUG) process.stdout.write(`[fleet ${this.o.workerIndex}] duration over after ${endedAt - startedAt} ms; ${inFlight} in flight\n`);
    for (const r of running) clearTimeout(r.timer);
    // Each stop waits for its attempt in flight (its calls have deadlines); bounded anyway.
    let stopped = 0;
    await Promise.race([Promise.all(running.map((r) => r.loop.stop().then(() => stopped++))), new Promise((r) => setTimeout(r, 40_000))]);
    if (process.env.BENCH_DEBUG) process.stdout.write(`[fleet ${this.o.workerIndex}] stopped after ${Date.now() - endedAt} ms; ${inFlight} in flight, ${running.length - stopped} loops not stopped\n`);
    const cpu = process.cpuUsage(cpu0);
    const now = Date.now();
    return {
      bots: joined.length,
      stuckAtStop: running.length - stopped,
      hung,
      renewals,
      failures,
      errorSamples: [...errorSamples],
      gaveUp,
      expired: joined.filter((b) => !b.identity || b.identity.validBefore.getTime() <= now).length,
      hist: hist.toJSON(),
      timeline,
      startedAt,
      endedAt,
      clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxInFlight,
    };
  }
}
