import { formatIdentityRef } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin } from '../domain/authz';
import type { RoleManager } from '../domain/role-manager';
import type { StoredRole } from '../domain/role-store';
import type { AuthContext } from './auth-middleware';

const labels = (sel: Record<string, string[]>) => Object.fromEntries(Object.entries(sel).map(([k, v]) => [k, { values: v }]));

/** A stored role as the API shows it. */
export function roleToProto(s: StoredRole): authv1.Role {
  const r = s.role;
  return {
    name: r.name,
    description: r.description,
    maxSessionTtlSeconds: Math.round(r.options.maxSessionTtlMs / 1000),
    sshExtensions: r.options.sshExtensions,
    allow: { logins: r.allow.logins, nodeLabels: labels(r.allow.nodeLabels) },
    deny: { logins: r.deny.logins, nodeLabels: labels(r.deny.nodeLabels) },
    createTime: s.createdAt,
    updateTime: s.updatedAt,
    revision: s.revision,
  };
}

/** Thin handlers for RoleService. */
export function roleHandlers(roles: RoleManager, audit: AuditLog): ServiceImplementation<typeof authv1.RoleServiceDefinition, AuthContext> {
  return {
    async upsertRole(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'manage roles');
      // The role's name is in the YAML, which the upsert parses: the requested record names the file.
      const r = await audited(
        { audit, log: ctx.log },
        { tenantId: caller.tenantId, type: 'role.upsert', actor: formatIdentityRef(caller), target: 'role:?', requestId: ctx.requestId, details: { file: req.fileName.slice(0, 200) } },
        () => roles.upsert(caller, { yaml: req.yaml, fileName: req.fileName, force: req.force }),
        (u) => ({ type: u.created ? 'role.create' : 'role.update', target: `role:${u.stored.role.name}`, details: { revision: String(u.stored.revision) } }),
      );
      return roleToProto(r.stored);
    },
    async getRole(req, ctx) {
      return roleToProto(await roles.get(requireAdmin(ctx.principal, 'read roles'), req.name));
    },
    async listRoles(req, ctx) {
      const r = await roles.list(requireAdmin(ctx.principal, 'list roles'), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { roles: r.roles.map(roleToProto), nextPageToken: r.nextPageToken };
    },
    async deleteRole(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove roles');
      await audited({ audit, log: ctx.log }, { tenantId: caller.tenantId, type: 'role.delete', actor: formatIdentityRef(caller), target: `role:${req.name}`, requestId: ctx.requestId, details: {} }, () => roles.delete(caller, req.name));
      return {};
    },
  };
}
