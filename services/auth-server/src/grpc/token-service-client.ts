import { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { MeziteCallOptions } from '@mezite/platform';
import { isMeziteError } from '@mezite/identity';
import type { JoinTokenClaim, JoinTokenMinter } from '../domain/join-token-minter';

/**
 * Waits before each retry of a release that could not reach token-service (or its
 * database): every 2 s at most, so the token is free within about 2 s of them
 * returning; about 54 s in all, inside the claim's 60 s, after which the claim
 * expires by itself anyway.
 */
export const RELEASE_RETRY_DELAYS_MS: readonly number[] = [250, 500, 1000, ...Array<number>(26).fill(2000)];

/** JoinTokenMinter over token-service's gRPC API. */
export class GrpcJoinTokenMinter implements JoinTokenMinter {
  constructor(
    private readonly client: Client<typeof tokenv1.JoinTokenServiceDefinition, MeziteCallOptions>,
    private readonly retryDelaysMs: readonly number[] = RELEASE_RETRY_DELAYS_MS,
  ) {}

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

  /**
   * Gives the token back after a failed join. When token-service or its database is
   * away (the very outage that failed the join), the release is retried in the
   * background, so the token is usable again seconds after they return rather than
   * only when the claim expires. The first attempt's error is still thrown.
   */
  async release(claimId: string, requestId?: string): Promise<void> {
    try {
      await this.client.releaseJoinToken({ claimId }, requestId ? { requestId } : {});
    } catch (err) {
      if (isMeziteError(err, 'Unavailable') || isMeziteError(err, 'DeadlineExceeded')) this.retryRelease(claimId, requestId, 0);
      throw err;
    }
  }

  private retryRelease(claimId: string, requestId: string | undefined, attempt: number): void {
    const delay = this.retryDelaysMs[attempt];
    if (delay === undefined) return;
    const timer = setTimeout(() => {
      this.client.releaseJoinToken({ claimId }, requestId ? { requestId } : {}).catch((err: unknown) => {
        if (isMeziteError(err, 'Unavailable') || isMeziteError(err, 'DeadlineExceeded')) this.retryRelease(claimId, requestId, attempt + 1);
      });
    }, delay);
    timer.unref(); // never keeps a stopping auth-server alive: the claim expires anyway
  }
}
