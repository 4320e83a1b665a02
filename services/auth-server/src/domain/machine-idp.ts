import type { ApiTokenInfo } from './api-token-client';

/** A client_credentials sign-in: the credentials, and the token to mint for the identity the client id names. */
export interface ServiceTokenRequest {
  clientId: string;
  secret: string;
  /** The service identity the client id names (auth.service_identities). */
  tenantId: string;
  serviceIdentityId: string;
  env: 'live' | 'dev';
  ttlSeconds: number;
  requestId?: string;
}

/**
 * A tenant's machine identity provider: checks a client id and secret (OAuth2
 * client_credentials). One implementation per file (STYLE §6): the built-in provider
 * (secrets kept as keyed hashes by token-service) and an external OAuth2 server.
 */
export interface MachineIdentityProvider {
  /** Resolves when the credentials are valid; Unauthenticated otherwise (one message for every failure). */
  verify(clientId: string, clientSecret: string, requestId?: string): Promise<void>;
  /**
   * Checks the credentials and mints the token in one step, for a provider that keeps
   * the secrets where tokens are minted (the built-in one: one call to token-service
   * instead of two). Unauthenticated as `verify`, and also when the secret belongs to
   * another identity than the one named. Providers without it are asked to `verify`,
   * then the token is minted.
   */
  verifyAndMint?(r: ServiceTokenRequest): Promise<{ plaintext: string; token: ApiTokenInfo }>;
}

/** How a tenant's machine identity provider is configured (tenants.machine_idp). */
export type MachineIdpConfig = { kind: 'builtin' } | { kind: 'oauth2'; tokenEndpoint: string; scope?: string };
