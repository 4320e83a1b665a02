import { GrpcIdentityIssuer, IdentityRenewer, MemoryStateStore, RenewalLoop, systemTimers, type IdentityIssuer } from '@mezite/daemon';
import { systemClock, unavailable } from '@mezite/identity';
import { createMeziteClients, nullLogger, publicChannelCredentials, type MeziteClients } from '@mezite/platform';
import { authv1 } from '@mezite/proto';

/** One simulated mezd: the daemon's own renewer and renewal loop, in this process. */
export interface SimBot {
  name: string;
  renewer: IdentityRenewer;
  loop: RenewalLoop;
  /** Set when the loop gave up (the daemon would have exited). */
  ended?: unknown;
}

/** What the fleet's calls came back with. */
export interface FleetStats {
  /** Joins and renewals attempted. */
  attempts: number;
  ok: number;
  /** Refused by load shedding (RESOURCE_EXHAUSTED with a retry hint). */
  shed: number;
  /** Every other failure, by code. */
  failed: Record<string, number>;
  /** Answers the server gave and the fleet threw away (`loseResponses`), by call. */
  lost: { join: number; renew: number };
  /** Up to ten distinct failure messages, for the report. */
  samples: string[];
}

/**
 * Many bots, each running mezd's IdentityRenewer and RenewalLoop exactly as `mezd
 * start` does (real timers, jittered backoff, the server's retry hints), sharing a few
 * channels per auth-server replica instead of one connection each. Keys and
 * certificates stay in memory; nothing is written to disk.
 */
export class Fleet {
  readonly stats: FleetStats = { attempts: 0, ok: 0, shed: 0, failed: {}, lost: { join: 0, renew: 0 }, samples: [] };
  private readonly channels: MeziteClients[];

  private constructor(
    readonly bots: SimBot[],
    channels: MeziteClients[],
  ) {
    this.channels = channels;
  }

  /**
   * `loseResponses`: the share of successful answers (0…1) thrown away after they
   * arrived, as if the connection dropped after the server committed: the daemon sees
   * Unavailable and retries (presenting the key it stored before asking).
   */
  static start(o: { addrs: string[]; ca: string; tokens: Array<{ name: string; token: string }>; channelsPerAddr?: number; renewalIntervalMs?: number; certificateTtlMs?: number; loseResponses?: number; random?: () => number }): Fleet {
    const channels = o.addrs.flatMap((addr) =>
      Array.from({ length: o.channelsPerAddr ?? 4 }, () => createMeziteClients({ address: addr, credentials: publicChannelCredentials(o.ca), peerName: `auth server ${addr}`, defaultDeadlineMs: 15_000 })),
    );
    const fleet = new Fleet([], channels);
    o.tokens.forEach(({ name, token }, i) => {
      const channel = channels[i % channels.length] as MeziteClients;
      const inner = new GrpcIdentityIssuer(channel.create(authv1.JoinServiceDefinition));
      const lose = <T>(what: 'join' | 'renew', p: Promise<T>): Promise<T> =>
        p.then((r) => {
          if ((o.loseResponses ?? 0) > (o.random ?? Math.random)()) {
            fleet.stats.lost[what]++;
            throw unavailable('the answer was lost on the way (test)');
          }
          return r;
        });
      const issuer: IdentityIssuer = { join: (x) => fleet.count(lose('join', inner.join(x))), renew: (x) => fleet.count(lose('renew', inner.renew(x))) };
      const renewer = new IdentityRenewer({
        issuer,
        store: new MemoryStateStore(),
        destinations: [],
        clock: systemClock,
        logger: nullLogger,
        authServer: o.addrs[i % o.addrs.length] as string,
        caCertPem: o.ca,
        certificateTtlMs: o.certificateTtlMs ?? 3600_000,
        joinToken: token,
      });
      const loop = new RenewalLoop({ renewer, clock: systemClock, timers: systemTimers, logger: nullLogger, renewalIntervalMs: o.renewalIntervalMs ?? 3600_000 });
      const bot: SimBot = { name, renewer, loop };
      loop.run().catch((err: unknown) => (bot.ended = err ?? new Error('ended')));
      fleet.bots.push(bot);
    });
    return fleet;
  }

  /** Bots whose identity has reached generation `g`. */
  atGeneration(g: number): number {
    return this.bots.filter((b) => (b.renewer.current()?.generation ?? 0) >= g).length;
  }

  /** Bots whose loop gave up. */
  ended(): SimBot[] {
    return this.bots.filter((b) => b.ended !== undefined);
  }

  /** Every bot renews now (SIGHUP to every mezd); resolves when each attempt finished (failed or not). */
  async renewAll(): Promise<void> {
    await Promise.all(this.bots.map((b) => b.loop.renewNow()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.bots.map((b) => b.loop.stop()));
    for (const c of this.channels) c.close();
  }

  private async count<T>(p: Promise<T>): Promise<T> {
    this.stats.attempts++;
    try {
      const r = await p;
      this.stats.ok++;
      return r;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      if (code === 'ResourceExhausted') this.stats.shed++;
      else this.stats.failed[code] = (this.stats.failed[code] ?? 0) + 1;
      const sample = `${code}: ${(err as Error).message}`.slice(0, 160);
      if (this.stats.samples.length < 10 && !this.stats.samples.includes(sample)) this.stats.samples.push(sample);
      throw err;
    }
  }
}
