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
