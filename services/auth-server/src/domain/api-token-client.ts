import { printable } from '@mezite/identity';
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
  /** In a listing of a token in its rotation overlap: who presented it in the last hour. */
  recentUsers?: ApiTokenUsage[];
}

/** Who presented a token: the client's address (no port) and user agent, bounded and printable. */
export interface ApiTokenPresenter {
  source: string;
  client: string;
}

/** How often one presenter used a token within one hour. */
export interface ApiTokenUsage {
  hour: Date;
  source: string;
  client: string;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
}

/** Longest user agent passed on. */
const MAX_CLIENT = 128;

/** A presenter from a peer address and a user agent: printable ASCII, bounded. */
export function presenterOf(source: string, userAgent: string | undefined): ApiTokenPresenter {
  return { source: printable(source, 64) || 'unknown', client: printable(userAgent ?? '', MAX_CLIENT) };
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
  /**
   * Unauthenticated for every token that must be refused. `presenter` (who presented
   * it) goes to token-service for the token's usage summary.
   */
  verify(plaintext: string, requestId?: string, presenter?: ApiTokenPresenter): Promise<ApiTokenInfo>;
  list(tenantId: string, identityId: string, requestId?: string): Promise<ApiTokenInfo[]>;
  rotate(input: { tenantId: string; identityId: string; id: string; requestId?: string }): Promise<{ plaintext: string; token: ApiTokenInfo; rotationDeadline: Date }>;
  delete(input: { tenantId: string; identityId: string; id: string; requestId?: string }): Promise<void>;
  /** Who presented token `id` of the identity, per hour and presenter; NotFound for a token not theirs. */
  usage(input: { tenantId: string; identityId: string; id: string; requestId?: string }): Promise<{ usage: ApiTokenUsage[]; lastUsedAt: Date | null }>;
  /** Ends rotated token `id`'s overlap now; FailedPrecondition while it is still presented, unless `force`. */
  finishRotation(input: { tenantId: string; identityId: string; id: string; force: boolean; presentedTokenId?: string; requestId?: string }): Promise<void>;
  setClientSecret(input: { tenantId: string; clientId: string; serviceIdentityId: string; secret?: string; requestId?: string }): Promise<string>;
  verifyClientSecret(clientId: string, secret: string, requestId?: string): Promise<{ tenantId: string; serviceIdentityId: string }>;
  deleteClientSecret(clientId: string, requestId?: string): Promise<void>;
}
