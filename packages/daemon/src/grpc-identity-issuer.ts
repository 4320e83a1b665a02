import type { MeziteCallOptions } from '@mezite/platform/client';
import type { authv1 } from '@mezite/proto';
import { type CallOptions, type Client, Metadata } from 'nice-grpc';
import type { IssuedCertificate } from './bot-identity';
import type { BotHeartbeat } from './heartbeat';
import type { IdentityIssuer, JoinInput, RenewInput } from './identity-issuer';

type JoinClient = Client<typeof authv1.JoinServiceDefinition, MeziteCallOptions>;

/**
 * {@link IdentityIssuer} over the auth server's public JoinService: Join, and RenewBot
 * (one call). Errors arrive as MeziteErrors from the client middleware
 * (`createMeziteClients`), so a locked instance is PermissionDenied with the server's
 * message, a dead server Unavailable and a shed call ResourceExhausted with its
 * `retryAfterMs`.
 */
export class GrpcIdentityIssuer implements IdentityIssuer {
  /** `idToken`: for a delegated join, fetches the platform's ID token (or makes the join key's proof for the key to certify) afresh for each join. */
  constructor(
    private readonly client: JoinClient,
    private readonly idToken?: (publicKey: string) => Promise<string>,
    /** Called after a successful join (bound-keypair: a rotated join key becomes current). */
    private readonly afterJoin?: () => Promise<void>,
  ) {
    if (!client) throw new Error('GrpcIdentityIssuer: client is required');
  }

  async join(input: JoinInput): Promise<IssuedCertificate> {
    const idToken = this.idToken ? await this.idToken(input.publicKey) : '';
    const r = await this.client.join(
      { joinToken: input.joinToken, idToken, publicKey: input.publicKey, requestedTtlSeconds: toSeconds(input.ttlMs), heartbeat: toProtoHeartbeat(input.heartbeat) },
      callOptions(input.requestId),
    );
    await this.afterJoin?.();
    return fromResponse(r);
  }

  async renew(input: RenewInput): Promise<IssuedCertificate> {
    const r = await this.client.renewBot(
      {
        certificate: input.certificate,
        newPublicKey: input.newPublicKey,
        time: input.time,
        signature: input.signature,
        requestedTtlSeconds: toSeconds(input.ttlMs),
        heartbeat: toProtoHeartbeat(input.heartbeat),
      },
      callOptions(input.requestId),
    );
    return fromResponse(r);
  }
}

/** The client middleware sets `x-request-id` only on calls that carry metadata. */
function callOptions(requestId: string | undefined): CallOptions & MeziteCallOptions {
  return requestId ? { requestId, metadata: Metadata() } : {};
}

function toSeconds(ms: number): number {
  return Math.ceil(ms / 1000);
}

/** The heartbeat as the wire carries it (also used by the benchmark's issuer). */
export function toProtoHeartbeat(h: BotHeartbeat | undefined): authv1.BotHeartbeat | undefined {
  if (!h) return undefined;
  return {
    version: h.version,
    hostname: h.hostname,
    os: h.os,
    renewalIntervalSeconds: h.renewalIntervalSeconds,
    oneShot: h.oneShot,
    destinations: h.destinations.map((d) => ({ destination: d.destination, healthy: d.healthy, error: d.error, updateTime: d.updateTime })),
  };
}

function fromResponse(r: authv1.JoinResponse): IssuedCertificate {
  return {
    certificate: r.certificate,
    hostCertAuthorities: r.hostCertAuthorities,
    userCertAuthorities: r.userCertAuthorities,
    generation: r.generation,
    botName: r.botName,
    principals: r.principals,
    instanceId: r.instanceId,
  };
}
