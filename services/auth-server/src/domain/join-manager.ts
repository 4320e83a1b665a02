import { randomBytes, randomUUID } from 'node:crypto';
import {
  allowedLogins,
  clampTtl,
  grantsOf,
  failedPrecondition,
  invalidArgument,
  isMeziteError,
  permissionDenied,
  unauthenticated,
  type Clock,
  type Role,
} from '@mezite/identity';
import { countOutcome, meziteMetrics, nullLogger } from '@mezite/platform';
import { parseCertificate, parsePublicKey, verifyCertificateSignature, verifyRenewal, type SshCertificate } from '@mezite/ssh';
import type { AuditLog } from './audit';
import { activeLock, type Bot, type BotStore } from './bot';
import type { CertAuthorityClient } from './cert-authority-client';
import type { JoinTokenMinter } from './join-token-minter';
import { refused, type RefusalSubject } from './refusal';
import { RefusalAuditor } from './refusal-auditor';
import type { RenewalChallengeStore } from './renewal-challenge';
import type { RoleManager } from './role-manager';

/** The certificate extension carrying who the certificate belongs to (signed by the CA). */
export const MEZITE_EXTENSION = 'mezite@mezite.dev';
/** Default and longest certificate lifetimes a bot may ask for. */
export const DEFAULT_CERT_TTL_MS = 3600_000;
const CHALLENGE_TTL_MS = 60_000;
const JOIN_TOKEN = /^tok-(bot|node)-[0-9a-f]{32}$/;

/** What the Mezite extension says. */
export interface BotCertClaims {
  v: 1;
  bot: string;
  bot_id: string;
  tenant: string;
  roles: string[];
  gen: number;
  /** What the roles allow and deny, so a node decides a login offline (`mezd authorized-principals`). */
  grants?: ReturnType<typeof grantsOf>;
}

/** A certificate for a bot, and what the daemon needs to use it. */
export interface IssuedBotCert {
  certificate: string;
  hostCertAuthorities: string[];
  userCertAuthorities: string[];
  generation: number;
  botName: string;
  expiresAt: Date;
  principals: string[];
}

/** Options of JoinManager. */
export interface JoinManagerOptions {
  bots: BotStore;
  roles: Pick<RoleManager, 'resolve'>;
  joinTokens: JoinTokenMinter;
  ca: CertAuthorityClient;
  challenges: RenewalChallengeStore;
  audit: AuditLog;
  clock: Clock;
  /** Certificates revoked by serial (or with their bot) are refused for renewal. */
  revocations?: { isCertificateRevoked(serial: string, subjectId: string): Promise<boolean> };
  /**
   * Audits certificates refused at BeginRenewal, bounded per source (anyone may call
   * it). Default: one on `audit` with the default bounds that logs nothing when a record
   * cannot be written; main.ts passes the one shared with bearer refusals.
   */
  refusals?: Pick<RefusalAuditor, 'refused'>;
}

/**
 * Joins and renewals of bots. A join redeems a one-time token exactly once (claim →
 * sign → commit generation → confirm; any failure releases the claim, so no token is
 * consumed without a certificate). A renewal proves possession of the current key and
 * certificate and moves the bot's generation forward; an older generation means a
 * copied credential and locks the bot.
 */
export class JoinManager {
  private readonly refusals: Pick<RefusalAuditor, 'refused'>;

  constructor(private readonly o: JoinManagerOptions) {
    for (const k of ['bots', 'roles', 'joinTokens', 'ca', 'challenges', 'audit', 'clock'] as const) if (!o[k]) throw new Error(`JoinManager: ${k} is required`);
    this.refusals = o.refusals ?? new RefusalAuditor({ audit: o.audit, clock: o.clock, log: nullLogger });
  }

  /** Redeems a join token for a certificate on `publicKey`. */
  join(input: { joinToken: string; publicKey: string; requestedTtlMs: number; requestId: string }): Promise<IssuedBotCert> {
    return countOutcome(meziteMetrics.joins, {}, () => this.redeem(input));
  }

  private async redeem(input: { joinToken: string; publicKey: string; requestedTtlMs: number; requestId: string }): Promise<IssuedBotCert> {
    const pub = parsePublicKey(input.publicKey);
    const refused = unauthenticated('invalid join token');
    if (!JOIN_TOKEN.test(input.joinToken)) {
      await this.audit(null, 'bot.join', 'anonymous', 'bot:?', 'failure', input.requestId, { reason: 'malformed token' });
      throw refused;
    }
    let claim;
    try {
      claim = await this.o.joinTokens.claim(input.joinToken, input.requestId);
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) {
        await this.audit(null, 'bot.join', 'anonymous', 'bot:?', 'failure', input.requestId, { reason: 'unknown, expired, used or revoked token' });
        throw refused;
      }
      throw err;
    }
    let bot: Bot | null = null;
    try {
      if (claim.subjectKind !== 'bot') throw refused;
      bot = await this.o.bots.getById(claim.tenantId, claim.subjectId);
      if (!bot) throw refused;
      const lock = activeLock(bot, this.o.clock.now());
      if (lock) throw permissionDenied(`bot "${bot.name}" is locked: ${lock.reason || 'no reason given'}`);
      const generation = bot.generation + 1;
      const issued = await this.issue(bot, pub.blob, input.publicKey, input.requestedTtlMs, generation, input.requestId);
      const ok = await this.o.bots.advanceGeneration(bot.tenantId, bot.id, bot.generation, {
        generation,
        lastPresentedGeneration: null,
        joinGeneration: generation,
        lastSeenAt: this.o.clock.now(),
        certExpiresAt: issued.expiresAt,
      });
      if (!ok) throw failedPrecondition(`bot "${bot.name}" joined or renewed concurrently; try again`);
      await this.audit(bot.tenantId, 'bot.join', `bot:${bot.name}`, `bot:${bot.name}`, 'success', input.requestId, { generation: String(generation), token_id: claim.tokenId });
      await this.o.joinTokens.confirm(claim.claimId, input.requestId);
      return issued;
    } catch (err) {
      await this.o.joinTokens.release(claim.claimId, input.requestId).catch(() => undefined);
      const name = bot?.name ?? '?';
      await this.audit(claim.tenantId, 'bot.join', `bot:${name}`, `bot:${name}`, 'failure', input.requestId, { reason: (err as Error).message }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Checks a presented certificate and returns a single-use challenge for it, bound to
   * the bot's generation now: completing it may only move the bot on from there. A
   * refused certificate gets one answer whatever the reason; the reason goes to the
   * audit log (`bot.renew`, failure), bounded per `source`.
   */
  async beginRenewal(input: { certificate: string; requestId: string; source?: string }): Promise<{ challengeId: string; challenge: Buffer; expiresAt: Date }> {
    let claims: BotCertClaims;
    try {
      ({ claims } = await this.checkCertificate(input.certificate));
    } catch (err) {
      if (isMeziteError(err, 'Unauthenticated')) {
        await this.refusals.refused({ type: 'bot.renew', requestId: input.requestId, source: input.source ?? 'unknown', credential: 'bot certificate', target: 'bot:?', fallbackReason: 'refused certificate' }, err);
      }
      throw err;
    }
    const now = this.o.clock.now();
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    const c = {
      id: randomUUID(),
      botId: claims.bot_id,
      tenantId: claims.tenant,
      challenge: randomBytes(32),
      certificate: input.certificate.trim(),
      presentedGeneration: claims.gen,
      ...(bot ? { botGeneration: bot.generation } : {}),
      expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS),
    };
    await this.o.challenges.create(c);
    return { challengeId: c.id, challenge: c.challenge, expiresAt: c.expiresAt };
  }

  /** Proves possession with the challenge signature and returns a certificate for the new key. */
  completeRenewal(input: { challengeId: string; signature: Buffer; newPublicKey: string; requestedTtlMs: number; requestId: string }): Promise<IssuedBotCert> {
    return countOutcome(meziteMetrics.renewals, {}, () => this.renew(input));
  }

  private async renew(input: { challengeId: string; signature: Buffer; newPublicKey: string; requestedTtlMs: number; requestId: string }): Promise<IssuedBotCert> {
    const newPub = parsePublicKey(input.newPublicKey);
    if (!/^[0-9a-f-]{36}$/.test(input.challengeId)) throw unauthenticated('unknown or expired renewal challenge');
    const ch = await this.o.challenges.consume(input.challengeId, this.o.clock.now());
    if (!ch || (ch.subjectKind ?? 'bot') !== 'bot') throw unauthenticated('unknown or expired renewal challenge');
    // BeginRenewal verified this certificate and stored it with the challenge: its CA
    // signature is not checked again (a verification and a key import per renewal);
    // trust, validity and revocation are, since they may have changed meanwhile.
    const { cert, claims } = await this.checkCertificate(ch.certificate, { signatureVerified: true });
    if (newPub.blob.equals(cert.subjectKey.blob)) throw invalidArgument('a renewal must certify a new key; generate a fresh key pair');
    if (!verifyRenewal(cert.subjectKey, ch.challenge, newPub.blob, input.signature)) {
      await this.audit(claims.tenant, 'bot.renew', `bot:${claims.bot}`, `bot:${claims.bot}`, 'failure', input.requestId, { reason: 'bad proof of possession' });
      throw unauthenticated('the renewal signature does not match the certificate key');
    }
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    if (!bot) throw permissionDenied(`bot "${claims.bot}" no longer exists`);
    const lock = activeLock(bot, this.o.clock.now());
    if (lock) {
      await this.audit(bot.tenantId, 'bot.renew', `bot:${bot.name}`, `bot:${bot.name}`, 'failure', input.requestId, { reason: 'locked' });
      throw permissionDenied(`bot "${bot.name}" is locked: ${lock.reason || 'no reason given'}`);
    }
    const g = ch.presentedGeneration;
    if (g < bot.joinGeneration) throw failedPrecondition(`this certificate belongs to an instance of bot "${bot.name}" replaced by a newer join; join again`);
    // Another renewal moved the bot on since this challenge was issued: the two were
    // concurrent, and that one won. Not a copy, nor a crash retry (a retry asks for a
    // new challenge after the lost certificate was issued, and is judged below).
    if (ch.botGeneration !== undefined && ch.botGeneration !== bot.generation) throw failedPrecondition(`another renewal of bot "${bot.name}" won; retry`);
    const current = g === bot.generation;
    // A crash between issuing and saving leaves the daemon one generation behind; that
    // is tolerated once, as long as the newest certificate was never presented.
    const crashTolerated = g === bot.generation - 1 && bot.lastPresentedGeneration === g;
    if (!current && !crashTolerated) await this.lockCopied(bot, g, input.requestId);
    const generation = bot.generation + 1;
    const issued = await this.issue(bot, newPub.blob, input.newPublicKey, input.requestedTtlMs, generation, input.requestId);
    const ok = await this.o.bots.advanceGeneration(bot.tenantId, bot.id, bot.generation, {
      generation,
      lastPresentedGeneration: g,
      lastSeenAt: this.o.clock.now(),
      certExpiresAt: issued.expiresAt,
    });
    if (!ok) throw failedPrecondition(`another renewal of bot "${bot.name}" won; retry`);
    await this.audit(bot.tenantId, 'bot.renew', `bot:${bot.name}`, `bot:${bot.name}`, 'success', input.requestId, { generation: String(generation), presented: String(g) });
    return issued;
  }

  private async lockCopied(bot: Bot, presented: number, requestId: string): Promise<never> {
    const reason = `certificate generation mismatch (presented ${presented}, current ${bot.generation}): a copy of this bot's credentials was used`;
    await this.o.bots.setLock(bot.tenantId, bot.id, { reason, lockedAt: this.o.clock.now(), expiresAt: null, lockedBy: 'mezite' });
    await this.audit(bot.tenantId, 'bot.lock', 'mezite', `bot:${bot.name}`, 'success', requestId, { reason });
    await this.audit(bot.tenantId, 'bot.renew', `bot:${bot.name}`, `bot:${bot.name}`, 'failure', requestId, { reason: 'generation mismatch' });
    throw permissionDenied(`bot "${bot.name}" is locked: ${reason}; an admin must investigate and run mezctl bots unlock`);
  }

  /**
   * Parses a presented certificate and checks it is a live user certificate of this
   * cluster for a bot. Every refusal has one message; why is a Refusal (refusal.ts).
   * `signatureVerified`: the certificate comes from our own renewal challenge, whose
   * creation verified its signature.
   */
  private async checkCertificate(line: string, opts: { signatureVerified?: boolean } = {}): Promise<{ cert: SshCertificate; claims: BotCertClaims }> {
    const cert = parseCertificate(line);
    const refuse = (reason: string, subject?: RefusalSubject) => refused('the certificate was not issued by this cluster or has expired', reason, subject);
    if (cert.type !== 'user') throw refuse('not a user certificate');
    const trusted = (await this.o.ca.publicKeys('user')).map((k) => Buffer.from(k.split(' ')[1] ?? '', 'base64'));
    if (!trusted.some((t) => t.equals(cert.signatureKey.blob))) throw refuse('not issued by a trusted CA');
    if (!opts.signatureVerified && !verifyCertificateSignature(cert)) throw refuse('bad certificate signature');
    // From here the certificate is the CA's: what it says can be trusted (and named in the record).
    let claims: BotCertClaims;
    try {
      claims = JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '') as BotCertClaims;
    } catch {
      throw refuse('not a bot certificate');
    }
    if (claims?.v !== 1 || typeof claims.bot_id !== 'string' || typeof claims.tenant !== 'string' || !Number.isSafeInteger(claims.gen)) throw refuse('not a bot certificate');
    const who: RefusalSubject = { tenantId: claims.tenant, actor: `bot:${claims.bot}`, target: `bot:${claims.bot}`, details: { serial: cert.serial.toString() } };
    const now = this.o.clock.now();
    if (cert.validAfter > now) throw refuse('not yet valid', who);
    if (cert.validBefore <= now) throw refuse('expired', who);
    if (await this.o.revocations?.isCertificateRevoked(cert.serial.toString(), claims.bot_id)) throw refuse('revoked', who);
    return { cert, claims };
  }

  /** Computes principals and TTL from the bot's roles and has ssh-ca sign. */
  private async issue(bot: Bot, _blob: Buffer, publicKey: string, requestedTtlMs: number, generation: number, requestId: string): Promise<IssuedBotCert> {
    const roles: Role[] = ((await this.o.roles.resolve(bot.tenantId, bot.roles)) as Array<{ role: Role }>).map((s) => s.role);
    const principals = allowedLogins(roles);
    if (principals.length === 0) throw failedPrecondition(`the roles of bot "${bot.name}" allow no logins`);
    const requested = requestedTtlMs > 0 ? requestedTtlMs : DEFAULT_CERT_TTL_MS;
    if (requested < 60_000) throw invalidArgument('certificate TTL must be at least 1m');
    const ttlMs = clampTtl(requested, roles);
    const extensions: Record<string, string> = {};
    for (const e of new Set(roles.flatMap((r) => r.options.sshExtensions))) extensions[e] = '';
    const claims: BotCertClaims = { v: 1, bot: bot.name, bot_id: bot.id, tenant: bot.tenantId, roles: bot.roles, gen: generation, grants: grantsOf(roles) };
    extensions[MEZITE_EXTENSION] = JSON.stringify(claims);
    const signed = await this.o.ca.sign({ type: 'user', publicKey, keyId: `bot:${bot.name}`, principals, ttlMs, extensions, tenantId: bot.tenantId, subjectId: bot.id, requestId });
    const [host, user] = await Promise.all([this.o.ca.publicKeys('host'), this.o.ca.publicKeys('user')]);
    return { certificate: signed.certificate, hostCertAuthorities: host, userCertAuthorities: user, generation, botName: bot.name, expiresAt: signed.validBefore, principals };
  }

  private audit(tenantId: string | null, type: string, actor: string, target: string, result: 'success' | 'failure', requestId: string, details: Record<string, string>): Promise<void> {
    return this.o.audit.record({ tenantId, type, actor, target, result, requestId, details });
  }
}
