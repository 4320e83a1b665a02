import { randomUUID } from 'node:crypto';
import { invalidArgument, isMeziteError, permissionDenied } from '@mezite/identity';
import { parsePublicKey, type SshPublicKey } from '@mezite/ssh';
import { activeLock, type Bot, type BotStore } from '../bot';
import type { BotCertificates, IssuedBotCert } from '../bot-certificates';
import { boundedHeartbeat, type BotInstance, type BotInstanceStore } from '../bot-instance';
import type { JoinInput } from '../join-manager';
import { JOIN_TOKEN_PATTERN, type JoinToken, type JoinTokenStore } from '../join-token';
import { refused, type RefusalSubject } from '../refusal';
import type { RefusalAuditor, RefusalEvent } from '../refusal-auditor';
import type { Clock } from '@mezite/identity';
import type { JoinMethod } from './join-method';

const INVALID_JOIN_TOKEN = 'invalid join token';
const sameKey = (line: string, key: SshPublicKey) => Buffer.from(line.split(' ')[1] ?? '', 'base64').equals(key.blob);

/**
 * The `token` method as a resource: one-time `tok-bot-…` secrets are minted by `mezctl
 * bots add` or `bots add-instance` and are their own record (hashed in
 * `auth.join_tokens`), so a `kind: join_token` resource cannot choose this method.
 */
export const tokenJoinMethod: JoinMethod = {
  name: 'token',
  checkResource() {
    throw invalidArgument('spec.join_method: "token" is not a resource: one-time tokens are minted with mezctl bots add-instance');
  },
  verify() {
    return Promise.reject(refused(INVALID_JOIN_TOKEN, 'token method has no resource'));
  },
};

/** What the `token` method needs of JoinManager: its stores, and its one refusal, audit and success record. */
export interface TokenJoinOptions {
  bots: BotStore;
  instances: BotInstanceStore;
  tokens: JoinTokenStore;
  tokenHash: (plaintext: string) => Buffer | Promise<Buffer>;
  certs: BotCertificates;
  clock: Clock;
  refusals: Pick<RefusalAuditor, 'refused'>;
  refuse(event: RefusalEvent, reason: string, subject?: RefusalSubject): Promise<never>;
  recorded(tenantId: string, type: string, botName: string, requestId: string, details: Record<string, string>): Promise<void>;
  auditRecord(tenantId: string | null, type: string, actor: string, target: string, result: 'success' | 'failure', requestId: string, details: Record<string, string>): Promise<void>;
}

/**
 * The `token` method's join (seed 002): a one-time token is redeemed in the transaction
 * that creates the bot instance and its first generation; a retry of a join whose
 * answer was lost (same token, same key) gets that join's certificate; anything else is
 * the one refusal.
 */
export class TokenJoin {
  constructor(private readonly o: TokenJoinOptions) {}

  /** Redeems a join token for a certificate on `publicKey`; the same token and key again get the same certificate. */
  async join(input: JoinInput): Promise<IssuedBotCert> {
    const pub = parsePublicKey(input.publicKey);
    const event = { type: 'bot.join', requestId: input.requestId, source: input.source, credential: 'join token', target: 'bot:?', fallbackReason: 'refused token' };
    if (!JOIN_TOKEN_PATTERN.test(input.joinToken)) return this.o.refuse(event, 'malformed token');
    const hash = await this.o.tokenHash(input.joinToken);
    const now = this.o.clock.now();
    const heartbeat = boundedHeartbeat(input.heartbeat);
    // Everything the join reads comes first: inside the redemption's transaction only
    // ssh-ca is called and the transaction's own connection written (a second pool
    // connection awaited there could starve the pool under a burst of joins).
    const tok = await this.o.tokens.findByHash(hash);
    let done: { issued: IssuedBotCert; bot: Bot; tokenId: string } | null = null;
    if (tok && !tok.redeemedAt && !tok.revokedAt && tok.expiresAt > now) {
      try {
        const bot = await this.botOf(tok);
        const lock = activeLock(bot, now);
        if (lock) throw permissionDenied(`bot "${bot.name}" is locked: ${lock.reason || 'no reason given'}`);
        const roles = await this.o.certs.rolesOf(bot);
        done = await this.o.tokens.redeem(hash, now, async (t, writes) => {
          const instanceId = randomUUID();
          const { issued, step } = await this.o.certs.issue(bot, { instanceId, publicKey: pub, publicKeyLine: input.publicKey, requestedTtlMs: input.requestedTtlMs, generation: 1, requestId: input.requestId, address: input.source, roles });
          const instance: BotInstance = { id: instanceId, tenantId: bot.tenantId, botId: bot.id, generation: 1, joinMethod: tokenJoinMethod.name, joinTokenId: t.id, createdAt: now, lastRenewalAt: now, lastAddress: input.source, heartbeat, certExpiresAt: step.expiresAt, lock: null, legacyGeneration: null };
          await writes.createInstance(instance, step);
          return { issued, bot, tokenId: t.id };
        });
      } catch (err) {
        if (isMeziteError(err, 'Unauthenticated')) await this.o.refusals.refused(event, err);
        else if (isMeziteError(err, 'PermissionDenied')) await this.o.auditRecord(tok.tenantId, 'bot.join', 'anonymous', 'bot:?', 'failure', input.requestId, { reason: 'bot locked', token_id: tok.id }).catch(() => undefined);
        throw err;
      }
    }
    if (done) {
      await this.o.recorded(done.bot.tenantId, 'bot.join', done.bot.name, input.requestId, { generation: '1', instance: done.issued.instanceId, token_id: done.tokenId, address: input.source });
      return done.issued;
    }
    // Not redeemable: a retry of a join whose answer was lost (same token, same key)
    // gets that join's certificate; anything else is the one refusal.
    const latest = tok && !tok.redeemedAt && !tok.revokedAt && tok.expiresAt > now ? await this.o.tokens.findByHash(hash) : tok;
    const replay = latest ? await this.replayJoin(latest, pub, now) : null;
    if (replay) {
      await this.o.recorded(replay.bot.tenantId, 'bot.join', replay.bot.name, input.requestId, { generation: '1', instance: replay.issued.instanceId, token_id: latest!.id, replay: 'true', address: input.source });
      return replay.issued;
    }
    return this.o.refuse(event, !latest ? 'unknown token' : latest.revokedAt ? 'revoked token' : latest.redeemedAt ? 'used token' : 'expired token', latest ? { tenantId: latest.tenantId, details: { token_id: latest.id } } : undefined);
  }

  private async botOf(tok: JoinToken): Promise<Bot> {
    if (tok.subjectKind !== 'bot') throw refused(INVALID_JOIN_TOKEN, 'not a bot join token');
    const bot = await this.o.bots.getById(tok.tenantId, tok.subjectId);
    if (!bot) throw refused(INVALID_JOIN_TOKEN, 'the bot was removed');
    return bot;
  }

  private async replayJoin(tok: JoinToken, pub: SshPublicKey, now: Date): Promise<{ issued: IssuedBotCert; bot: Bot } | null> {
    if (tok.subjectKind !== 'bot' || !tok.redeemedAt || !tok.instanceId) return null;
    const inst = await this.o.instances.get(tok.tenantId, tok.instanceId);
    if (!inst || inst.lock || inst.generation !== 1) return null;
    const step = await this.o.instances.step(tok.tenantId, inst.id, 1);
    if (!step || step.expiresAt <= now || !sameKey(step.publicKey, pub)) return null;
    const bot = await this.o.bots.getById(tok.tenantId, inst.botId);
    if (!bot || activeLock(bot, now)) return null;
    return { issued: await this.o.certs.reissue(bot, step), bot };
  }

}
