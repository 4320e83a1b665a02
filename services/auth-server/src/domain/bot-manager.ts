import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidArgument, notFound, validateName, type Clock, type Principal } from '@mezite/identity';
import type { Bot, BotStore } from './bot';
import type { JoinTokenMinter } from './join-token-minter';

/** Join tokens live at least this long and at most a week. */
const MIN_TOKEN_TTL_MS = 60_000;
const MAX_TOKEN_TTL_MS = 7 * 24 * 3600_000;

/** Options of BotManager. */
export interface BotManagerOptions {
  store: BotStore;
  joinTokens: JoinTokenMinter;
  clock: Clock;
  /** Says whether a role exists in a tenant (roles arrive with the bots issue). */
  roleExists: (tenantId: string, role: string) => Promise<boolean>;
}

/** A bot with the plaintext of its first join token, shown once. */
export interface CreatedBot {
  bot: Bot;
  joinToken: string;
  joinTokenExpiresAt: Date;
}

/** Bot lifecycle: create, read, list, remove. Every call is scoped to the caller's tenant. */
export class BotManager {
  constructor(private readonly opts: BotManagerOptions) {
    if (!opts.store || !opts.joinTokens || !opts.clock || !opts.roleExists) throw new Error('BotManager: store, joinTokens, clock and roleExists are required');
  }

  /**
   * Stores the bot, then mints its join token. If minting fails the bot is removed
   * again, so the caller can simply retry; no bot exists without a way to join.
   */
  async create(caller: Principal, input: { name: string; roles: string[]; tokenTtlMs: number; requestId?: string }): Promise<CreatedBot> {
    const name = validateName('bot', input.name);
    const roles = [...new Set(input.roles.map((r) => r.trim()).filter(Boolean))];
    if (roles.length === 0) throw invalidArgument('a bot needs at least one role (--roles)');
    for (const r of roles) {
      validateName('role', r);
      if (!(await this.opts.roleExists(caller.tenantId, r))) throw notFound(`role "${r}" does not exist; create it first with mezctl create -f role.yaml`);
    }
    if (!Number.isFinite(input.tokenTtlMs) || input.tokenTtlMs < MIN_TOKEN_TTL_MS || input.tokenTtlMs > MAX_TOKEN_TTL_MS) {
      throw invalidArgument('--token-ttl must be between 1m and 7d');
    }
    const bot: Bot = { id: randomUUID(), tenantId: caller.tenantId, name, roles, createdAt: this.opts.clock.now() };
    if (await this.opts.store.get(caller.tenantId, name)) throw alreadyExists(`bot "${name}" already exists`);
    await this.opts.store.create(bot);
    try {
      const t = await this.opts.joinTokens.create({ tenantId: bot.tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: input.tokenTtlMs, ...(input.requestId ? { requestId: input.requestId } : {}) });
      return { bot, joinToken: t.plaintext, joinTokenExpiresAt: t.expiresAt };
    } catch (err) {
      await this.opts.store.delete(bot.tenantId, bot.id).catch(() => undefined);
      throw err;
    }
  }

  /** The caller's tenant's bot of that name; NotFound otherwise. */
  async get(caller: Principal, name: string): Promise<Bot> {
    const bot = await this.opts.store.get(caller.tenantId, name);
    if (!bot) throw notFound(`bot "${name}" not found`);
    return bot;
  }

  /** One page of the tenant's bots, by name. */
  async list(caller: Principal, opts: { pageSize: number; pageToken: string }): Promise<{ bots: Bot[]; nextPageToken: string }> {
    const limit = opts.pageSize > 0 ? Math.min(opts.pageSize, 1000) : 100;
    const afterName = opts.pageToken ? Buffer.from(opts.pageToken, 'base64url').toString('utf8') : undefined;
    const bots = await this.opts.store.list(caller.tenantId, { limit: limit + 1, ...(afterName ? { afterName } : {}) });
    const page = bots.slice(0, limit);
    const last = page[page.length - 1];
    return { bots: page, nextPageToken: bots.length > limit && last ? Buffer.from(last.name).toString('base64url') : '' };
  }

  /** Removes the bot and revokes its unredeemed join tokens. */
  async delete(caller: Principal, name: string, requestId?: string): Promise<void> {
    const bot = await this.get(caller, name);
    await this.opts.joinTokens.revokeForSubject({ tenantId: bot.tenantId, subjectId: bot.id, ...(requestId ? { requestId } : {}) });
    await this.opts.store.delete(bot.tenantId, bot.id);
  }
}
