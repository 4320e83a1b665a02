import type { ApiTokenClient } from './api-token-client';
import type { MachineIdentityProvider, ServiceTokenRequest } from './machine-idp';

/** What the built-in provider needs from token-service. */
export interface ClientSecretVerifier {
  verifyClientSecret(clientId: string, secret: string, requestId?: string): Promise<{ tenantId: string; serviceIdentityId: string }>;
  mintForClient: ApiTokenClient['mintForClient'];
}

/** The built-in provider: client secrets stored as keyed hashes in token-service, compared in constant time there. */
export class BuiltinMachineIdp implements MachineIdentityProvider {
  constructor(private readonly secrets: ClientSecretVerifier) {}

  async verify(clientId: string, clientSecret: string, requestId?: string): Promise<void> {
    await this.secrets.verifyClientSecret(clientId, clientSecret, requestId);
  }

  /** token-service keeps both the secrets and the tokens: it checks the secret and mints in one call. */
  verifyAndMint(r: ServiceTokenRequest) {
    return this.secrets.mintForClient(r);
  }
}
