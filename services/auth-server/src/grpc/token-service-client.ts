import { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { MeziteCallOptions } from '@mezite/platform';
import type { JoinTokenClaim, JoinTokenMinter } from '../domain/join-token-minter';

/** JoinTokenMinter over token-service's gRPC API. */
export class GrpcJoinTokenMinter implements JoinTokenMinter {
  constructor(private readonly client: Client<typeof tokenv1.JoinTokenServiceDefinition, MeziteCallOptions>) {}

  async create(input: { tenantId: string; subjectKind: 'bot' | 'node'; subjectId: string; ttlMs: number; requestId?: string }) {
    const r = await this.client.createJoinToken(
      {
        tenantId: input.tenantId,
        subjectKind: input.subjectKind === 'bot' ? tokenv1.SubjectKind.SUBJECT_KIND_BOT : tokenv1.SubjectKind.SUBJECT_KIND_NODE,
        subjectId: input.subjectId,
        ttlSeconds: Math.round(input.ttlMs / 1000),
      },
      input.requestId ? { requestId: input.requestId } : {},
    );
    if (!r.expireTime) throw new Error('token-service returned no expire_time');
    return { id: r.id, plaintext: r.token, expiresAt: r.expireTime };
  }

  async revokeForSubject(input: { tenantId: string; subjectId: string; requestId?: string }) {
    const r = await this.client.revokeJoinTokens({ tenantId: input.tenantId, subjectId: input.subjectId }, input.requestId ? { requestId: input.requestId } : {});
    return r.revoked;
  }

  async claim(token: string, requestId?: string): Promise<JoinTokenClaim> {
    const r = await this.client.claimJoinToken({ token, claimTtlSeconds: 60 }, requestId ? { requestId } : {});
    return {
      claimId: r.claimId,
      tokenId: r.tokenId,
      tenantId: r.tenantId,
      subjectKind: r.subjectKind === tokenv1.SubjectKind.SUBJECT_KIND_NODE ? 'node' : 'bot',
      subjectId: r.subjectId,
    };
  }

  async confirm(claimId: string, requestId?: string): Promise<void> {
    await this.client.confirmJoinToken({ claimId }, requestId ? { requestId } : {});
  }

  async release(claimId: string, requestId?: string): Promise<void> {
    await this.client.releaseJoinToken({ claimId }, requestId ? { requestId } : {});
  }
}
