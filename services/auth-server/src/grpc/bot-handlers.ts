import { formatIdentityRef, type Principal } from '@mezite/identity';
import type { authv1 } from '@mezite/proto';
import type { ServiceImplementation } from 'nice-grpc';
import type { AuditLog } from '../domain/audit';
import { audited } from '../domain/audited-action';
import { requireAdmin } from '../domain/authz';
import type { Bot, BotLock } from '../domain/bot';
import type { BotInstance, LineageStep } from '../domain/bot-instance';
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
    lock: lockToProto(lock),
    generation: b.generation,
    lastSeenTime: b.lastSeenAt ?? undefined,
    certExpireTime: b.certExpiresAt ?? undefined,
    maxCertificateTtlSeconds: b.maxCertTtlMs ? Math.round(b.maxCertTtlMs / 1000) : 0,
    instances: [],
  };
}

function lockToProto(l: BotLock | null): authv1.Lock | undefined {
  return l ? { reason: l.reason, createTime: l.lockedAt, expireTime: l.expiresAt ?? undefined, lockedBy: l.lockedBy } : undefined;
}

/** An instance as the API shows it. */
export function instanceToProto(i: BotInstance & { botName: string }, lineage: LineageStep[] = []): authv1.BotInstance {
  const h = i.heartbeat;
  return {
    id: i.id,
    botName: i.botName,
    generation: i.generation,
    joinMethod: i.joinMethod,
    createTime: i.createdAt,
    lastRenewalTime: i.lastRenewalAt ?? undefined,
    lastAddress: i.lastAddress,
    heartbeat: h
      ? {
          version: h.version,
          hostname: h.hostname,
          os: h.os,
          renewalIntervalSeconds: Math.round(h.renewalIntervalMs / 1000),
          oneShot: h.oneShot,
          destinations: h.destinations.map((d) => ({ destination: d.destination, healthy: d.healthy, error: d.error, updateTime: d.updatedAt ?? undefined })),
        }
      : undefined,
    certExpireTime: i.certExpiresAt ?? undefined,
    lock: lockToProto(i.lock),
    lineage: lineage.map((s) => ({ generation: s.generation, publicKeyFingerprint: s.keyFingerprint, serial: s.serial, issueTime: s.issuedAt, expireTime: s.expiresAt, address: s.address })),
  };
}

/**
 * Thin handlers for BotService: authorize, map, call BotManager audited first (a change
 * happens only once its record is written: audited-action.ts), map back.
 */
export function botHandlers(bots: BotManager, audit: AuditLog): ServiceImplementation<typeof authv1.BotServiceDefinition, AuthContext> {
  const audit1st = <T>(ctx: AuthContext, caller: Principal, type: string, bot: string, action: () => Promise<T>, details: Record<string, string> = {}) =>
    audited({ audit, log: ctx.log }, { tenantId: caller.tenantId, type, actor: formatIdentityRef(caller), target: `bot:${bot.slice(0, 100)}`, requestId: ctx.requestId, details }, action);
  return {
    async createBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'create bots');
      const r = await audit1st(ctx, caller, 'bot.create', req.name, () => bots.create(caller, { name: req.name, roles: req.roles, tokenTtlMs: req.tokenTtlSeconds * 1000, maxCertTtlMs: req.maxCertificateTtlSeconds * 1000, requestId: ctx.requestId }), { roles: req.roles.join(',') });
      ctx.log.info('bot created', { bot: r.bot.name, bot_id: r.bot.id, tenant_id: r.bot.tenantId, actor: caller.name });
      return { bot: toProto(r.bot, bots), joinToken: r.joinToken, joinTokenExpireTime: r.joinTokenExpiresAt };
    },
    async getBot(req, ctx) {
      const r = await bots.getWithInstances(requireAdmin(ctx.principal, 'read bots'), req.name);
      return { ...toProto(r.bot, bots), instances: r.instances.map((i) => instanceToProto(i)) };
    },
    async addBotInstance(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'add bot instances');
      const r = await audit1st(ctx, caller, 'bot.add_instance', req.name, () => bots.addInstance(caller, req.name, req.tokenTtlSeconds > 0 ? req.tokenTtlSeconds * 1000 : 3600_000, ctx.requestId));
      return { joinToken: r.joinToken, expireTime: r.expiresAt };
    },
    async listBotInstances(req, ctx) {
      const r = await bots.listInstances(requireAdmin(ctx.principal, 'list bot instances'), { ...(req.botName ? { botName: req.botName } : {}), pageSize: req.pageSize, pageToken: req.pageToken });
      return { instances: r.instances.map((i) => instanceToProto(i)), nextPageToken: r.nextPageToken };
    },
    async getBotInstance(req, ctx) {
      const r = await bots.getInstance(requireAdmin(ctx.principal, 'read bot instances'), req.id);
      return instanceToProto(r.instance, r.lineage);
    },
    async listBots(req, ctx) {
      const r = await bots.list(requireAdmin(ctx.principal, 'list bots'), { pageSize: req.pageSize, pageToken: req.pageToken });
      return { bots: r.bots.map((b) => toProto(b, bots)), nextPageToken: r.nextPageToken };
    },
    async deleteBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'remove bots');
      await audit1st(ctx, caller, 'bot.delete', req.name, () => bots.delete(caller, req.name, ctx.requestId));
      return {};
    },
    async rotateBotToken(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'rotate join tokens');
      const r = await audit1st(ctx, caller, 'bot.rotate_token', req.name, () => bots.rotateToken(caller, req.name, req.tokenTtlSeconds > 0 ? req.tokenTtlSeconds * 1000 : 3600_000, ctx.requestId));
      return { joinToken: r.joinToken, expireTime: r.expiresAt };
    },
    async lockBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'lock bots');
      const b = await audit1st(ctx, caller, 'bot.lock', req.name, () => bots.lock(caller, req.name, { reason: req.reason, ttlMs: req.ttlSeconds * 1000 }), { reason: req.reason });
      return toProto(b, bots);
    },
    async unlockBot(req, ctx) {
      const caller = requireAdmin(ctx.principal, 'unlock bots');
      const b = await audit1st(ctx, caller, 'bot.unlock', req.name, () => bots.unlock(caller, req.name));
      return toProto(b, bots);
    },
  };
}
