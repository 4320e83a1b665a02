import { unauthenticated, type Clock, type Principal } from '@mezite/identity';
import { parseCertAuthCredential, parseCertificate, verifyCertAuth, verifyCertificateSignature } from '@mezite/ssh';
import { activeLock, type BotStore } from './bot';
import type { CertAuthorityClient } from './cert-authority-client';
import { MEZITE_EXTENSION, type BotCertClaims } from './join-manager';

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

  async authenticate(credential: string): Promise<Principal> {
    const refused = unauthenticated('invalid certificate credential');
    const parsed = parseCertAuthCredential(credential);
    if (!parsed) throw refused;
    const now = this.o.clock.now();
    if (Math.abs(now.getTime() / 1000 - parsed.unixSeconds) > CERT_AUTH_WINDOW_SECONDS) throw refused;
    let cert;
    try {
      cert = parseCertificate(parsed.certBlob);
    } catch {
      throw refused;
    }
    if (cert.type !== 'user' || cert.validAfter > now || cert.validBefore <= now) throw refused;
    const trusted = (await this.o.ca.publicKeys('user')).map((k) => Buffer.from(k.split(' ')[1] ?? '', 'base64'));
    if (!trusted.some((t) => t.equals(cert.signatureKey.blob)) || !verifyCertificateSignature(cert)) throw refused;
    if (!verifyCertAuth(cert.subjectKey, parsed.certBlob, parsed.unixSeconds, parsed.signature)) throw refused;
    let claims: BotCertClaims;
    try {
      claims = JSON.parse(cert.extensions[MEZITE_EXTENSION] ?? '') as BotCertClaims;
    } catch {
      throw refused;
    }
    if (claims?.v !== 1 || typeof claims.bot_id !== 'string' || typeof claims.tenant !== 'string' || !Number.isSafeInteger(claims.gen)) throw refused;
    if (await this.o.revocations?.isCertificateRevoked(cert.serial.toString(), claims.bot_id)) throw refused;
    const bot = await this.o.bots.getById(claims.tenant, claims.bot_id);
    if (!bot || activeLock(bot, now) || claims.gen < bot.joinGeneration) throw refused;
    return { kind: 'service', id: bot.id, tenantId: bot.tenantId, name: `bot:${bot.name}`, authMethod: 'bot-certificate', roles: [] };
  }
}
