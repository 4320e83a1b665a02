import type { IdentityIssuer, IdentityState, IdentityStateStore, IssuedCertificate, Timers } from '@mezite/daemon';
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
});

/**
 * The daemon's issuer, call for call (mezd's GrpcIdentityIssuer is internal to the
 * package): Join, or BeginRenewal then CompleteRenewal with the proof signed in between.
 */
export class BenchIssuer implements IdentityIssuer {
  constructor(private readonly client: JoinClient) {}

  async join(i: { joinToken: string; publicKey: string; ttlMs: number }): Promise<IssuedCertificate> {
    return fromResponse(await this.client.join({ joinToken: i.joinToken, publicKey: i.publicKey, requestedTtlSeconds: seconds(i.ttlMs) }));
  }

  async renew(i: { certificate: string; newPublicKey: string; ttlMs: number; sign: (challenge: Buffer) => Buffer }): Promise<IssuedCertificate> {
    const begun = await this.client.beginRenewal({ certificate: i.certificate });
    const r = await this.client.completeRenewal({ challengeId: begun.challengeId, signature: i.sign(Buffer.from(begun.challenge)), newPublicKey: i.newPublicKey, requestedTtlSeconds: seconds(i.ttlMs) });
    return fromResponse(r);
  }
}

/** A simulated bot keeps its state in memory; mezd writes the same state to its data dir. */
export class MemoryStateStore implements IdentityStateStore {
  readonly description = 'memory';
  async load(): Promise<IdentityState | undefined> {
    return undefined;
  }
  async save(): Promise<void> {}
}

/** Real timers, as mezd's. */
export const realTimers: Timers = {
  set: (fn, ms) => ({ id: setTimeout(fn, Math.max(0, ms)) }),
  clear: (h) => clearTimeout(h.id as NodeJS.Timeout),
};
