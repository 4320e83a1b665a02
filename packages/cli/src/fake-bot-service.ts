import { alreadyExists, invalidArgument, notFound, validateName } from '@mezite/identity';
import type { RequestContext } from '@mezite/platform';
import type { authv1 } from '@mezite/proto';
import type { CallContext, ServiceImplementation } from 'nice-grpc';
import type { FakeAuthServer } from './fake-auth-server';
import { page } from './fake-page';

type Ctx = CallContext & RequestContext;

/** The most instances GetBot carries, as the real server's contract says. */
const INSTANCES_PER_BOT = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Newest first (by join time, then id), as ListBotInstances and GetBot order them. */
const newestFirst = (a: authv1.BotInstance, b: authv1.BotInstance) => (b.createTime?.getTime() ?? 0) - (a.createTime?.getTime() ?? 0) || b.id.localeCompare(a.id);

/** An instance without its lineage: only GetBotInstance fills that in. */
const withoutLineage = (i: authv1.BotInstance): authv1.BotInstance => ({ ...i, lineage: [] });

/**
 * Test support: BotService of the fake auth server, with the real server's messages
 * where the CLI shows them (`bot "x" not found`) and its shapes (lineage only from
 * GetBotInstance, instances only from GetBot, newest first).
 */
export function botService(fake: () => FakeAuthServer, pageSize: number): ServiceImplementation<typeof authv1.BotServiceDefinition, RequestContext> {
  return {
    async createBot(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.CreateBot', req, ctx);
      validateName('bot', req.name);
      if (f.bots.has(req.name)) throw alreadyExists(`bot "${req.name}" already exists`);
      for (const r of req.roles) if (!f.roles.has(r)) throw notFound(`role "${r}" does not exist; create it first with mezctl create -f role.yaml`);
      const bot = f.addBot({ name: req.name, roles: req.roles, maxCertificateTtlSeconds: req.maxCertificateTtlSeconds });
      return { bot, joinToken: f.mintToken(), joinTokenExpireTime: new Date(f.clock.now().getTime() + req.tokenTtlSeconds * 1000) };
    },
    async getBot(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.GetBot', req, ctx);
      const b = f.bot(req.name);
      const instances = [...f.instances.values()].filter((i) => i.botName === b.name).sort(newestFirst).slice(0, INSTANCES_PER_BOT).map(withoutLineage);
      return { ...b, instances };
    },
    async listBots(req, ctx: Ctx) {
      fake().authorize('BotService.ListBots', req, ctx);
      const all = [...fake().bots.values()].sort((a, b) => a.name.localeCompare(b.name));
      const p = page(all, (b) => b.name, req.pageToken, Math.min(req.pageSize || 100, pageSize));
      return { bots: p.items, nextPageToken: p.next };
    },
    async deleteBot(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.DeleteBot', req, ctx);
      f.bot(req.name);
      f.bots.delete(req.name);
      for (const [id, i] of f.instances) if (i.botName === req.name) f.instances.delete(id);
      return {};
    },
    async rotateBotToken(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.RotateBotToken', req, ctx);
      f.bot(req.name);
      return { joinToken: f.mintToken(), expireTime: new Date(f.clock.now().getTime() + (req.tokenTtlSeconds || 3600) * 1000) };
    },
    async lockBot(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.LockBot', req, ctx);
      const b = f.bot(req.name);
      const now = f.clock.now();
      b.lock = { reason: req.reason, createTime: now, expireTime: req.ttlSeconds > 0 ? new Date(now.getTime() + req.ttlSeconds * 1000) : undefined, lockedBy: 'user:u-1' };
      return b;
    },
    async unlockBot(req, ctx: Ctx) {
      fake().authorize('BotService.UnlockBot', req, ctx);
      const b = fake().bot(req.name);
      b.lock = undefined;
      return b;
    },
    async addBotInstance(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.AddBotInstance', req, ctx);
      f.bot(req.name);
      return { joinToken: f.mintToken(), expireTime: new Date(f.clock.now().getTime() + (req.tokenTtlSeconds || 3600) * 1000) };
    },
    async listBotInstances(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.ListBotInstances', req, ctx);
      if (req.botName) f.bot(req.botName);
      const all = [...f.instances.values()].filter((i) => !req.botName || i.botName === req.botName).sort(newestFirst);
      const p = page(all, (i) => i.id, req.pageToken, Math.min(req.pageSize || 100, pageSize));
      return { instances: p.items.map(withoutLineage), nextPageToken: p.next };
    },
    async getBotInstance(req, ctx: Ctx) {
      const f = fake();
      f.authorize('BotService.GetBotInstance', req, ctx);
      if (!UUID.test(req.id)) throw invalidArgument('id: not a bot instance id (a UUID)');
      const i = f.instances.get(req.id.toLowerCase());
      if (!i) throw notFound(`bot instance "${req.id}" not found`);
      return i;
    },
  };
}
