import { allowedLogins, clampTtl, failedPrecondition, grantsOf, invalidArgument, type Role } from '@mezite/identity';
import { CLAIMS_EXTENSION, fingerprintSha256, parseCertificate, verifyCertificateSignature, type SshCertificate, type SshPublicKey } from '@mezite/ssh';
import type { Bot } from './bot';
import type { LineageStep } from './bot-instance';
import type { CertAuthorityClient } from './cert-authority-client';
import { refused, type RefusalSubject } from './refusal';
import type { RoleManager } from './role-manager';

/** The certificate extension carrying who the certificate belongs to (signed by the CA). */
export const MEZITE_EXTENSION = CLAIMS_EXTENSION;
/** The lifetime of a bot certificate when the daemon asks for none. */
export const DEFAULT_CERT_TTL_MS = 3600_000;

/** What the Mezite extension says. */
export interface BotCertClaims {
  v: 1;
  bot: string;
  bot_id: string;
  /** The instance (lineage); absent in certificates issued before instances existed (then `bot_id` names it). */
  inst?: string;
  tenant: string;
  roles: string[];
  gen: number;
  /** What the roles allow and deny, so a node decides a login offline (`mezd authorized-principals`). */
  grants?: ReturnType<typeof grantsOf>;
}

/** The instance a certificate belongs to. */
export function instanceOf(claims: BotCertClaims): string {
  return typeof claims.inst === 'string' ? claims.inst : claims.bot_id;
}

/**
 * Checks that a parsed certificate is a user certificate signed by one of the trusted
 * User CAs (`<type> <base64>` lines) and carries well-formed bot claims; `refuse(reason,
 * subject?)` makes the error. Only after the CA's signature is verified are the claims
 * trusted, and named in the refusal's subject.
 */
export function verifiedBotClaims(cert: SshCertificate, trustedUserCas: string[], refuse: (reason: string, subject?: RefusalSubject) => Error): { claims: BotCertClaims; who: RefusalSubject } {
  if (cert.type !== 'user') throw refuse('not a user certificate');
  const trusted = trustedUserCas.map((k) => Buffer.from(k.split(' ')[1] ?? '', 'base64'));
  if (!trusted.some((t) => t.equals(cert.signatureKey.blob))) throw refuse('not issued by a trusted CA');
  if (!verifyCertificateSignature(cert)) throw refuse('bad certificate signature');
  let claims: BotCertClaims;
  try {
    claims = JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '') as BotCertClaims;
  } catch {
    throw refuse('not a bot certificate');
  }
  if (claims?.v !== 1 || typeof claims.bot_id !== 'string' || typeof claims.tenant !== 'string' || !Number.isSafeInteger(claims.gen) || (claims.inst !== undefined && typeof claims.inst !== 'string')) throw refuse('not a bot certificate');
  return { claims, who: { tenantId: claims.tenant, actor: `bot:${claims.bot}`, target: `bot:${claims.bot}`, details: { serial: cert.serial.toString(), instance: instanceOf(claims) } } };
}

/** A certificate for a bot, and what the daemon needs to use it. */
export interface IssuedBotCert {
  certificate: string;
  hostCertAuthorities: string[];
  userCertAuthorities: string[];
  generation: number;
  botName: string;
  instanceId: string;
  expiresAt: Date;
  principals: string[];
}

/**
 * Signs bot certificates (principals, lifetime and claims from the bot's roles) and
 * checks presented ones. Shared by joins and renewals.
 */
export class BotCertificates {
  constructor(private readonly o: { roles: Pick<RoleManager, 'resolve'>; ca: CertAuthorityClient; clock: { now(): Date }; maxCertTtlMs?: number }) {}

  /**
   * The lifetime granted: what was asked (1 h when nothing), at most the bot's own cap
   * (the server's default cap, 1 h, when the bot has none), at most every role's
   * max_session_ttl.
   */
  grantedTtl(bot: Bot, roles: Role[], requestedMs: number): number {
    const requested = requestedMs > 0 ? requestedMs : DEFAULT_CERT_TTL_MS;
    if (requested < 60_000) throw invalidArgument('certificate TTL must be at least 1m');
    const cap = bot.maxCertTtlMs ?? this.o.maxCertTtlMs ?? DEFAULT_CERT_TTL_MS;
    return clampTtl(Math.min(requested, cap), roles);
  }

  /** Has ssh-ca sign generation `generation` of `instanceId` for `publicKey`; returns the certificate and its lineage step. */
  async issue(bot: Bot, input: { instanceId: string; publicKey: SshPublicKey; publicKeyLine: string; requestedTtlMs: number; generation: number; requestId: string; address: string; roles?: Role[] }): Promise<{ issued: IssuedBotCert; step: LineageStep }> {
    const roles = input.roles ?? (await this.rolesOf(bot));
    const principals = allowedLogins(roles);
    if (principals.length === 0) throw failedPrecondition(`the roles of bot "${bot.name}" allow no logins`);
    const ttlMs = this.grantedTtl(bot, roles, input.requestedTtlMs);
    const extensions: Record<string, string> = {};
    for (const e of new Set(roles.flatMap((r) => r.options.sshExtensions))) extensions[e] = '';
    const claims: BotCertClaims = { v: 1, bot: bot.name, bot_id: bot.id, inst: input.instanceId, tenant: bot.tenantId, roles: bot.roles, gen: input.generation, grants: grantsOf(roles) };
    extensions[MEZITE_EXTENSION] = JSON.stringify(claims);
    const signed = await this.o.ca.sign({ type: 'user', publicKey: input.publicKeyLine, keyId: `bot:${bot.name}`, principals, ttlMs, extensions, tenantId: bot.tenantId, subjectId: bot.id, requestId: input.requestId });
    const step: LineageStep = {
      instanceId: input.instanceId,
      generation: input.generation,
      publicKey: `${input.publicKey.type} ${input.publicKey.blob.toString('base64')}`,
      keyFingerprint: fingerprintSha256(input.publicKey.blob),
      serial: signed.serial,
      certificate: signed.certificate,
      issuedAt: this.o.clock.now(),
      expiresAt: signed.validBefore,
      address: input.address,
      requestId: input.requestId,
    };
    return { issued: await this.withAuthorities({ certificate: signed.certificate, generation: input.generation, botName: bot.name, instanceId: input.instanceId, expiresAt: signed.validBefore, principals }), step };
  }

  /** The bot's roles (read before a join's transaction, which must not wait for a second connection). */
  async rolesOf(bot: Bot): Promise<Role[]> {
    return ((await this.o.roles.resolve(bot.tenantId, bot.roles)) as Array<{ role: Role }>).map((s) => s.role);
  }

  /** The answer for a step issued before (a retried join or renewal gets the same certificate). */
  async reissue(bot: Bot, step: LineageStep): Promise<IssuedBotCert> {
    const cert = parseCertificate(step.certificate);
    return this.withAuthorities({ certificate: step.certificate, generation: step.generation, botName: bot.name, instanceId: step.instanceId, expiresAt: step.expiresAt, principals: [...cert.principals] });
  }

  private async withAuthorities(c: Omit<IssuedBotCert, 'hostCertAuthorities' | 'userCertAuthorities'>): Promise<IssuedBotCert> {
    const [host, user] = await Promise.all([this.o.ca.publicKeys('host'), this.o.ca.publicKeys('user')]);
    return { ...c, hostCertAuthorities: host, userCertAuthorities: user };
  }

  /**
   * Parses a presented certificate and checks it is a live user certificate of this
   * cluster for a bot. Every refusal has one message; why is a Refusal (refusal.ts).
   */
  async check(line: string, revocations?: { isCertificateRevoked(serial: string, subjectId: string): Promise<boolean> }): Promise<{ cert: SshCertificate; claims: BotCertClaims }> {
    const refuse = (reason: string, subject?: RefusalSubject) => refused('the certificate was not issued by this cluster or has expired', reason, subject);
    // Unreadable input is InvalidArgument (the parser's), not a refusal to audit.
    const cert = parseCertificate(line);
    const { claims, who } = verifiedBotClaims(cert, await this.o.ca.publicKeys('user'), refuse);
    const now = this.o.clock.now();
    if (cert.validAfter > now) throw refuse('not yet valid', who);
    if (cert.validBefore <= now) throw refuse('expired', who);
    if (await revocations?.isCertificateRevoked(cert.serial.toString(), claims.bot_id)) throw refuse('revoked', who);
    return { cert, claims };
  }
}
