import type { MeziteCallOptions } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { Client } from 'nice-grpc';
import type { ApiTokenClient, ApiTokenInfo } from '../domain/api-token-client';

const opts = (requestId?: string) => (requestId ? { requestId } : {});

function toInfo(r: tokenv1.ApiTokenRecord | undefined): ApiTokenInfo {
  if (!r || !r.createTime || !r.expireTime) throw new Error('token-service returned an incomplete token record');
  return {
    id: r.id,
    tenantId: r.tenantId,
    identityKind: r.identityKind === 'user' ? 'user' : 'service',
    identityId: r.identityId,
    env: r.envPrefix === 'dev' ? 'dev' : 'live',
    createdAt: r.createTime,
    expiresAt: r.expireTime,
    lastUsedAt: r.lastUsedTime ?? null,
    rotatedAt: r.rotateTime ?? null,
    rotationDeadline: r.rotationDeadline ?? null,
  };
}

/** ApiTokenClient over token-service's gRPC API. */
export class GrpcApiTokenClient implements ApiTokenClient {
  constructor(private readonly c: Client<typeof tokenv1.ApiTokenServiceDefinition, MeziteCallOptions>) {}

  async mint(i: Parameters<ApiTokenClient['mint']>[0]) {
    const r = await this.c.mintApiToken({ tenantId: i.tenantId, identityKind: i.identityKind, identityId: i.identityId, envPrefix: i.env, ttlSeconds: i.ttlSeconds }, opts(i.requestId));
    return { plaintext: r.plaintext, token: toInfo(r.token) };
  }
  async verify(plaintext: string, requestId?: string) {
    return toInfo(await this.c.verifyApiToken({ plaintext }, opts(requestId)));
  }
  async list(tenantId: string, identityId: string, requestId?: string) {
    return (await this.c.listApiTokens({ tenantId, identityId }, opts(requestId))).tokens.map(toInfo);
  }
  async rotate(i: Parameters<ApiTokenClient['rotate']>[0]) {
    const r = await this.c.rotateApiToken({ tenantId: i.tenantId, identityId: i.identityId, id: i.id, overlapSeconds: 0 }, opts(i.requestId));
    if (!r.rotationDeadline) throw new Error('token-service returned no rotation_deadline');
    return { plaintext: r.plaintext, token: toInfo(r.token), rotationDeadline: r.rotationDeadline };
  }
  async delete(i: Parameters<ApiTokenClient['delete']>[0]) {
    await this.c.deleteApiToken({ tenantId: i.tenantId, identityId: i.identityId, id: i.id }, opts(i.requestId));
  }
  async setClientSecret(i: Parameters<ApiTokenClient['setClientSecret']>[0]) {
    return (await this.c.setClientSecret({ tenantId: i.tenantId, clientId: i.clientId, serviceIdentityId: i.serviceIdentityId, secret: i.secret ?? '' }, opts(i.requestId))).secret;
  }
  async verifyClientSecret(clientId: string, secret: string, requestId?: string) {
    return this.c.verifyClientSecret({ clientId, secret }, opts(requestId));
  }
  async deleteClientSecret(clientId: string, requestId?: string) {
    await this.c.deleteClientSecret({ clientId }, opts(requestId));
  }
}
