import type { tokenv1 } from '@mezite/proto';
import type { ApiTokenInfo } from '../domain/api-token';
import type { ApiTokenUsage } from '../domain/api-token-usage';

/** A token's metadata on the wire; never its plaintext or hash. */
export function toApiTokenRecord(t: ApiTokenInfo & { recentUsers?: ApiTokenUsage[] }): tokenv1.ApiTokenRecord {
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
    recentUsers: (t.recentUsers ?? []).map(toUsageProto),
  };
}

/** One usage row on the wire. */
export function toUsageProto(u: ApiTokenUsage): tokenv1.ApiTokenUsage {
  return { hour: u.hour, source: u.source, client: u.client, count: u.count, firstSeen: u.firstSeen, lastSeen: u.lastSeen };
}
