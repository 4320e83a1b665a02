/** A join token reserved for one join attempt. */
export interface JoinTokenClaim {
  claimId: string;
  tokenId: string;
  tenantId: string;
  subjectKind: 'bot' | 'node';
  subjectId: string;
}

/**
 * What the auth-server needs from token-service to bootstrap a subject. The domain
 * sees this interface; the gRPC adapter lives in `grpc/`.
 */
export interface JoinTokenMinter {
  create(input: { tenantId: string; subjectKind: 'bot' | 'node'; subjectId: string; ttlMs: number; requestId?: string }): Promise<{ id: string; plaintext: string; expiresAt: Date }>;
  revokeForSubject(input: { tenantId: string; subjectId: string; requestId?: string }): Promise<number>;
  /** Reserves the token for one join; Unauthenticated for any token that cannot be used. */
  claim(token: string, requestId?: string): Promise<JoinTokenClaim>;
  /** Marks the claimed token redeemed (the join succeeded). */
  confirm(claimId: string, requestId?: string): Promise<void>;
  /** Gives the token back after a failed join. */
  release(claimId: string, requestId?: string): Promise<void>;
}
