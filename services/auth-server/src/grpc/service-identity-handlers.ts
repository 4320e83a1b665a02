import { formatIdentityRef } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin, requireInteractiveAdmin } from '../domain/authz';
import { pageByName } from '../domain/page';
import type { ServiceIdentity } from '../domain/service-identity';
import type { ServiceIdentityManager } from '../domain/service-identity-manager';
import type { AuthContext } from './auth-middleware';

const toProto = (s: ServiceIdentity, tenant: string): authv1.ServiceIdentity => ({ id: s.id, name: s.name, clientId: s.clientId, createTime: s.createdAt, tenant });

/** Thin handlers for ServiceIdentityService (admins of the tenant; only interactive ones may get a client secret). */
export function serviceIdentityHandlers(services: ServiceIdentityManager, audit: AuditLog, tenantDomain: (id: string) => Promise<string>): ServiceImplementation<typeof authv1.ServiceIdentityServiceDefinition, AuthContext> {
  return {
    async createServiceIdentity(req, ctx) {
      const caller = requireInteractiveAdmin(ctx.principal, 'create service identities');
      const r = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'service_identity.create', actor: formatIdentityRef(caller), target: `service:${req.name.slice(0, 80)}`, requestId: ctx.requestId, details: { client_id: req.clientId.slice(0, 200) } },
        () => services.create(caller.tenantId, { name: req.name, clientId: req.clientId, requestId: ctx.requestId }),
        (c) => ({ target: `service:${c.identity.id}`, details: { client_id: c.identity.clientId } }),
      );
      return { serviceIdentity: toProto(r.identity, await tenantDomain(caller.tenantId)), clientSecret: r.clientSecret };
    },
    async listServiceIdentities(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'list service identities');
      const r = await pageByName(req, (o) => services.list(caller, o), (s) => s.name);
      const domain = await tenantDomain(caller.tenantId);
      return { serviceIdentities: r.items.map((s) => toProto(s, domain)), nextPageToken: r.nextPageToken };
    },
    async deleteServiceIdentity(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove service identities');
      await audited({ audit, log: ctx.log }, { tenantId: caller.tenantId, type: 'service_identity.delete', actor: formatIdentityRef(caller), target: `service:${req.name}`, requestId: ctx.requestId, details: {} }, () => services.delete(caller, req.name, ctx.requestId));
      return {};
    },
    async rotateServiceIdentitySecret(req, ctx) {
      const caller = requireInteractiveAdmin(ctx.principal, 'rotate client secrets');
      const r = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'service_identity.rotate_secret', actor: formatIdentityRef(caller), target: `service:${req.name.slice(0, 80)}`, requestId: ctx.requestId, details: req.revokeTokens ? { revoke_tokens: 'true' } : {} },
        () => services.rotateSecret(caller, req.name, { revokeTokens: req.revokeTokens, requestId: ctx.requestId }),
        (x) => ({ target: `service:${x.identity.id}`, details: req.revokeTokens ? { revoked_tokens: String(x.revokedTokens) } : {} }),
      );
      return { serviceIdentity: toProto(r.identity, await tenantDomain(caller.tenantId)), clientSecret: r.clientSecret };
    },
  };
}
