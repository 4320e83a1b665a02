import { invalidArgument } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { SubjectKind } from '../domain/join-token';
import type { JoinTokenManager } from '../domain/join-token-manager';

function subjectKind(k: tokenv1.SubjectKind): SubjectKind {
  if (k === tokenv1.SubjectKind.SUBJECT_KIND_BOT) return 'bot';
  if (k === tokenv1.SubjectKind.SUBJECT_KIND_NODE) return 'node';
  throw invalidArgument('subject_kind must be BOT or NODE');
}

function toProtoKind(k: SubjectKind): tokenv1.SubjectKind {
  return k === 'bot' ? tokenv1.SubjectKind.SUBJECT_KIND_BOT : tokenv1.SubjectKind.SUBJECT_KIND_NODE;
}

/** Thin gRPC handlers for JoinTokenService: map, call the manager, map back. */
export function joinTokenHandlers(manager: JoinTokenManager): ServiceImplementation<tokenv1.JoinTokenServiceDefinition, RequestContext> {
  return {
    async createJoinToken(req, ctx) {
      const t = await manager.create({
        tenantId: req.tenantId,
        subjectKind: subjectKind(req.subjectKind),
        subjectId: req.subjectId,
        ttlMs: req.ttlSeconds * 1000,
      });
      ctx.log.info('join token created', { token_id: t.id, subject_id: req.subjectId, expires_at: t.expiresAt.toISOString() });
      return { token: t.plaintext, id: t.id, expireTime: t.expiresAt };
    },
    async revokeJoinTokens(req) {
      return { revoked: await manager.revokeForSubject(req.tenantId, req.subjectId) };
    },
    async claimJoinToken(req, ctx) {
      const c = await manager.claim({ plaintext: req.token, claimTtlSeconds: req.claimTtlSeconds });
      ctx.log.debug('join token claimed', { token_id: c.tokenId, claim_id: c.claimId, subject_id: c.subjectId, claimed_until: c.claimedUntil.toISOString() });
      return { claimId: c.claimId, tokenId: c.tokenId, tenantId: c.tenantId, subjectKind: toProtoKind(c.subjectKind), subjectId: c.subjectId };
    },
    async confirmJoinToken(req, ctx) {
      await manager.confirm(req.claimId);
      ctx.log.debug('join token redeemed', { claim_id: req.claimId });
      return {};
    },
    async releaseJoinToken(req, ctx) {
      const released = await manager.release(req.claimId);
      ctx.log.info('join token claim released', { claim_id: req.claimId, released });
      return {};
    },
  };
}
