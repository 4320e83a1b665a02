import type { KeyObject } from 'node:crypto';
import { sshSigner, verifySshSignature } from './ssh-signature';
import type { SshPublicKey } from './public-key';
import { SshWriter } from './wire';

const CONTEXT = Buffer.from('mezite-renewal-v1\0');

/**
 * What a node signs to renew its host certificate: a domain-separation prefix (so the
 * signature cannot be replayed as anything else, e.g. an SSH user-auth signature), the
 * server's single-use challenge, and the new public key's blob (so an interceptor
 * cannot swap in its own key).
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

/** What a bot's one-call renewal (RenewBot) proves it holds and asks for. */
export interface BotRenewalProof {
  /** The instance named by the presented certificate. */
  instanceId: string;
  /** The presented certificate's generation. */
  generation: number;
  /** The presented certificate's serial. */
  serial: bigint;
  /** The key to certify next (SSH public key blob). */
  newPublicKeyBlob: Buffer;
  /** When the bot signed, in milliseconds since the epoch (the server accepts ±2 min). */
  timeMs: number;
}

const BOT_RENEWAL_CONTEXT = 'mezite-bot-renewal-v2';

/**
 * The bytes a bot signs for RenewBot: SSH wire encoding of a context string that no
 * other Mezite or SSH signature starts with, then every field as a length-prefixed
 * string or fixed-size integer, so no two different requests encode alike. Binding
 * the serial and generation ties the proof to one certificate; binding the new key
 * stops an interceptor from swapping in its own; the time bounds replays (which the
 * server answers idempotently anyway).
 */
export function botRenewalSignedData(p: BotRenewalProof): Buffer {
  if (!Number.isSafeInteger(p.generation) || p.generation < 0) throw new RangeError(`generation out of range: ${p.generation}`);
  if (!Number.isSafeInteger(p.timeMs) || p.timeMs < 0) throw new RangeError(`time out of range: ${p.timeMs}`);
  return new SshWriter(160 + p.newPublicKeyBlob.length)
    .string(BOT_RENEWAL_CONTEXT)
    .string(p.instanceId)
    .uint64(BigInt(p.generation))
    .uint64(p.serial)
    .string(p.newPublicKeyBlob)
    .uint64(BigInt(p.timeMs))
    .toBuffer();
}

/** Signs a bot renewal with the current private key (SSH signature blob). */
export function signBotRenewal(currentKey: KeyObject, p: BotRenewalProof): Buffer {
  return sshSigner(currentKey).sign(botRenewalSignedData(p));
}

/** Checks a bot renewal signature against the presented certificate's key. */
export function verifyBotRenewal(currentKey: SshPublicKey, p: BotRenewalProof, signature: Buffer): boolean {
  let data: Buffer;
  try {
    data = botRenewalSignedData(p);
  } catch {
    return false;
  }
  return verifySshSignature(currentKey, data, signature);
}
