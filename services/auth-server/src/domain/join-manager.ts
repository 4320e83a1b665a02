import { randomUUID } from 'node:crypto';
import { failedPrecondition, invalidArgument, isMeziteError, permissionDenied, unavailable, type Clock } from '@mezite/identity';
import { countOutcome, meziteMetrics, nullLogger } from '@mezite/platform';
import { parsePublicKey, verifyBotRenewal, type SshCertificate, type SshPublicKey } from '@mezite/ssh';
import type { AuditLog } from './audit';
import { activeLock, type Bot, type BotStore } from './bot';
import { type BotCertClaims, type BotCertificates, instanceOf, type IssuedBotCert } from './bot-certificates';
import { boundedHeartbeat, type BotHeartbeat, type BotInstance, type BotInstanceStore, type LineageStep } from './bot-instance';
import { joinAudience, validateName } from '@mezite/identity';
import type { JoinMethod, VerifiedJoin } from './join-methods/join-method';
import type { JoinResourceStore } from './join-resource';
import { JOIN_TOKEN_PATTERN, type JoinTokenStore } from './join-token';
import { TokenJoin, tokenJoinMethod } from './join-methods/token';
import { refusalOf } from './refusal';
import type { TenantStore } from './tenant';
import { refused, type RefusalSubject } from './refusal';
import { RefusalAuditor } from './refusal-auditor';

export { DEFAULT_CERT_TTL_MS, MEZITE_EXTENSION, type BotCertClaims, type IssuedBotCert } from './bot-certificates';

/** How far a renewal's signed time may be from the server's clock. */
export const RENEWAL_TIME_WINDOW_MS = 120_000;

/** Options of JoinManager. */
export interface JoinManagerOptions {
  bots: BotStore;
  instances: BotInstanceStore;
  tokens: JoinTokenStore;
  /** Hashes a join token's plaintext as it is stored (JoinTokens). */
  /** The hash a join token's plaintext is stored under (JoinTokens.storedHash). */
  tokenHash: (plaintext: string) => Buffer | Promise<Buffer>;
  certs: BotCertificates;
  audit: AuditLog;
  clock: Clock;
  /** Certificates revoked by serial (or with their bot) are refused; a lock drops the cached KRL. */
  revocations?: { isCertificateRevoked(serial: string, subjectId: string): Promise<boolean>; invalidate?(): void };
  /** Audits refused joins and renewals, bounded per source (anyone may call them). */
  refusals?: Pick<RefusalAuditor, 'refused'>;
  /** What a detected copy locks: the instance (default) or the whole bot. */
  copyLockScope?: 'instance' | 'bot';
  /** Delegated joins (`kind: join_token` resources): all three, or none and only one-time tokens join. */
  resources?: JoinResourceStore;
  methods?: ReadonlyMap<string, JoinMethod>;
  tenants?: Pick<TenantStore, 'getTenantByDomain'>;
}

/** The tenant a join reference without `TENANT/` names. */
export const DEFAULT_JOIN_TENANT = 'default';

/** A join: a one-time token and the key to certify. */
export interface JoinInput {
  /** The one-time token (`tok-bot-…`), or with `idToken` the resource's name (`NAME` or `TENANT/NAME`). */
  joinToken: string;
  /** The platform's ID token for a delegated join (github, …); absent for a one-time token. */
  idToken?: string;
  publicKey: string;
  requestedTtlMs: number;
  heartbeat?: BotHeartbeat | null;
  requestId: string;
  source: string;
}

/** A renewal in one call: the current certificate, the new key, and a proof by the current key over both and the time. */
export interface RenewInput {
  certificate: string;
  newPublicKey: string;
  timeMs: number;
  signature: Buffer;
  requestedTtlMs: number;
  heartbeat?: BotHeartbeat | null;
  requestId: string;
  source: string;
}

const INVALID_JOIN_TOKEN = 'invalid join token';
const sameKey = (line: string, key: SshPublicKey) => Buffer.from(line.split(' ')[1] ?? '', 'base64').equals(key.blob);

/**
 * Joins and renewals of bots. A join redeems a one-time token in the transaction that
 * creates the bot instance and its first generation. A renewal proves possession of
 * the current key over the new key and moves the instance one generation on. Each step
 * of a lineage records the key it certified, so a repeat of a step with the same key is
 * a retry (answered with the same certificate) and with another key a copy (the
 * instance is locked and its certificates revoked). There is no tolerance window.
 */
export class JoinManager {
  private readonly refusals: Pick<RefusalAuditor, 'refused'>;
  /** The `token` method: one-time `tok-bot-…` tokens. */
  private readonly oneTime: TokenJoin;

  constructor(private readonly o: JoinManagerOptions) {
    for (const k of ['bots', 'instances', 'tokens', 'tokenHash', 'certs', 'audit', 'clock'] as const) if (!o[k]) throw new Error(`JoinManager: ${k} is required`);
    this.refusals = o.refusals ?? new RefusalAuditor({ audit: o.audit, clock: o.clock, log: nullLogger });
    this.oneTime = new TokenJoin({
      bots: o.bots,
      instances: o.instances,
      tokens: o.tokens,
      tokenHash: o.tokenHash,
      certs: o.certs,
      clock: o.clock,
      refuse: (event, reason, subject) => this.refuseJoin(event, reason, subject),
      refusals: this.refusals,
      recorded: (tenantId, type, botName, requestId, details) => this.recorded(tenantId, type, botName, requestId, details),
      auditRecord: (tenantId, type, actor, target, result, requestId, details) => this.audit(tenantId, type, actor, target, result, requestId, details),
    });
  }

  /** Redeems a join token for a certificate on `publicKey`; the same token and key again get the same certificate. */
  join(input: JoinInput): Promise<IssuedBotCert> {
    return countOutcome(meziteMetrics.joins, {}, () => (input.idToken ? this.delegated(input, input.idToken) : this.oneTime.join(input)));
  }

  /**
   * A delegated join: the resource named by `joinToken` chooses the method, the method
   * verifies the platform's ID token, and the token's use (issuer, jti) is recorded in
   * the transaction that creates a new instance: each CI run is an instance of its own,
   * and the same ID token never joins twice (not even as a retry: mezd fetches a fresh
   * one). Every refusal is the one `invalid join token`; its reason is audited.
   */
  private async delegated(input: JoinInput, idToken: string): Promise<IssuedBotCert> {
    const pub = parsePublicKey(input.publicKey);
    const event = { type: 'bot.join', requestId: input.requestId, source: input.source, credential: 'id token', target: 'bot:?', fallbackReason: 'refused id token' };
    if (!this.o.resources || !this.o.methods || !this.o.tenants) return this.refuseJoin(event, 'delegated joins not configured');
    // A one-time token sent as a resource name is a mistake that must not land in the audit log.
    if (JOIN_TOKEN_PATTERN.test(input.joinToken)) return this.refuseJoin(event, 'one-time token sent with an id token');
    const ref = input.joinToken.length <= 130 ? input.joinToken.split('/') : [];
    const [domain, name] = ref.length === 1 ? [DEFAULT_JOIN_TENANT, ref[0] as string] : ref.length === 2 ? (ref as [string, string]) : ['', ''];
    try {
      validateName('join token', name);
    } catch {
      return this.refuseJoin(event, 'malformed join token name');
    }
    const tenant = domain ? await this.o.tenants.getTenantByDomain(domain) : null;
    if (!tenant) return this.refuseJoin(event, 'unknown tenant');
    const resource = await this.o.resources.get(tenant.id, name);
    const subject = { tenantId: tenant.id, details: { join_token: name } };
    if (!resource) return this.refuseJoin(event, 'unknown join token', subject);
    const now = this.o.clock.now();
    const who: RefusalSubject = { tenantId: tenant.id, target: `bot:${resource.botName}`, details: { join_token: name, join_method: resource.joinMethod } };
    if (resource.expiresAt && resource.expiresAt <= now) return this.refuseJoin(event, 'expired join token', who);
    const method = this.o.methods.get(resource.joinMethod);
    if (!method || method === tokenJoinMethod) return this.refuseJoin(event, 'unknown join method', who);
    let verified;
    try {
      verified = await method.verify({ credential: idToken, resource, audience: resource.audience || joinAudience(domain, name), now, publicKey: pub });
    } catch (err) {
      const r = refusalOf(err);
      if (isMeziteError(err, 'Unauthenticated')) return this.refuseJoin(event, r?.reason ?? 'refused id token', { ...who, ...r?.subject, details: { ...who.details, ...r?.subject.details } });
      throw err;
    }
    const bot = await this.o.bots.getById(tenant.id, resource.botId);
    if (!bot) return this.refuseJoin(event, 'the bot was removed', who);
    const lock = activeLock(bot, now);
    if (lock) {
      await this.audit(tenant.id, 'bot.join', 'anonymous', `bot:${bot.name}`, 'failure', input.requestId, { reason: 'bot locked', join_token: name }).catch(() => undefined);
      throw permissionDenied(`bot "${bot.name}" is locked: ${lock.reason || 'no reason given'}`);
    }
    const instanceId = randomUUID();
    const binding = verified.binding;
    if (binding) {
      // A retry of a join whose answer was lost presents the same proof: answered below, never judged a copy.
      const use = await this.o.resources.findUse(verified.issuer, verified.jti);
      if (!use) {
        // mezd retries a join whose answer was lost with a fresh proof for the same certificate key.
        const retry = await this.retriedBoundJoin(bot, binding.previousInstanceId, pub, now);
        if (retry) {
          await this.recorded(tenant.id, 'bot.join', bot.name, input.requestId, { generation: '1', instance: retry.instanceId, join_token: name, join_method: method.name, replay: 'true', address: input.source, ...verified.details });
          return retry;
        }
        await this.checkLineageEnded(bot, binding, input, event, who);
      }
    }
    const roles = await this.o.certs.rolesOf(bot);
    const heartbeat = boundedHeartbeat(input.heartbeat);
    const rebind = binding ? { revision: binding.revision, options: { ...binding.options, instance_id: instanceId } } : undefined;
    const issued = await this.o.resources.admit({ tenantId: tenant.id, resourceId: resource.id, issuer: verified.issuer, jti: verified.jti, expiresAt: verified.expiresAt, at: now, ...(rebind ? { rebind } : {}) }, async (createInstance) => {
      const { issued, step } = await this.o.certs.issue(bot, { instanceId, publicKey: pub, publicKeyLine: input.publicKey, requestedTtlMs: input.requestedTtlMs, generation: 1, requestId: input.requestId, address: input.source, roles });
      const instance: BotInstance = { id: instanceId, tenantId: bot.tenantId, botId: bot.id, generation: 1, joinMethod: method.name, joinTokenId: resource.id, createdAt: now, lastRenewalAt: now, lastAddress: input.source, heartbeat, certExpiresAt: step.expiresAt, lock: null, legacyGeneration: null };
      await createInstance(instance, step);
      return issued;
    });
    if (!issued) {
      // Used before: a retry of that join whose answer was lost (same token, same key) gets
      // its certificate; anything else presenting the token again is the one refusal.
      const replay = await this.replayDelegated(verified, resource.id, pub, now);
      if (replay) {
        await this.recorded(tenant.id, 'bot.join', bot.name, input.requestId, { generation: '1', instance: replay.instanceId, join_token: name, join_method: method.name, replay: 'true', address: input.source, ...verified.details });
        return replay;
      }
      const raced = binding && !(await this.o.resources.findUse(verified.issuer, verified.jti));
      return this.refuseJoin(event, raced ? 'concurrent join with the same key' : 'replayed id token', { ...who, details: { ...who.details, jti: verified.jti.slice(0, 100) } });
    }
    await this.recorded(tenant.id, 'bot.join', bot.name, input.requestId, { generation: '1', instance: issued.instanceId, join_token: name, join_method: method.name, address: input.source, ...verified.details });
    return issued;
  }

  /**
   * A join by a bound key while the instance its previous join created still holds an
   * unexpired certificate is a copy: an honest machine with a live certificate renews
   * instead. The instance is locked and its certificates revoked (as a generation
   * presented twice), and the join refused. A recovery (every certificate of the
   * previous instance expired) is allowed up to the resource's limit.
   */
  private async checkLineageEnded(bot: Bot, b: NonNullable<VerifiedJoin['binding']>, input: JoinInput, event: Parameters<RefusalAuditor['refused']>[0], who: RefusalSubject): Promise<void> {
    const now = this.o.clock.now();
    const prev = b.previousInstanceId ? await this.o.instances.get(bot.tenantId, b.previousInstanceId) : null;
    if (prev?.lock) return this.refuseJoin(event, 'join key of a locked instance', { ...who, details: { ...who.details, instance: prev.id } });
    if (prev && prev.certExpiresAt && prev.certExpiresAt > now) {
      const reason = `the join key of this instance was presented from ${input.source || 'unknown'} while its certificate (last from ${prev.lastAddress || 'unknown'}) was live: a copy of the join key was used`;
      const lock = { reason, lockedAt: now, expiresAt: null, lockedBy: 'mezite' };
      const scope = this.o.copyLockScope ?? 'instance';
      const serials = await this.o.instances.lockAndRevoke(bot.tenantId, prev.id, lock, [], now);
      if (scope === 'bot') await this.o.bots.setLock(bot.tenantId, bot.id, lock);
      this.o.revocations?.invalidate?.();
      await this.audit(bot.tenantId, 'bot.lock', 'mezite', `bot:${bot.name}`, 'success', input.requestId, {
        reason: 'copied join key',
        scope,
        instance: prev.id,
        join_token: who.details?.join_token ?? '',
        first_address: prev.lastAddress || 'unknown',
        second_address: input.source || 'unknown',
        revoked_certificates: String(serials.length),
      });
      return this.refuseJoin(event, 'copied join key', { ...who, details: { ...who.details, instance: prev.id } });
    }
    if (b.exhausted) return this.refuseJoin(event, 'recoveries exhausted', who);
  }

  /**
   * The first certificate of the instance the previous bound-key join created, when it
   * is still that instance's only generation, live, and certifies `pub`: a retry of that
   * join (the certificate key is one only its machine holds), not a copy.
   */
  private async retriedBoundJoin(bot: Bot, previousInstanceId: string | null, pub: SshPublicKey, now: Date): Promise<IssuedBotCert | null> {
    const inst = previousInstanceId ? await this.o.instances.get(bot.tenantId, previousInstanceId) : null;
    if (!inst || inst.lock || inst.generation !== 1) return null;
    const step = await this.o.instances.step(bot.tenantId, inst.id, 1);
    if (!step || step.expiresAt <= now || !sameKey(step.publicKey, pub)) return null;
    return this.o.certs.reissue(bot, step);
  }

  /** The first certificate of the instance an ID token's join created, if `pub` is the key it certified and nothing since ended it. */
  private async replayDelegated(v: { issuer: string; jti: string }, resourceId: string, pub: SshPublicKey, now: Date): Promise<IssuedBotCert | null> {
    const use = await this.o.resources?.findUse(v.issuer, v.jti);
    if (!use || use.resourceId !== resourceId || !use.instanceId) return null;
    const inst = await this.o.instances.get(use.tenantId, use.instanceId);
    if (!inst || inst.lock || inst.generation !== 1) return null;
    const step = await this.o.instances.step(use.tenantId, inst.id, 1);
    if (!step || step.expiresAt <= now || !sameKey(step.publicKey, pub)) return null;
    const bot = await this.o.bots.getById(use.tenantId, inst.botId);
    if (!bot || activeLock(bot, now)) return null;
    return this.o.certs.reissue(bot, step);
  }

  private async refuseJoin(event: Parameters<RefusalAuditor['refused']>[0], reason: string, subject?: RefusalSubject): Promise<never> {
    const err = refused(INVALID_JOIN_TOKEN, reason, subject);
    await this.refusals.refused(event, err);
    throw err;
  }

  /** Renews in one call (RenewBot); see the class comment for retries and copies. */
  renew(input: RenewInput): Promise<IssuedBotCert> {
    return countOutcome(meziteMetrics.renewals, {}, () => this.renewOnce(input));
  }

  private async renewOnce(input: RenewInput): Promise<IssuedBotCert> {
    const newPub = parsePublicKey(input.newPublicKey);
    const event = { type: 'bot.renew', requestId: input.requestId, source: input.source, credential: 'bot certificate', target: 'bot:?', fallbackReason: 'refused certificate' };
    let cert: SshCertificate;
    let claims: BotCertClaims;
    try {
      ({ cert, claims } = await this.o.certs.check(input.certificate, this.o.revocations));
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) await this.refusals.refused(event, err);
      throw err;
    }
    const instanceId = instanceOf(claims);
    const who: RefusalSubject = { tenantId: claims.tenant, actor: `bot:${claims.bot}`, target: `bot:${claims.bot}`, details: { instance: instanceId, serial: cert.serial.toString() } };
    const proof = { instanceId, generation: claims.gen, serial: cert.serial, newPublicKeyBlob: newPub.blob, timeMs: input.timeMs };
    if (!verifyBotRenewal(cert.subjectKey, proof, input.signature)) {
      const err = refused('the renewal signature does not match the certificate key', 'bad proof of possession', who);
      await this.refusals.refused(event, err);
      throw err;
    }
    const now = this.o.clock.now();
    if (Math.abs(now.getTime() - input.timeMs) > RENEWAL_TIME_WINDOW_MS) {
      const err = refused(`the renewal was signed at ${new Date(input.timeMs).toISOString()}, more than 2 minutes from the server's clock (${now.toISOString()}); check this machine's clock`, 'signed time out of window', who);
      await this.refusals.refused(event, err);
      throw err;
    }
    if (newPub.blob.equals(cert.subjectKey.blob)) throw invalidArgument('a renewal must certify a new key; generate a fresh key pair');
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    if (!bot) throw permissionDenied(`bot "${claims.bot}" no longer exists`);
    const botLock = activeLock(bot, now);
    if (botLock) {
      await this.refusals.refused(event, refused('locked', 'bot locked', who));
      throw permissionDenied(`bot "${bot.name}" is locked: ${botLock.reason || 'no reason given'}`);
    }
    const inst = await this.o.instances.get(claims.tenant, instanceId);
    if (!inst) throw permissionDenied(`this instance of bot "${bot.name}" no longer exists; join again with a new token`);
    if (inst.lock) {
      await this.refusals.refused(event, refused('locked', 'instance locked', who));
      throw permissionDenied(`this instance of bot "${bot.name}" is locked: ${inst.lock.reason}; join again with a new token`);
    }
    return this.moveOn(bot, inst, claims.gen, newPub, input);
  }

  /** Moves the instance from `presented` to the next generation, or answers a repeat of that step. */
  private async moveOn(bot: Bot, inst: BotInstance, presented: number, newPub: SshPublicKey, input: RenewInput): Promise<IssuedBotCert> {
    const next = await this.o.instances.step(bot.tenantId, inst.id, presented + 1);
    if (next) return this.repeated(bot, inst, presented, next, newPub, input, []);
    if (presented !== inst.generation) {
      if (inst.legacyGeneration !== null && presented < inst.legacyGeneration) {
        await this.audit(bot.tenantId, 'bot.renew', `bot:${bot.name}`, `bot:${bot.name}`, 'failure', input.requestId, { reason: 'generation older than the recorded lineage', instance: inst.id, presented: String(presented) });
        throw failedPrecondition(`generation ${presented} of bot "${bot.name}" is older than its newest certificate, issued before the upgrade to bot instances; join again with a new token`);
      }
      // An older generation whose successor is not on record cannot be a retry.
      return this.lockCopied(bot, inst, presented, null, input, []);
    }
    const { issued, step } = await this.o.certs.issue(bot, { instanceId: inst.id, publicKey: newPub, publicKeyLine: input.newPublicKey, requestedTtlMs: input.requestedTtlMs, generation: presented + 1, requestId: input.requestId, address: input.source });
    const ok = await this.o.instances.advance(bot.tenantId, step, { at: this.o.clock.now(), address: input.source, heartbeat: boundedHeartbeat(input.heartbeat) });
    if (!ok) {
      // Another presentation of this generation got there first (or a lock came between).
      const won = await this.o.instances.step(bot.tenantId, inst.id, presented + 1);
      const undelivered = [{ serial: step.serial, expiresAt: step.expiresAt }];
      if (won) return this.repeated(bot, inst, presented, won, newPub, input, undelivered);
      throw failedPrecondition(`this instance of bot "${bot.name}" changed while renewing; retry`);
    }
    await this.recorded(bot.tenantId, 'bot.renew', bot.name, input.requestId, { generation: String(presented + 1), presented: String(presented), instance: inst.id, address: input.source });
    return issued;
  }

  /** A second presentation of `presented`: the same new key is a retry, any other a copy. */
  private async repeated(bot: Bot, inst: BotInstance, presented: number, next: LineageStep, newPub: SshPublicKey, input: RenewInput, undelivered: Array<{ serial: string; expiresAt: Date }>): Promise<IssuedBotCert> {
    if (!sameKey(next.publicKey, newPub)) return this.lockCopied(bot, inst, presented, next, input, undelivered);
    await this.recorded(bot.tenantId, 'bot.renew', bot.name, input.requestId, { generation: String(next.generation), presented: String(presented), instance: inst.id, replay: 'true', address: input.source });
    return this.o.certs.reissue(bot, next);
  }

  private async lockCopied(bot: Bot, inst: BotInstance, presented: number, first: LineageStep | null, input: RenewInput, undelivered: Array<{ serial: string; expiresAt: Date }>): Promise<never> {
    const now = this.o.clock.now();
    const firstFrom = first?.address || 'unknown';
    const reason = `generation ${presented} was presented twice with different keys (from ${firstFrom}, then from ${input.source || 'unknown'}): a copy of this instance's credentials was used`;
    const scope = this.o.copyLockScope ?? 'instance';
    const lock = { reason, lockedAt: now, expiresAt: null, lockedBy: 'mezite' };
    const serials = await this.o.instances.lockAndRevoke(bot.tenantId, inst.id, lock, undelivered, now);
    if (scope === 'bot') await this.o.bots.setLock(bot.tenantId, bot.id, lock);
    this.o.revocations?.invalidate?.();
    await this.audit(bot.tenantId, 'bot.lock', 'mezite', `bot:${bot.name}`, 'success', input.requestId, {
      reason: 'copied credential',
      scope,
      instance: inst.id,
      presented: String(presented),
      first_address: firstFrom,
      second_address: input.source || 'unknown',
      revoked_certificates: String(serials.length),
    });
    await this.audit(bot.tenantId, 'bot.renew', `bot:${bot.name}`, `bot:${bot.name}`, 'failure', input.requestId, { reason: 'generation presented twice', instance: inst.id });
    throw permissionDenied(`this instance of bot "${bot.name}" is locked: ${reason}; an admin must investigate, then join again with a new token`);
  }

  /**
   * Writes the success record of a join or renewal that has committed. A certificate is
   * answered only once its record exists: when the write fails the caller gets
   * Unavailable, and its retry (same key) is answered with the same certificate and
   * records it then.
   */
  private async recorded(tenantId: string, type: string, botName: string, requestId: string, details: Record<string, string>): Promise<void> {
    try {
      await this.audit(tenantId, type, `bot:${botName}`, `bot:${botName}`, 'success', requestId, details);
    } catch (err) {
      throw unavailable('the certificate was issued but could not be recorded; retry with the same key', { cause: err });
    }
  }

  private audit(tenantId: string | null, type: string, actor: string, target: string, result: 'success' | 'failure', requestId: string, details: Record<string, string>): Promise<void> {
    return this.o.audit.record({ tenantId, type, actor, target, result, requestId, details });
  }
}
