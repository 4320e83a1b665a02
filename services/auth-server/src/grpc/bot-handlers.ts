import { formatIdentityRef, type Principal } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { requireAdmin } from '../domain/authz';
import type { Bot } from '../domain/bot';
import type { BotManager } from '../domain/bot-manager';
import type { AuthContext } from './auth-middleware';

/** A bot as the API shows it; an expired lock is not shown. */
function toProto(b: Bot, bots: BotManager): authv1.Bot {
  const lock = bots.activeLock(b);
  return {
    id: b.id,
    name: b.name,
    roles: b.roles,
    createTime: b.createdAt,
    lock: lock ? { reason: lock.reason, createTime: lock.lockedAt, expireTime: lock.expiresAt ?? undefined, lockedBy: lock.lockedBy } : undefined,
    generation: b.generation,
    lastSeenTime: b.lastSeenAt ?? undefined,
    certExpireTime: b.certExpiresAt ?? undefined,
  };
}

/** Thin handlers for BotService: authorize, map, call BotManager, audit, map back. */
export function botHandlers(bots: BotManager, audit: AuditLog): ServiceImplementation<typeof authv1.BotServiceDefinition, AuthContext> {
  const record = (caller: Principal, type: string, bot: string, requestId: string, details: Record<string, string> = {}) =>
    audit.record({ tenantId: caller.tenantId, type, actor: formatIdentityRef(caller), target: `bot:${bot}`, result: 'success', requestId, details });
  return {
    async createBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'create bots');
      const r = await bots.create(caller, { name: req.name, roles: req.roles, tokenTtlMs: req.tokenTtlSeconds * 1000, requestId: ctx.requestId });
      await record(caller, 'bot.create', r.bot.name, ctx.requestId, { roles: r.bot.roles.join(',') });
      ctx.log.info('bot created', { bot: r.bot.name, bot_id: r.bot.id, tenant_id: r.bot.tenantId, actor: caller.name });
      return { bot: toProto(r.bot, bots), joinToken: r.joinToken, joinTokenExpireTime: r.joinTokenExpiresAt };
    },
    async getBot(req, ctx) {
      return toProto(await bots.get(requireAdmin(ctx.principal, 'read bots'), req.name), bots);
    },
    async listBots(req, ctx) {
      const r = await bots.list(requireAdmin(ctx.principal, 'list bots'), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { bots: r.bots.map((b) => toProto(b, bots)), nextPageToken: r.nextPageToken };
    },
    async deleteBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove bots');
      await bots.delete(caller, req.name, ctx.requestId);
      await record(caller, 'bot.delete', req.name, ctx.requestId);
      return {};
    },
    async rotateBotToken(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'rotate join tokens');
      const r = await bots.rotateToken(caller, req.name, req.tokenTtlSeconds > 0 ? req.tokenTtlSeconds * 1000 : 3600_000, ctx.requestId);
      await record(caller, 'bot.rotate_token', req.name, ctx.requestId);
      return { joinToken: r.joinToken, expireTime: r.expiresAt };
    },
    async lockBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'lock bots');
      const b = await bots.lock(caller, req.name, { reason: req.reason, ttlMs: req.ttlSeconds * 1000 });
      await record(caller, 'bot.lock', req.name, ctx.requestId, { reason: req.reason });
      return toProto(b, bots);
    },
    async unlockBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'unlock bots');
      const b = await bots.unlock(caller, req.name);
      await record(caller, 'bot.unlock', req.name, ctx.requestId);
      return toProto(b, bots);
    },
  };
}
