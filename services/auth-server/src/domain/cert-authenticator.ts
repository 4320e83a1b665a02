import type { Clock, Principal } from '@mezite/identity';
import { parseCertAuthCredential, parseCertificate, verifyCertAuth } from '@mezite/ssh';
import { activeLock, type BotStore } from './bot';
import { instanceOf, verifiedBotClaims } from './bot-certificates';
import type { BotInstanceStore } from './bot-instance';
import type { CertAuthorityClient } from './cert-authority-client';
import { refused, type RefusalSubject } from './refusal';

/** How far the signing time of a certificate credential may be from the server's clock. */
export const CERT_AUTH_WINDOW_SECONDS = 300;

/**
 * Authenticates a call made with a bot's SSH certificate (`authorization: SshCert …`,
 * made by msh): the certificate must be a live user certificate of a trusted User CA
 * with the Mezite extension, the signature over the signing time must be by its key,
 * the time within ±5 minutes, and the bot and the certificate's instance must exist and be
 * unlocked. The principal gets no API roles: a bot's SSH roles never make it an
 * admin of the API, whatever they are called.
 */
export class CertAuthenticator {
  constructor(private readonly o: { ca: Pick<CertAuthorityClient, 'publicKeys'>; bots: Pick<BotStore, 'getById'>; instances?: Pick<BotInstanceStore, 'get'>; clock: Clock; revocations?: { isCertificateRevoked(serial: string, subjectId: string): Promise<boolean> } }) {}

  /** The principal of a valid credential; otherwise `invalid certificate credential`, with why as a Refusal (refusal.ts) for the audit log. */
  async authenticate(credential: string): Promise<Principal> {
    const refuse = (reason: string, subject?: RefusalSubject) => refused('invalid certificate credential', reason, subject);
    const parsed = parseCertAuthCredential(credential);
    if (!parsed) throw refuse('malformed');
    const now = this.o.clock.now();
    if (Math.abs(now.getTime() / 1000 - parsed.unixSeconds) > CERT_AUTH_WINDOW_SECONDS) throw refuse('signing time out of range');
    let cert;
    try {
      cert = parseCertificate(parsed.certBlob);
    } catch {
      throw refuse('malformed certificate');
    }
    const { claims, who } = verifiedBotClaims(cert, await this.o.ca.publicKeys('user'), refuse);
    if (cert.validAfter > now) throw refuse('not yet valid', who);
    if (cert.validBefore <= now) throw refuse('expired', who);
    if (!verifyCertAuth(cert.subjectKey, parsed.certBlob, parsed.unixSeconds, parsed.signature)) throw refuse('bad proof of possession', who);
    if (await this.o.revocations?.isCertificateRevoked(cert.serial.toString(), claims.bot_id)) throw refuse('revoked', who);
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    if (!bot) throw refuse('bot removed', who);
    if (activeLock(bot, now)) throw refuse('bot locked', who);
    if (this.o.instances) {
      const inst = await this.o.instances.get(claims.tenant, instanceOf(claims));
      if (!inst) throw refuse('instance removed', who);
      if (inst.lock) throw refuse('instance locked', who);
    }
    return { kind: 'service', id: bot.id, tenantId: bot.tenantId, name: `bot:${bot.name}`, authMethod: 'bot-certificate', roles: [] };
  }
}
