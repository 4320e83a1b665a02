import type { Clock, Principal } from '@mezite/identity';
import { parseCertAuthCredential, parseCertificate, verifyCertAuth, verifyCertificateSignature } from '@mezite/ssh';
import { activeLock, type BotStore } from './bot';
import type { CertAuthorityClient } from './cert-authority-client';
import { MEZITE_EXTENSION, type BotCertClaims } from './join-manager';
import { refused, type RefusalSubject } from './refusal';

/** How far the signing time of a certificate credential may be from the server's clock. */
export const CERT_AUTH_WINDOW_SECONDS = 300;

/**
 * Authenticates a call made with a bot's SSH certificate (`authorization: SshCert …`,
 * made by msh): the certificate must be a live user certificate of a trusted User CA
 * with the Mezite extension, the signature over the signing time must be by its key,
 * the time within ±5 minutes, and the bot must exist, be unlocked and not replaced by
 * a newer join. The principal gets no API roles: a bot's SSH roles never make it an
 * admin of the API, whatever they are called.
 */
export class CertAuthenticator {
  constructor(private readonly o: { ca: Pick<CertAuthorityClient, 'publicKeys'>; bots: Pick<BotStore, 'getById'>; clock: Clock; revocations?: { isCertificateRevoked(serial: string, subjectId: string): Promise<boolean> } }) {}

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
    if (cert.type !== 'user') throw refuse('not a user certificate');
    const trusted = (await this.o.ca.publicKeys('user')).map((k) => Buffer.from(k.split(' ')[1] ?? '', 'base64'));
    if (!trusted.some((t) => t.equals(cert.signatureKey.blob))) throw refuse('not issued by a trusted CA');
    if (!verifyCertificateSignature(cert)) throw refuse('bad certificate signature');
    // From here the certificate is the CA's: what it says can be trusted (and named in the record).
    let claims: BotCertClaims;
    try {
      claims = JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '') as BotCertClaims;
    } catch {
      throw refuse('not a bot certificate');
    }
    if (claims?.v !== 1 || typeof claims.bot_id !== 'string' || typeof claims.tenant !== 'string' || !Number.isSafeInteger(claims.gen)) throw refuse('not a bot certificate');
    const who: RefusalSubject = { tenantId: claims.tenant, actor: `bot:${claims.bot}`, target: `bot:${claims.bot}`, details: { serial: cert.serial.toString() } };
    if (cert.validAfter > now) throw refuse('not yet valid', who);
    if (cert.validBefore <= now) throw refuse('expired', who);
    if (!verifyCertAuth(cert.subjectKey, parsed.certBlob, parsed.unixSeconds, parsed.signature)) throw refuse('bad proof of possession', who);
    if (await this.o.revocations?.isCertificateRevoked(cert.serial.toString(), claims.bot_id)) throw refuse('revoked', who);
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    if (!bot) throw refuse('bot removed', who);
    if (activeLock(bot, now)) throw refuse('bot locked', who);
    if (claims.gen < bot.joinGeneration) throw refuse('replaced by a newer join', who);
    return { kind: 'service', id: bot.id, tenantId: bot.tenantId, name: `bot:${bot.name}`, authMethod: 'bot-certificate', roles: [] };
  }
}
