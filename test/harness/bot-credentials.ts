/**
 * Bot credentials as the tests make and check them: RenewBot requests signed as mezd
 * signs them, and the hash the auth-server stores for a join token.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import type { authv1 } from '@mezite/proto';
import { botRenewalProof, parseCertificate, signBotRenewal, type BotRenewalProof } from '@mezite/ssh';

/**
 * The proof a bot signs to renew `certificate` for `newPublicKey` (an authorized_keys
 * line) at `timeMs`, read from the certificate as mezd reads it (`botRenewalProof`).
 * `change` alters one field after the fact, for tests of refusals.
 */
export function renewalProof(certificate: string, newPublicKey: string, timeMs: number, change: Partial<BotRenewalProof> = {}): BotRenewalProof {
  return { ...botRenewalProof(parseCertificate(certificate), Buffer.from(newPublicKey.split(' ')[1] ?? '', 'base64'), timeMs), ...change };
}

/**
 * A complete RenewBotRequest, as mezd sends it: the current certificate, the new key,
 * the time and the current key's signature over them. `signWith` and `proof` let a test
 * sign with another key or over other data; `timeMs` defaults to now.
 */
export function renewBotRequest(
  current: { certificate: string; key: KeyObject },
  next: { publicKey: string },
  o: { timeMs?: number; requestedTtlSeconds?: number; signWith?: KeyObject; proof?: Partial<BotRenewalProof> } = {},
): authv1.RenewBotRequest {
  const timeMs = o.timeMs ?? Date.now();
  const proof = renewalProof(current.certificate, next.publicKey, timeMs, o.proof);
  return {
    certificate: current.certificate,
    newPublicKey: next.publicKey,
    time: new Date(timeMs),
    signature: signBotRenewal(o.signWith ?? current.key, proof),
    requestedTtlSeconds: o.requestedTtlSeconds ?? 3600,
    heartbeat: undefined,
  };
}

/**
 * What `auth.join_tokens.token_hash` holds for a join token: HMAC-SHA256 under the
 * join-token key, itself HMAC-SHA256 of the label under the auth-server's session
 * pepper (`secrets.json` `session_pepper`, base64). Computed here independently of the
 * server's code (services/auth-server/src/domain/join-token.ts, joinTokenKey).
 */
export function joinTokenHash(sessionPepperBase64: string, token: string): Buffer {
  const key = createHmac('sha256', Buffer.from(sessionPepperBase64, 'base64')).update('mezite join-token key v1', 'utf8').digest();
  return createHmac('sha256', key).update(token, 'utf8').digest();
}
