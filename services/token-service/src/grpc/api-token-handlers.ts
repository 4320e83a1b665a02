import type { RequestContext } from '@mezite/platform';
import type { tokenv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { ApiTokenManager } from '../domain/api-token-manager';
import { apiTokenRefusalOf } from '../domain/api-token-refusal';
import type { ApiTokenVerifier } from '../domain/api-token-verifier';
import type { ClientSecretManager } from '../domain/client-secret-manager';
import { mintClientApiTokens, verifyApiTokens } from './api-token-batch-handlers';
import { toApiTokenRecord, toUsageProto } from './api-token-mappers';
import { invalidArgument, isUuid } from '@mezite/identity';
import type { LastUseRecorder } from '../domain/last-use-recorder';

/** Most entries one RecordApiTokenUses call may carry. */
export const MAX_USES_PER_REPORT = 10_000;

/** What ApiTokenService needs. */
export interface ApiTokenHandlerDeps {
  tokens: ApiTokenManager;
  verifier: ApiTokenVerifier;
  clientSecrets: ClientSecretManager;
  /** Where uses reported by the auth-server (RecordApiTokenUses) are summed. */
  lastUse?: Pick<LastUseRecorder, 'record'>;
  /** Time of reported uses; default the system clock. */
  now?: () => Date;
  /** The lease VerifyApiTokens grants on a verified token (ApiTokenManager waits it out); default 0. */
  verificationLeaseMs?: number;
}

/**
 * Trailers of a refused VerifyApiToken saying why (`expired`, `rotated out`, …) and,
 * when the token was found, its id and tenant. Only the auth-server reads them, for its
 * audit log; the status and message are `invalid api token` for every reason, and the
 * auth-server never forwards these trailers to its own callers.
 */
export const REFUSAL_TRAILER = 'x-mezite-refusal';
export const REFUSED_TOKEN_TRAILER = 'x-mezite-refused-token';
export const REFUSED_TENANT_TRAILER = 'x-mezite-refused-tenant';

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
    async verifyApiToken(req, ctx) {
      try {
        return toApiTokenRecord(await d.verifier.verify(req.plaintext, req.presenter, Math.min(Math.max(req.presenter?.uses ?? 1, 1), 1_000_000)));
      } catch (err) {
        const r = apiTokenRefusalOf(err);
        if (r) {
          ctx.trailer.set(REFUSAL_TRAILER, r.reason);
          if (r.token) ctx.trailer.set(REFUSED_TOKEN_TRAILER, r.token.id);
          if (r.token) ctx.trailer.set(REFUSED_TENANT_TRAILER, r.token.tenantId);
        }
        throw err;
      }
    },
    verifyApiTokens: (req, ctx) => verifyApiTokens(d.verifier, req, ctx, d.verificationLeaseMs ?? 0),
    mintClientApiTokens: (req, ctx) => mintClientApiTokens(d.clientSecrets, d.tokens, req, ctx),
    async listApiTokens(req) {
      return { tokens: (await d.tokens.list(req.tenantId, req.identityId)).map(toApiTokenRecord) };
    },
    async rotateApiToken(req, ctx) {
      const r = await d.tokens.rotate({ tenantId: req.tenantId, identityId: req.identityId, id: req.id, overlapSeconds: req.overlapSeconds });
      ctx.log.info('api token rotated', { token_id: req.id, successor_id: r.token.id, rotation_deadline: r.rotationDeadline.toISOString() });
      return { plaintext: r.plaintext, token: toApiTokenRecord(r.token), rotationDeadline: r.rotationDeadline };
    },
    async deleteApiToken(req, ctx) {
      const revoked = await d.tokens.delete({ tenantId: req.tenantId, identityId: req.identityId, id: req.id });
      ctx.log.info('api token revoked', { token_id: req.id, successor_ids: revoked.slice(1) });
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
    async getApiTokenUsage(req) {
      const r = await d.tokens.usage({ tenantId: req.tenantId, identityId: req.identityId, id: req.id });
      return { usage: r.usage.map(toUsageProto), lastUsedTime: r.token.lastUsedAt ?? undefined };
    },
    async recordApiTokenUses(req) {
      if (req.uses.length > MAX_USES_PER_REPORT) throw invalidArgument(`at most ${MAX_USES_PER_REPORT} uses per call`);
      const at = (d.now ?? (() => new Date()))();
      // Unknown ids are dropped when written (the store ignores them); malformed ones here.
      for (const u of req.uses) if (isUuid(u.tokenId)) d.lastUse?.record(u.tokenId, at, u.presenter, Math.min(Math.max(u.presenter?.uses ?? 1, 1), 1_000_000));
      return {};
    },
    async finishApiTokenRotation(req, ctx) {
      await d.tokens.finishRotation({ tenantId: req.tenantId, identityId: req.identityId, id: req.id, force: req.force, ...(req.presentedTokenId ? { presentedTokenId: req.presentedTokenId } : {}) });
      ctx.log.info('api token rotation finished', { token_id: req.id, forced: req.force });
      return {};
    },
  };
}
