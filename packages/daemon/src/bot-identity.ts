import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { internal } from '@mezite/identity';
import { encodePublicKey, parseCertificate, botCertificateClaims } from '@mezite/ssh';

/**
 * What a bot holds after a join or renewal: its private key (generated here, never
 * sent anywhere), the certificate the auth server issued for it, and what a client
 * needs to use it. Validity comes from the certificate itself, not the response.
 */
export interface BotIdentity {
  botName: string;
  /**
   * The bot instance (one machine's lineage, created by its join) the certificate
   * belongs to: from the auth server's answer, else the certificate's claims.
   */
  instanceId: string;
  /** 1 after a join, +1 per renewal; the server detects a copied credential by it. */
  generation: number;
  privateKey: KeyObject;
  /** The OpenSSH user certificate, one line without a line break. */
  certificate: string;
  principals: string[];
  /** Host CA keys (`<type> <base64>`), for `@cert-authority` lines in known_hosts. */
  hostCertAuthorities: string[];
  /** User CA keys; informational for a bot. */
  userCertAuthorities: string[];
  validAfter: Date;
  validBefore: Date;
}

/** What the auth server answered to a join or renewal, in domain terms. */
export interface IssuedCertificate {
  certificate: string;
  hostCertAuthorities: string[];
  userCertAuthorities: string[];
  generation: number;
  botName: string;
  principals: string[];
  /** The instance the certificate belongs to; empty when the server did not say. */
  instanceId: string;
}

/** A fresh ECDSA P-256 key pair: what OpenSSH and the auth server both accept, and fast. */
export function generateBotKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

/**
 * Joins an issued certificate with the private key it was requested for, after
 * checking that it is a user certificate for exactly that key and still valid: a
 * certificate we cannot use must never replace one we can.
 */
export function identityFromIssued(issued: IssuedCertificate, privateKey: KeyObject, now: Date): BotIdentity {
  const line = issued.certificate.trim();
  let cert;
  try {
    cert = parseCertificate(line);
  } catch (err) {
    throw internal(`the auth server returned an unreadable certificate: ${(err as Error).message}`, { cause: err });
  }
  if (cert.type !== 'user') throw internal('the auth server returned a host certificate instead of a user certificate');
  if (!cert.subjectKey.blob.equals(encodePublicKey(privateKey))) throw internal('the auth server certified a different public key than the one sent');
  if (cert.validBefore.getTime() <= now.getTime()) throw internal(`the auth server returned a certificate that expired at ${cert.validBefore.toISOString()}`);
  if (!Number.isSafeInteger(issued.generation) || issued.generation < 1) throw internal(`the auth server returned an invalid generation ${issued.generation}`);
  return {
    botName: issued.botName,
    instanceId: issued.instanceId || (botCertificateClaims(cert).instanceId ?? ''),
    generation: issued.generation,
    privateKey,
    certificate: line,
    principals: issued.principals.length > 0 ? [...issued.principals] : [...cert.principals],
    hostCertAuthorities: issued.hostCertAuthorities.map((k) => k.trim()).filter(Boolean),
    userCertAuthorities: issued.userCertAuthorities.map((k) => k.trim()).filter(Boolean),
    validAfter: cert.validAfter,
    validBefore: cert.validBefore,
  };
}

/** Whether the identity can still be renewed at `now` (a renewal presents the certificate). */
export function isUsable(identity: BotIdentity | undefined, now: Date): boolean {
  return identity !== undefined && identity.validBefore.getTime() > now.getTime();
}

/**
 * How far the auth server backdates a certificate's validity for clock skew (ssh-ca's
 * CLOCK_SKEW_SECONDS): its life as issued starts this much after `validAfter`.
 */
export const ISSUE_SKEW_MS = 60_000;

/**
 * When the certificate was issued: `validAfter` plus the backdating, but never more
 * than half-way into the validity (a short certificate from a CA that does not backdate).
 */
export function issuedAt(identity: BotIdentity): Date {
  const after = identity.validAfter.getTime();
  return new Date(after + Math.min(ISSUE_SKEW_MS, Math.floor((identity.validBefore.getTime() - after) / 2)));
}

/**
 * The latest time a renewal should happen: two thirds into the certificate's life as
 * issued, leaving a third of it for retries when the auth server is down. Counted from
 * issuance, not from the backdated `validAfter`: from there a 1-minute certificate
 * (valid for 2 minutes) was renewed every 20 s instead of every 40 s, twice the load.
 */
export function renewBy(identity: BotIdentity): Date {
  const start = issuedAt(identity).getTime();
  return new Date(start + Math.floor(((identity.validBefore.getTime() - start) * 2) / 3));
}
