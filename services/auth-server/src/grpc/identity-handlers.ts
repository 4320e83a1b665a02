import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { requirePrincipal } from '../domain/authz';
import type { AuthContext } from './auth-middleware';

/** Handlers for IdentityService. */
export function identityHandlers(): ServiceImplementation<typeof authv1.IdentityServiceDefinition, AuthContext> {
  return {
    async whoAmI(_req, ctx) {
      const p = requirePrincipal(ctx.principal);
      return { principal: p.kind, subject: p.id, domain: p.tenantId, acr: p.acr ?? '', amr: p.amr ?? [] };
    },
  };
}
