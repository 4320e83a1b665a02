import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { formatIdentityRef } from '@mezite/identity';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin, requirePrincipal } from '../domain/authz';
import type { SessionManager } from '../domain/session-manager';
import { sourceAddress } from '../domain/failure-limiter';
import type { LoginManager } from '../domain/login-manager';
import type { AuthContext } from './auth-middleware';

/**
 * Thin handlers for SessionService. CreateSession and GetLoginConfig need no
 * credential (they are how a person gets one); DeleteSession ends the caller's own;
 * admins list and revoke the bootstrap admin session (the one behind admin-identity.json).
 */
export function sessionHandlers(logins: LoginManager, sessions: SessionManager, audit: AuditLog): ServiceImplementation<typeof authv1.SessionServiceDefinition, AuthContext> {
  return {
    async listBootstrapSessions(_req, ctx) {
      const caller = requireAdmin(ctx.principal, 'list bootstrap sessions');
      const list = await sessions.listBootstrap(caller.tenantId);
      return { sessions: list.map((s) => ({ id: s.id, principal: `user:${s.principalId}`, createTime: s.createdAt, expireTime: s.expiresAt })) };
    },
    async revokeBootstrapSessions(_req, ctx) {
      const caller = requireAdmin(ctx.principal, 'revoke bootstrap sessions');
      const revoked = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'session.bootstrap_revoke', actor: formatIdentityRef(caller), target: 'session:bootstrap', requestId: ctx.requestId, details: {} },
        () => sessions.revokeBootstrap(caller.tenantId),
        (n) => ({ details: { revoked: String(n) } }),
      );
      return { revoked };
    },
    async createSession(req, ctx) {
      const { secret, session } = await logins.createSession({ idToken: req.idToken, nonce: req.nonce, tenant: req.tenant, requestId: ctx.requestId, source: sourceAddress(ctx.peer) });
      return { sessionToken: secret, expireTime: session.expiresAt, principal: `user:${session.principalId}`, acr: session.acr ?? '', amr: session.amr, name: session.name };
    },
    async deleteSession(_req, ctx) {
      await logins.deleteSession(requirePrincipal(ctx.principal), ctx.requestId);
      return {};
    },
    async getLoginConfig(req) {
      return logins.loginConfig(req.tenant);
    },
  };
}
