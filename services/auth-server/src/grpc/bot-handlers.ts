import type { authv1 } from '@mezite/proto';
import { ServerError, Status, type ServiceImplementation } from 'nice-grpc';
import { requireAdmin } from '../domain/authz';
import type { Bot } from '../domain/bot';
import type { BotManager } from '../domain/bot-manager';
import type { AuthContext } from './auth-middleware';

function toProto(b: Bot): authv1.Bot {
  return { id: b.id, name: b.name, roles: b.roles, createTime: b.createdAt, lock: undefined, generation: 0, lastSeenTime: undefined, certExpireTime: undefined };
}

/** Thin handlers for BotService: authorize, map, call BotManager, map back. */
export function botHandlers(bots: BotManager): ServiceImplementation<typeof authv1.BotServiceDefinition, AuthContext> {
  return {
    async createBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'create bots');
      const r = await bots.create(caller, { name: req.name, roles: req.roles, tokenTtlMs: req.tokenTtlSeconds * 1000, requestId: ctx.requestId });
      ctx.log.info('bot created', { bot: r.bot.name, bot_id: r.bot.id, tenant_id: r.bot.tenantId, actor: caller.name });
      return { bot: toProto(r.bot), joinToken: r.joinToken, joinTokenExpireTime: r.joinTokenExpiresAt };
    },
    async getBot(req, ctx) {
      return toProto(await bots.get(requireAdmin(ctx.principal, 'read bots'), req.name));
    },
    async listBots(req, ctx) {
      const r = await bots.list(requireAdmin(ctx.principal, 'list bots'), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { bots: r.bots.map(toProto), nextPageToken: r.nextPageToken };
    },
    async deleteBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove bots');
      await bots.delete(caller, req.name, ctx.requestId);
      ctx.log.info('bot removed', { bot: req.name, actor: caller.name });
      return {};
    },
    async rotateBotToken() {
      throw new ServerError(Status.UNIMPLEMENTED, 'RotateBotToken is not implemented yet');
    },
    async lockBot() {
      throw new ServerError(Status.UNIMPLEMENTED, 'LockBot is not implemented yet');
    },
    async unlockBot() {
      throw new ServerError(Status.UNIMPLEMENTED, 'UnlockBot is not implemented yet');
    },
  };
}
