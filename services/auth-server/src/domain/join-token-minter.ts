/**
 * What bot and node management need of join tokens: mint one for a subject, revoke a
 * subject's unredeemed ones. Implemented by JoinTokens (join-token.ts).
 */
export interface JoinTokenMinter {
  create(input: { tenantId: string; subjectKind: 'bot' | 'node'; subjectId: string; ttlMs: number; requestId?: string }): Promise<{ id: string; plaintext: string; expiresAt: Date }>;
  revokeForSubject(input: { tenantId: string; subjectId: string; requestId?: string }): Promise<number>;
}
