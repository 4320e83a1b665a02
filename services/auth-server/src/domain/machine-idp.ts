/**
 * A tenant's machine identity provider: checks a client id and secret (OAuth2
 * client_credentials). One implementation per file (STYLE §6): the built-in provider
 * (secrets kept as keyed hashes by token-service) and an external OAuth2 server.
 */
export interface MachineIdentityProvider {
  /** Resolves when the credentials are valid; Unauthenticated otherwise (one message for every failure). */
  verify(clientId: string, clientSecret: string, requestId?: string): Promise<void>;
}

/** How a tenant's machine identity provider is configured (tenants.machine_idp). */
export type MachineIdpConfig = { kind: 'builtin' } | { kind: 'oauth2'; tokenEndpoint: string; scope?: string };
