import type { RequestContext } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { ApiTokenManager } from '../domain/api-token-manager';
import type { ApiTokenVerifier } from '../domain/api-token-verifier';
import type { ClientSecretManager } from '../domain/client-secret-manager';
import { toApiTokenRecord } from './api-token-mappers';

/** What ApiTokenService needs. */
export interface ApiTokenHandlerDeps {
  tokens: ApiTokenManager;
  verifier: ApiTokenVerifier;
  clientSecrets: ClientSecretManager;
}

/**
 * Thin gRPC handlers for ApiTokenService: map, call one domain method, map back.
 * Only the auth-server calls this service (internal mTLS); it decides who may call
 * what (a caller holding an API token may rotate but not mint, seed 000).
 * Plaintexts are returned, never logged.
 */
export function apiTokenHandlers(d: ApiTokenHandlerDeps): ServiceImplementation<tokenv1.ApiTokenServiceDefinition, RequestContext> {
  return {
    async mintApiToken(req, ctx) {
      const r = await d.tokens.mint({ tenantId: req.tenantId, identityKind: req.identityKind, identityId: req.identityId, env: req.envPrefix, ttlSeconds: req.ttlSeconds });
      ctx.log.info('api token minted', { token_id: r.token.id, identity_id: r.token.identityId, expires_at: r.token.expiresAt.toISOString() });
      return { plaintext: r.plaintext, token: toApiTokenRecord(r.token) };
    },
    async verifyApiToken(req) {
      return toApiTokenRecord(await d.verifier.verify(req.plaintext));
    },
    async listApiTokens(req) {
      return { tokens: (await d.tokens.list(req.tenantId, req.identityId)).map(toApiTokenRecord) };
    },
    async rotateApiToken(req, ctx) {
      const r = await d.tokens.rotate({ tenantId: req.tenantId, identityId: req.identityId, id: req.id, overlapSeconds: req.overlapSeconds });
      ctx.log.info('api token rotated', { token_id: req.id, successor_id: r.token.id, rotation_deadline: r.rotationDeadline.toISOString() });
      return { plaintext: r.plaintext, token: toApiTokenRecord(r.token), rotationDeadline: r.rotationDeadline };
    },
    async deleteApiToken(req, ctx) {
      await d.tokens.delete({ tenantId: req.tenantId, identityId: req.identityId, id: req.id });
      ctx.log.info('api token revoked', { token_id: req.id });
      return {};
    },
    async setClientSecret(req, ctx) {
      const secret = await d.clientSecrets.set({
        tenantId: req.tenantId,
        clientId: req.clientId,
        serviceIdentityId: req.serviceIdentityId,
        ...(req.secret ? { secret: req.secret } : {}),
      });
      ctx.log.info('client secret set', { client_id: req.clientId, service_identity_id: req.serviceIdentityId, generated: !req.secret });
      return { secret };
    },
    async verifyClientSecret(req) {
      return d.clientSecrets.verify({ clientId: req.clientId, secret: req.secret });
    },
    async deleteClientSecret(req, ctx) {
      await d.clientSecrets.delete(req.clientId);
      ctx.log.info('client secret deleted', { client_id: req.clientId });
      return {};
    },
  };
}
