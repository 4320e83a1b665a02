/** An API token's metadata (never its plaintext or hash). */
export interface ApiTokenInfo {
  id: string;
  tenantId: string;
  identityKind: 'user' | 'service';
  identityId: string;
  env: 'live' | 'dev';
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  rotatedAt: Date | null;
  rotationDeadline: Date | null;
}

/** What the auth-server needs from token-service for API tokens and client secrets. */
export interface ApiTokenClient {
  mint(input: { tenantId: string; identityKind: 'user' | 'service'; identityId: string; env: 'live' | 'dev'; ttlSeconds: number; requestId?: string }): Promise<{ plaintext: string; token: ApiTokenInfo }>;
  /**
   * Verifies a client secret and mints a token for the service identity it is bound
   * to, in one call; Unauthenticated (one message) when the secret is wrong, the client
   * unknown, or bound to another identity than `tenantId`/`serviceIdentityId`.
   */
  mintForClient(input: { clientId: string; secret: string; tenantId: string; serviceIdentityId: string; env: 'live' | 'dev'; ttlSeconds: number; requestId?: string }): Promise<{ plaintext: string; token: ApiTokenInfo }>;
  /** Unauthenticated for every token that must be refused. */
  verify(plaintext: string, requestId?: string): Promise<ApiTokenInfo>;
  list(tenantId: string, identityId: string, requestId?: string): Promise<ApiTokenInfo[]>;
  rotate(input: { tenantId: string; identityId: string; id: string; requestId?: string }): Promise<{ plaintext: string; token: ApiTokenInfo; rotationDeadline: Date }>;
  delete(input: { tenantId: string; identityId: string; id: string; requestId?: string }): Promise<void>;
  setClientSecret(input: { tenantId: string; clientId: string; serviceIdentityId: string; secret?: string; requestId?: string }): Promise<string>;
  verifyClientSecret(clientId: string, secret: string, requestId?: string): Promise<{ tenantId: string; serviceIdentityId: string }>;
  deleteClientSecret(clientId: string, requestId?: string): Promise<void>;
}
