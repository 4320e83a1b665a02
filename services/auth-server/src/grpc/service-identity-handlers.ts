import { formatIdentityRef } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
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
      const r = await services.create(caller.tenantId, { name: req.name, clientId: req.clientId, requestId: ctx.requestId });
      await audit.record({ tenantId: caller.tenantId, type: 'service_identity.create', actor: formatIdentityRef(caller), target: `service:${r.identity.id}`, result: 'success', requestId: ctx.requestId, details: { client_id: r.identity.clientId } });
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
      await services.delete(caller, req.name, ctx.requestId);
      await audit.record({ tenantId: caller.tenantId, type: 'service_identity.delete', actor: formatIdentityRef(caller), target: `service:${req.name}`, result: 'success', requestId: ctx.requestId, details: {} });
      return {};
    },
    async rotateServiceIdentitySecret(req, ctx) {
      const caller = requireInteractiveAdmin(ctx.principal, 'rotate client secrets');
      const r = await services.rotateSecret(caller, req.name, { revokeTokens: req.revokeTokens, requestId: ctx.requestId });
      const details: Record<string, string> = req.revokeTokens ? { revoke_tokens: 'true', revoked_tokens: String(r.revokedTokens) } : {};
      await audit.record({ tenantId: caller.tenantId, type: 'service_identity.rotate_secret', actor: formatIdentityRef(caller), target: `service:${r.identity.id}`, result: 'success', requestId: ctx.requestId, details });
      return { serviceIdentity: toProto(r.identity, await tenantDomain(caller.tenantId)), clientSecret: r.clientSecret };
    },
  };
}
