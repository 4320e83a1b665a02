import { formatIdentityRef, joinAudience } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin } from '../domain/authz';
import type { JoinResource } from '../domain/join-resource';
import type { JoinResourceManager } from '../domain/join-resource-manager';
import type { AuthContext } from './auth-middleware';

/** A stored resource as the API shows it; an unset audience is shown as the default it means. */
export function joinTokenToProto(r: JoinResource, tenantDomain: string, shown: Record<string, string> = {}): authv1.JoinTokenResource {
  // A stored keyed hash is never shown; a pending registration is. A generated secret is shown once, in its creation's answer.
  const { registration_secret_hash: pending, ...options } = r.options;
  return {
    name: r.name,
    bot: r.botName,
    joinMethod: r.joinMethod,
    allow: r.allow.map((claims) => ({ claims })),
    audience: r.audience || joinAudience(tenantDomain, r.name),
    options: { ...options, ...(pending ? { registration: 'pending' } : {}), ...shown },
    expireTime: r.expiresAt ?? undefined,
    createTime: r.createdAt,
    updateTime: r.updatedAt,
    revision: r.revision,
  };
}

/** Thin handlers for JoinTokenService: admins only, changes audited before they happen. */
export function joinTokenHandlers(resources: JoinResourceManager, audit: AuditLog, tenantDomain: (id: string) => Promise<string>): ServiceImplementation<typeof authv1.JoinTokenServiceDefinition, AuthContext> {
  return {
    async upsertJoinToken(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'manage join tokens');
      const r = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'join_token.upsert', actor: formatIdentityRef(caller), target: 'join_token:?', requestId: ctx.requestId, details: { file: req.fileName.slice(0, 200) } },
        () => resources.upsert(caller, { yaml: req.yaml, fileName: req.fileName, force: req.force }),
        (u) => ({ type: u.created ? 'join_token.create' : 'join_token.update', target: `join_token:${u.resource.name}`, details: { bot: u.resource.botName, join_method: u.resource.joinMethod, revision: String(u.resource.revision) } }),
      );
      return joinTokenToProto(r.resource, await tenantDomain(caller.tenantId), r.shown);
    },
    async getJoinToken(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'read join tokens');
      return joinTokenToProto(await resources.get(caller, req.name), await tenantDomain(caller.tenantId));
    },
    async listJoinTokens(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'list join tokens');
      const r = await resources.list(caller, { pageSize: req.pageSize, pageToken: req.pageToken });
      const domain = await tenantDomain(caller.tenantId);
      return { joinTokens: r.resources.map((x) => joinTokenToProto(x, domain)), nextPageToken: r.nextPageToken };
    },
    async deleteJoinToken(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove join tokens');
      await audited({ audit, log: ctx.log }, { tenantId: caller.tenantId, type: 'join_token.delete', actor: formatIdentityRef(caller), target: `join_token:${req.name.slice(0, 100)}`, requestId: ctx.requestId, details: {} }, () => resources.delete(caller, req.name));
      return {};
    },
  };
}
