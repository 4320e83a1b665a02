import type { tokenv1 } from '@mezite/proto';
import type { ApiTokenInfo } from '../domain/api-token';

/** A token's metadata on the wire; never its plaintext or hash. */
export function toApiTokenRecord(t: ApiTokenInfo): tokenv1.ApiTokenRecord {
  return {
    id: t.id,
    tenantId: t.tenantId,
    identityKind: t.identityKind,
    identityId: t.identityId,
    envPrefix: t.env,
    createTime: t.createdAt,
    expireTime: t.expiresAt,
    lastUsedTime: t.lastUsedAt ?? undefined,
    rotateTime: t.rotatedAt ?? undefined,
    rotationDeadline: t.rotationDeadline ?? undefined,
  };
}
