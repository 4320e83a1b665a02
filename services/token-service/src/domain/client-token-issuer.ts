import { unauthenticated, type MeziteError } from '@mezite/identity';
import type { ApiTokenManager, IssuedApiToken, MintInput } from './api-token-manager';
import type { ClientSecretManager } from './client-secret-manager';

/** A client's sign-in: its credentials, and what to mint for the identity the caller expects the client to be. */
export interface ClientTokenGrant {
  clientId: string;
  secret: string;
  /** The service identity (and its tenant) the caller found for `clientId`; the secret must be bound to exactly it. */
  tenantId: string;
  serviceIdentityId: string;
  env: string;
  ttlSeconds: number;
}

/**
 * OAuth2 client_credentials with the built-in provider, for several grants at once:
 * each secret is verified (ClientSecretManager.verifyMany: constant time, one answer
 * for an unknown client and a wrong secret, one read for all) and a token is minted for
 * the identity it is bound to (ApiTokenManager.mintMany: one write for all). The caller
 * names the identity it expects (its own record of the client id); a secret bound to
 * another one — the client was deleted and its id reused since the caller looked — gets
 * the same `invalid client credentials`, so nothing is minted for an identity the
 * caller did not check. Each grant gets its token or its own error; a store that fails
 * rejects them all.
 */
export async function issueClientTokens(secrets: ClientSecretManager, tokens: ApiTokenManager, grants: readonly ClientTokenGrant[]): Promise<Array<IssuedApiToken | MeziteError>> {
  const bound = await secrets.verifyMany(grants);
  const results: Array<IssuedApiToken | MeziteError | undefined> = [];
  const toMint: Array<{ at: number; input: MintInput }> = [];
  grants.forEach((g, i) => {
    const b = bound[i];
    if (!b || b instanceof Error) return void (results[i] = b ?? unauthenticated('invalid client credentials'));
    if (b.tenantId !== g.tenantId || b.serviceIdentityId !== g.serviceIdentityId) return void (results[i] = unauthenticated('invalid client credentials'));
    toMint.push({ at: i, input: { tenantId: b.tenantId, identityKind: 'service', identityId: b.serviceIdentityId, env: g.env, ttlSeconds: g.ttlSeconds } });
  });
  const minted = toMint.length > 0 ? await tokens.mintMany(toMint.map((m) => m.input)) : [];
  toMint.forEach((m, j) => (results[m.at] = minted[j]));
  return Array.from(grants, (_, i) => results[i] ?? unauthenticated('invalid client credentials'));
}
