import { permissionDenied, unauthenticated, unavailable, type Principal } from '@mezite/identity';
import type { TenantStore } from './tenant';

/** The role that may manage bots, roles and the CA of its tenant. */
export const ADMIN_ROLE = 'admin';

/** The caller, or Unauthenticated when the call carried no valid credential. */
export function requirePrincipal(p: Principal | undefined): Principal {
  if (!p) throw unauthenticated('this call needs a credential: run on the auth server host, pass --identity-file, or --token-file');
  return p;
}

/** The caller if it holds the admin role in its tenant; PermissionDenied otherwise. */
export function requireAdmin(p: Principal | undefined, action: string): Principal {
  const caller = requirePrincipal(p);
  if (!caller.roles.includes(ADMIN_ROLE)) throw permissionDenied(`${caller.name} may not ${action}: the admin role is required`);
  return caller;
}

/** The tenant whose admins are the cluster's admins: the one the bootstrap admin lives in. */
export const CLUSTER_TENANT = 'default';

/**
 * The caller if it is a cluster admin: an admin of the `default` tenant (the bootstrap
 * admin, and the people `MEZITE_OIDC_ADMINS` names). For what every tenant shares — the
 * User and Host CAs: rotating them, signing host certificates with them. An admin of any
 * other tenant administers only that tenant.
 */
export function requireClusterAdmin(p: Principal | undefined, clusterTenantId: string, action: string): Principal {
  const caller = requireAdmin(p, action);
  if (caller.tenantId !== clusterTenantId) throw permissionDenied(`${caller.name} may not ${action}: the certificate authorities are shared by every tenant, so only a cluster admin (an admin of the default tenant) may`);
  return caller;
}

/** The default tenant's id, looked up once (it never changes once bootstrap made it). */
export function clusterTenantId(tenants: Pick<TenantStore, 'getTenantByDomain'>): () => Promise<string> {
  let id: string | undefined;
  return async () => {
    if (id) return id;
    const t = await tenants.getTenantByDomain(CLUSTER_TENANT);
    if (!t) throw unavailable('the default tenant does not exist yet; retry once the auth server has started');
    return (id = t.id);
  };
}

/**
 * The caller if it is an admin who signed in interactively (or the bootstrap admin), for
 * calls that hand out a credential which mints API tokens (a service identity's client
 * secret). Seed 000's anti-escalation rule: a caller holding an API token or a bot
 * certificate never gets such a credential, whatever roles it may one day carry. The
 * credential check comes first, so the answer does not depend on the caller's roles.
 */
export function requireInteractiveAdmin(p: Principal | undefined, action: string): Principal {
  const caller = requirePrincipal(p);
  if (caller.authMethod === 'api-token' || caller.authMethod === 'bot-certificate') throw permissionDenied(`a caller authenticated via ${caller.authMethod === 'api-token' ? 'an API token' : 'a bot certificate'} may not ${action}; sign in interactively`);
  return requireAdmin(caller, action);
}
