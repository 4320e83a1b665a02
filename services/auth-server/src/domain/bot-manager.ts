import { randomUUID } from 'node:crypto';
import { alreadyExists, invalidArgument, MAX_ROLE_TTL_MS, notFound, validateName, type Clock, type Principal } from '@mezite/identity';
import { formatIdentityRef } from '@mezite/identity';
import { activeLock, type Bot, type BotLock, type BotStore } from './bot';
import type { BotInstance, BotInstanceStore, LineageStep } from './bot-instance';
import type { JoinTokenMinter } from './join-token-minter';
import { pageByName } from './page';

/** Join tokens live at least this long and at most a week. */
const MIN_TOKEN_TTL_MS = 60_000;
const MAX_TOKEN_TTL_MS = 7 * 24 * 3600_000;

/** Options of BotManager. */
export interface BotManagerOptions {
  store: BotStore;
  joinTokens: JoinTokenMinter;
  clock: Clock;
  /** Resolves role names; NotFound for one that does not exist. */
  roles: { resolve(tenantId: string, names: string[]): Promise<unknown[]> };
  /** The bots' instances (listing, details). */
  instances?: BotInstanceStore;
  /** The KRL: a removed bot's certificates are revoked; a lock change drops the cached list. */
  revocations?: { revokeSubject(tenantId: string, subjectId: string, reason: string, expiresAt: Date): Promise<void>; invalidate(): void };
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
    if (!opts.store || !opts.joinTokens || !opts.clock || !opts.roles) throw new Error('BotManager: store, joinTokens, clock and roles are required');
  }

  /**
   * Mints the join token, then stores the bot. The order is what keeps them consistent:
   * a failure between them (PostgreSQL restarting) leaves at most a token for a bot that
   * does not exist, which no join accepts, never a bot without a way to join. The caller
   * can simply retry.
   */
  async create(caller: Principal, input: { name: string; roles: string[]; tokenTtlMs: number; maxCertTtlMs?: number; requestId?: string }): Promise<CreatedBot> {
    const name = validateName('bot', input.name);
    const roles = [...new Set(input.roles.map((r) => r.trim()).filter(Boolean))];
    if (roles.length === 0) throw invalidArgument('a bot needs at least one role (--roles)');
    for (const r of roles) validateName('role', r);
    checkTokenTtl(input.tokenTtlMs);
    const maxCertTtlMs = input.maxCertTtlMs ?? 0;
    if (!Number.isSafeInteger(maxCertTtlMs) || maxCertTtlMs < 0 || (maxCertTtlMs > 0 && maxCertTtlMs < 60_000) || maxCertTtlMs > MAX_ROLE_TTL_MS) throw invalidArgument('--max-ttl must be between 1m and 30d');
    await this.opts.roles.resolve(caller.tenantId, roles);
    const bot: Bot = {
      id: randomUUID(),
      tenantId: caller.tenantId,
      name,
      roles,
      createdAt: this.opts.clock.now(),
      generation: 0,
      lastSeenAt: null,
      certExpiresAt: null,
      lock: null,
      maxCertTtlMs: maxCertTtlMs > 0 ? maxCertTtlMs : null,
    };
    if (await this.opts.store.get(caller.tenantId, name)) throw alreadyExists(`bot "${name}" already exists`);
    const rid = input.requestId ? { requestId: input.requestId } : {};
    const t = await this.opts.joinTokens.create({ tenantId: bot.tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: input.tokenTtlMs, ...rid });
    try {
      await this.opts.store.create(bot);
    } catch (err) {
      // The token names a bot that does not exist, so it cannot join anything; revoke it
      // anyway when the store allows (it may be the thing that is down).
      await this.opts.joinTokens.revokeForSubject({ tenantId: bot.tenantId, subjectId: bot.id, ...rid }).catch(() => undefined);
      throw err;
    }
    return { bot, joinToken: t.plaintext, joinTokenExpiresAt: t.expiresAt };
  }

  /** The caller's tenant's bot of that name; NotFound otherwise. */
  async get(caller: Principal, name: string): Promise<Bot> {
    const bot = await this.opts.store.get(caller.tenantId, name);
    if (!bot) throw notFound(`bot "${name}" not found`);
    return bot;
  }

  /** One page of the tenant's bots, by name. */
  async list(caller: Principal, opts: { pageSize: number; pageToken: string }): Promise<{ bots: Bot[]; nextPageToken: string }> {
    const r = await pageByName(opts, (o) => this.opts.store.list(caller.tenantId, o), (b) => b.name);
    return { bots: r.items, nextPageToken: r.nextPageToken };
  }


  /** Revokes the bot's unredeemed join tokens (the old one stops working at once) and mints a new one. */
  async rotateToken(caller: Principal, name: string, tokenTtlMs: number, requestId?: string): Promise<{ joinToken: string; expiresAt: Date }> {
    checkTokenTtl(tokenTtlMs);
    const bot = await this.get(caller, name);
    const rid = requestId ? { requestId } : {};
    await this.opts.joinTokens.revokeForSubject({ tenantId: bot.tenantId, subjectId: bot.id, ...rid });
    const t = await this.opts.joinTokens.create({ tenantId: bot.tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: tokenTtlMs, ...rid });
    return { joinToken: t.plaintext, expiresAt: t.expiresAt };
  }

  /**
   * Mints another join token for the bot, leaving its other tokens alone: each join
   * makes an instance, so one bot can run on many machines (Teleport's
   * `tctl bots instances add`).
   */
  async addInstance(caller: Principal, name: string, tokenTtlMs: number, requestId?: string): Promise<{ joinToken: string; expiresAt: Date }> {
    checkTokenTtl(tokenTtlMs);
    const bot = await this.get(caller, name);
    const t = await this.opts.joinTokens.create({ tenantId: bot.tenantId, subjectKind: 'bot', subjectId: bot.id, ttlMs: tokenTtlMs, ...(requestId ? { requestId } : {}) });
    return { joinToken: t.plaintext, expiresAt: t.expiresAt };
  }

  /** One page of instances, newest first: of one bot (by name) or of the whole tenant. */
  async listInstances(caller: Principal, opts: { botName?: string; pageSize: number; pageToken: string }): Promise<{ instances: Array<BotInstance & { botName: string }>; nextPageToken: string }> {
    const store = this.instanceStore();
    const limit = opts.pageSize > 0 ? Math.min(opts.pageSize, 1000) : 100;
    let after: { createdAt: Date; id: string } | undefined;
    if (opts.pageToken) {
      const m = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(Buffer.from(opts.pageToken, 'base64url').toString('utf8'));
      if (!m) throw invalidArgument('malformed page token');
      after = { createdAt: new Date(Number(m[1])), id: m[2] as string };
    }
    const bot = opts.botName ? await this.get(caller, opts.botName) : undefined;
    const rows = await store.list(caller.tenantId, { ...(bot ? { botId: bot.id } : {}), limit: limit + 1, ...(after ? { after } : {}) });
    const page = rows.slice(0, limit);
    const names = await this.botNames(caller.tenantId, page);
    const last = page[page.length - 1];
    return {
      instances: page.map((i) => ({ ...i, botName: names.get(i.botId) ?? '' })),
      nextPageToken: rows.length > limit && last ? Buffer.from(`${last.createdAt.getTime()}.${last.id}`).toString('base64url') : '',
    };
  }

  /** One instance of the caller's tenant with its lineage; NotFound otherwise. */
  async getInstance(caller: Principal, id: string): Promise<{ instance: BotInstance & { botName: string }; lineage: LineageStep[] }> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw invalidArgument('an instance id is a UUID (see mezctl bots instances ls)');
    const store = this.instanceStore();
    const instance = await store.get(caller.tenantId, id.toLowerCase());
    if (!instance) throw notFound(`bot instance "${id}" not found`);
    const [names, lineage] = await Promise.all([this.botNames(caller.tenantId, [instance]), store.lineage(caller.tenantId, instance.id)]);
    return { instance: { ...instance, botName: names.get(instance.botId) ?? '' }, lineage };
  }

  /** A bot with its newest instances (at most 100). */
  async getWithInstances(caller: Principal, name: string): Promise<{ bot: Bot; instances: Array<BotInstance & { botName: string }> }> {
    const bot = await this.get(caller, name);
    const instances = this.opts.instances ? await this.opts.instances.list(caller.tenantId, { botId: bot.id, limit: 100 }) : [];
    return { bot, instances: instances.map((i) => ({ ...i, botName: bot.name })) };
  }

  private instanceStore(): BotInstanceStore {
    if (!this.opts.instances) throw new Error('BotManager: instances store not configured');
    return this.opts.instances;
  }

  private async botNames(tenantId: string, instances: BotInstance[]): Promise<Map<string, string>> {
    const ids = [...new Set(instances.map((i) => i.botId))];
    const bots = await Promise.all(ids.map((id) => this.opts.store.getById(tenantId, id)));
    return new Map(bots.flatMap((b) => (b ? [[b.id, b.name] as [string, string]] : [])));
  }

  /** Locks the bot: it can neither join nor renew until unlocked or the lock expires. */
  async lock(caller: Principal, name: string, input: { reason: string; ttlMs: number }): Promise<Bot> {
    if (input.reason.length > 500) throw invalidArgument('--reason is longer than 500 characters');
    if (input.ttlMs < 0 || input.ttlMs > 366 * 24 * 3600_000) throw invalidArgument('--expires must be between 1s and 366d');
    const bot = await this.get(caller, name);
    const now = this.opts.clock.now();
    const lock: BotLock = { reason: input.reason, lockedAt: now, expiresAt: input.ttlMs > 0 ? new Date(now.getTime() + input.ttlMs) : null, lockedBy: formatIdentityRef(caller) };
    await this.opts.store.setLock(bot.tenantId, bot.id, lock);
    this.opts.revocations?.invalidate();
    return { ...bot, lock };
  }

  /** Lifts the bot's lock. */
  async unlock(caller: Principal, name: string): Promise<Bot> {
    const bot = await this.get(caller, name);
    await this.opts.store.setLock(bot.tenantId, bot.id, null);
    this.opts.revocations?.invalidate();
    return { ...bot, lock: null };
  }

  /** The lock in force on a bot now, if any. */
  activeLock(bot: Bot): BotLock | null {
    return activeLock(bot, this.opts.clock.now());
  }

  /** Removes the bot, revokes its unredeemed join tokens and puts its unexpired certificates in the KRL. */
  async delete(caller: Principal, name: string, requestId?: string): Promise<void> {
    const bot = await this.get(caller, name);
    await this.opts.joinTokens.revokeForSubject({ tenantId: bot.tenantId, subjectId: bot.id, ...(requestId ? { requestId } : {}) });
    const until = Math.max(bot.certExpiresAt?.getTime() ?? 0, this.opts.clock.now().getTime() + MAX_ROLE_TTL_MS);
    await this.opts.revocations?.revokeSubject(bot.tenantId, bot.id, `bot ${bot.name} removed`, new Date(until));
    await this.opts.store.delete(bot.tenantId, bot.id);
  }
}

function checkTokenTtl(ms: number): void {
  if (!Number.isFinite(ms) || ms < MIN_TOKEN_TTL_MS || ms > MAX_TOKEN_TTL_MS) throw invalidArgument('--token-ttl must be between 1m and 7d');
}
