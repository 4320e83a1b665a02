import { permissionDenied, unauthenticated, type Principal } from '@mezite/identity';

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
