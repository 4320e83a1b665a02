import { formatIdentityRef } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import { presenterOf, type ApiTokenInfo, type ApiTokenUsage } from '../domain/api-token-client';
import { requirePrincipal } from '../domain/authz';
import type { IdentityTokenManager, IssuedApiToken } from '../domain/identity-token-manager';
import { sourceAddress } from '../domain/failure-limiter';
import type { AuthContext } from './auth-middleware';

/** An API token's metadata as the API shows it. */
export function apiTokenToProto(t: ApiTokenInfo): authv1.ApiToken {
  return {
    id: t.id,
    envPrefix: t.env,
    createTime: t.createdAt,
    expireTime: t.expiresAt,
    lastUsedTime: t.lastUsedAt ?? undefined,
    rotateTime: t.rotatedAt ?? undefined,
    rotationDeadline: t.rotationDeadline ?? undefined,
    identityRef: formatIdentityRef({ kind: t.identityKind, id: t.identityId }),
    recentUsers: (t.recentUsers ?? []).map(usageToProto),
  };
}

/** One usage row as the API shows it. */
export function usageToProto(u: ApiTokenUsage): authv1.TokenUsage {
  return { hour: u.hour, source: u.source, client: u.client, count: u.count, firstSeen: u.firstSeen, lastSeen: u.lastSeen };
}

/** An issued token as the API returns it (OAuth2's access-token response shape). */
export function issuedToProto(r: IssuedApiToken, now = Date.now()): authv1.IssuedToken {
  return {
    accessToken: r.plaintext,
    tokenType: 'Bearer',
    expiresIn: Math.max(0, Math.round((r.token.expiresAt.getTime() - now) / 1000)),
    id: r.token.id,
    expireTime: r.token.expiresAt,
    envPrefix: r.token.env,
  };
}

/** Thin handlers for IdentityTokenService. */
export function identityTokenHandlers(tokens: IdentityTokenManager): ServiceImplementation<typeof authv1.IdentityTokenServiceDefinition, AuthContext> {
  return {
    async issueServiceToken(req, ctx) {
      return issuedToProto(await tokens.issueService({ clientId: req.clientId, clientSecret: req.clientSecret, grantType: req.grantType, requestId: ctx.requestId, source: sourceAddress(ctx.peer) }));
    },
    async issueToken(req, ctx) {
      const caller = requirePrincipal(ctx.principal);
      return issuedToProto(await tokens.issue(caller, { identityRef: req.identityRef, envPrefix: req.envPrefix, ttlSeconds: req.ttlSeconds, requestId: ctx.requestId }));
    },
    async listTokens(_req, ctx) {
      const caller = requirePrincipal(ctx.principal);
      return { tokens: (await tokens.list(caller, ctx.requestId)).map(apiTokenToProto), nextPageToken: '' };
    },
    async rotateToken(req, ctx) {
      const caller = requirePrincipal(ctx.principal);
      const r = await tokens.rotate(caller, req.id, ctx.requestId);
      // The rotating caller presents the old token itself (a machine rotating its own):
      // what it needs to know is who else still does.
      const ua = ctx.metadata.get('user-agent');
      const me = presenterOf(sourceAddress(ctx.peer), typeof ua === 'string' ? ua : undefined);
      const oldUsers = (await tokens.recentUsers(caller, req.id, ctx.requestId)).filter((u) => u.source !== me.source || u.client !== me.client);
      return { plaintext: r.plaintext, token: apiTokenToProto(r.token), rotationDeadline: r.rotationDeadline, oldTokenUsers: oldUsers.map(usageToProto) };
    },
    async deleteToken(req, ctx) {
      await tokens.delete(requirePrincipal(ctx.principal), req.id, ctx.requestId);
      return {};
    },
    async getTokenUsage(req, ctx) {
      const r = await tokens.usage(requirePrincipal(ctx.principal), req.id, req.identityRef, ctx.requestId);
      return { usage: r.usage.map(usageToProto), lastUsedTime: r.lastUsedAt ?? undefined };
    },
    async finishRotation(req, ctx) {
      await tokens.finishRotation(requirePrincipal(ctx.principal), req.id, req.force, ctx.requestId);
      return {};
    },
  };
}
