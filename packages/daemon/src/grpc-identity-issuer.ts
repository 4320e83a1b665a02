import { internal } from '@mezite/identity';
import type { MeziteCallOptions } from '@mezite/platform/client';
import type { authv1 } from '@mezite/proto';
import { type CallOptions, type Client, Metadata } from 'nice-grpc';
import type { IssuedCertificate } from './bot-identity';
import type { IdentityIssuer } from './identity-issuer';

type JoinClient = Client<typeof authv1.JoinServiceDefinition, MeziteCallOptions>;

/**
 * {@link IdentityIssuer} over the auth server's public JoinService. Errors arrive as
 * MeziteErrors from the client middleware (`createMeziteClients`), so a locked bot is
 * PermissionDenied with the server's message and a dead server is Unavailable.
 */
export class GrpcIdentityIssuer implements IdentityIssuer {
  constructor(private readonly client: JoinClient) {
    if (!client) throw new Error('GrpcIdentityIssuer: client is required');
  }

  async join(input: { joinToken: string; publicKey: string; ttlMs: number; requestId?: string }): Promise<IssuedCertificate> {
    const r = await this.client.join({ joinToken: input.joinToken, publicKey: input.publicKey, requestedTtlSeconds: toSeconds(input.ttlMs) }, callOptions(input.requestId));
    return fromResponse(r);
  }

  async renew(input: { certificate: string; newPublicKey: string; ttlMs: number; sign: (challenge: Buffer) => Buffer; requestId?: string }): Promise<IssuedCertificate> {
    const begun = await this.client.beginRenewal({ certificate: input.certificate }, callOptions(input.requestId));
    if (!begun.challengeId || begun.challenge.length === 0) throw internal('the auth server sent an empty renewal challenge');
    const r = await this.client.completeRenewal({
      challengeId: begun.challengeId,
      signature: input.sign(Buffer.from(begun.challenge)),
      newPublicKey: input.newPublicKey,
      requestedTtlSeconds: toSeconds(input.ttlMs),
    }, callOptions(input.requestId));
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

function fromResponse(r: authv1.JoinResponse): IssuedCertificate {
  return {
    certificate: r.certificate,
    hostCertAuthorities: r.hostCertAuthorities,
    userCertAuthorities: r.userCertAuthorities,
    generation: r.generation,
    botName: r.botName,
    principals: r.principals,
  };
}
