import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { requirePrincipal } from '../domain/authz';
import { sourceAddress } from '../domain/failure-limiter';
import type { LoginManager } from '../domain/login-manager';
import type { AuthContext } from './auth-middleware';

/**
 * Thin handlers for SessionService. CreateSession and GetLoginConfig need no
 * credential (they are how a person gets one); DeleteSession ends the caller's own.
 */
export function sessionHandlers(logins: LoginManager): ServiceImplementation<typeof authv1.SessionServiceDefinition, AuthContext> {
  return {
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
