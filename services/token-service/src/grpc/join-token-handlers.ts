import { invalidArgument } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import { tokenv1 } from '@mezite/proto';
import { ServerError, Status, type ServiceImplementation } from 'nice-grpc';
import type { SubjectKind } from '../domain/join-token';
import type { JoinTokenManager } from '../domain/join-token-manager';

function subjectKind(k: tokenv1.SubjectKind): SubjectKind {
  if (k === tokenv1.SubjectKind.SUBJECT_KIND_BOT) return 'bot';
  if (k === tokenv1.SubjectKind.SUBJECT_KIND_NODE) return 'node';
  throw invalidArgument('subject_kind must be BOT or NODE');
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
    async claimJoinToken() {
      throw new ServerError(Status.UNIMPLEMENTED, 'ClaimJoinToken is not implemented yet');
    },
    async confirmJoinToken() {
      throw new ServerError(Status.UNIMPLEMENTED, 'ConfirmJoinToken is not implemented yet');
    },
    async releaseJoinToken() {
      throw new ServerError(Status.UNIMPLEMENTED, 'ReleaseJoinToken is not implemented yet');
    },
  };
}
