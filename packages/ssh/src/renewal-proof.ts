import type { KeyObject } from 'node:crypto';
import { sshSigner, verifySshSignature } from './ssh-signature';
import type { SshPublicKey } from './public-key';

const CONTEXT = Buffer.from('mezite-renewal-v1\0');

/**
 * What a bot signs to renew: a domain-separation prefix (so the signature cannot be
 * replayed as anything else, e.g. an SSH user-auth signature), the server's
 * single-use challenge, and the new public key's blob (so an interceptor cannot swap
 * in its own key).
 */
export function renewalSignedData(challenge: Buffer, newPublicKeyBlob: Buffer): Buffer {
  return Buffer.concat([CONTEXT, challenge, newPublicKeyBlob]);
}

/** Signs a renewal challenge with the current private key (SSH signature blob). */
export function signRenewal(currentKey: KeyObject, challenge: Buffer, newPublicKeyBlob: Buffer): Buffer {
  return sshSigner(currentKey).sign(renewalSignedData(challenge, newPublicKeyBlob));
}

/** Checks a renewal signature against the current certificate's public key. */
export function verifyRenewal(currentKey: SshPublicKey, challenge: Buffer, newPublicKeyBlob: Buffer, signature: Buffer): boolean {
  return verifySshSignature(currentKey, renewalSignedData(challenge, newPublicKeyBlob), signature);
}
