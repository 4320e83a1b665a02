/**
 * What the auth-server needs from token-service to bootstrap a subject. The domain
 * sees this interface; the gRPC adapter lives in `grpc/`.
 */
export interface JoinTokenMinter {
  create(input: { tenantId: string; subjectKind: 'bot' | 'node'; subjectId: string; ttlMs: number; requestId?: string }): Promise<{ id: string; plaintext: string; expiresAt: Date }>;
  revokeForSubject(input: { tenantId: string; subjectId: string; requestId?: string }): Promise<number>;
}
