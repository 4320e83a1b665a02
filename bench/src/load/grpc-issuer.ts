import { toProtoHeartbeat, type BotHeartbeat, type IdentityIssuer, type IdentityState, type IdentityStateStore, type IssuedCertificate, type JoinInput, type RenewInput, type Timers } from '@mezite/daemon';
import type { MeziteCallOptions } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';

type JoinClient = Client<typeof authv1.JoinServiceDefinition, MeziteCallOptions>;

const seconds = (ms: number) => Math.ceil(ms / 1000);
const fromResponse = (r: authv1.JoinResponse): IssuedCertificate => ({
  certificate: r.certificate,
  hostCertAuthorities: r.hostCertAuthorities,
  userCertAuthorities: r.userCertAuthorities,
  generation: r.generation,
  botName: r.botName,
  principals: r.principals,
  instanceId: r.instanceId,
});

/**
 * What a daemon's heartbeat weighs, for renewers built without one (the fleet's): the
 * server stores it with every join and renewal, so the load should carry it.
 */
const BENCH_HEARTBEAT: BotHeartbeat = {
  version: 'bench',
  hostname: 'bench-bot.example.internal',
  os: `${process.platform} bench ${process.arch}`,
  renewalIntervalSeconds: 1200,
  oneShot: false,
  destinations: [{ destination: 'directory:/var/lib/mezite/identity/certs', healthy: true, error: '', updateTime: new Date() }],
};


/**
 * The daemon's issuer, call for call (as mezd's GrpcIdentityIssuer, without request
 * ids): Join, or one RenewBot carrying the proof the renewer signed (signBotRenewal
 * over the presented certificate's instance, generation and serial, the new key and
 * the time).
 */
export class BenchIssuer implements IdentityIssuer {
  constructor(private readonly client: JoinClient) {}

  async join(i: JoinInput): Promise<IssuedCertificate> {
    return fromResponse(await this.client.join({ joinToken: i.joinToken, publicKey: i.publicKey, requestedTtlSeconds: seconds(i.ttlMs), heartbeat: toProtoHeartbeat(i.heartbeat ?? BENCH_HEARTBEAT) }));
  }

  async renew(i: RenewInput): Promise<IssuedCertificate> {
    const r = await this.client.renewBot({
      certificate: i.certificate,
      newPublicKey: i.newPublicKey,
      time: i.time,
      signature: i.signature,
      requestedTtlSeconds: seconds(i.ttlMs),
      heartbeat: toProtoHeartbeat(i.heartbeat ?? BENCH_HEARTBEAT),
    });
    return fromResponse(r);
  }
}

/** A simulated bot keeps its state in memory; mezd writes the same state to its data dir. */
export class MemoryStateStore implements IdentityStateStore {
  readonly description = 'memory';
  /** What was saved last: the bot's data dir, in memory (a pending key survives a failed phase). */
  state: IdentityState | undefined;
  async load(): Promise<IdentityState | undefined> {
    return this.state;
  }
  async save(state: IdentityState): Promise<void> {
    this.state = state;
  }
}

/** Real timers, as mezd's. */
export const realTimers: Timers = {
  set: (fn, ms) => ({ id: setTimeout(fn, Math.max(0, ms)) }),
  clear: (h) => clearTimeout(h.id as NodeJS.Timeout),
};
