import type { KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { encodePublicKey } from './public-key';
import { sshSigner, verifySshSignature } from './ssh-signature';
import type { SshPublicKey } from './public-key';
import { SshReader, SshWriter } from './wire';

const CONTEXT = 'mezite-bound-keypair-join-v1';
/** The prefix of a bound-keypair join credential (sent where a delegated join sends its ID token). */
export const BOUND_KEYPAIR_CREDENTIAL_PREFIX = 'bkp1.';
/** Longer credentials are refused before decoding (two keys, two signatures, some slack). */
const MAX_CREDENTIAL_LENGTH = 8 * 1024;

/** What a machine states when it joins with its long-lived join key. */
export interface BoundKeypairStatement {
  /** The resource's audience (`mezite:TENANT/NAME`): the proof is good for this resource only. */
  audience: string;
  /** The key the join is to certify (SSH public key blob): an interceptor cannot swap in its own. */
  certPublicKeyBlob: Buffer;
  /** When the machine signed, ms since the epoch (the server accepts ±2 min). */
  timeMs: number;
  /** 16+ random bytes: with the signature, what makes the proof single-use. */
  nonce: Buffer;
  /** The join key that signs (blob). */
  joinKeyBlob: Buffer;
  /** A new join key to bind instead (rotation), or empty. */
  newJoinKeyBlob: Buffer;
}

/** A statement with its signatures: by the join key, and by the new join key when rotating. */
export interface BoundKeypairProof extends Omit<BoundKeypairStatement, 'audience' | 'certPublicKeyBlob'> {
  signature: Buffer;
  newKeySignature: Buffer;
  /** The one-time registration secret a machine trades for binding its join key; empty when none. */
  registrationSecret: string;
}

/**
 * The bytes a join key signs: a context no other Mezite or SSH signature starts with,
 * then every field length-prefixed, so no two statements encode alike.
 */
export function boundKeypairSignedData(s: BoundKeypairStatement): Buffer {
  if (!Number.isSafeInteger(s.timeMs) || s.timeMs < 0) throw invalidArgument(`time out of range: ${s.timeMs}`);
  return new SshWriter(256)
    .string(CONTEXT)
    .string(s.audience)
    .string(s.certPublicKeyBlob)
    .uint64(BigInt(s.timeMs))
    .string(s.nonce)
    .string(s.joinKeyBlob)
    .string(s.newJoinKeyBlob)
    .toBuffer();
}

/**
 * Builds the credential mezd sends to join with its join key (and, to rotate, a new
 * join key that signs the same statement, proving it is held too). The private keys
 * never leave the machine.
 */
export function makeBoundKeypairCredential(o: { joinKey: KeyObject; newJoinKey?: KeyObject; audience: string; certPublicKeyBlob: Buffer; timeMs: number; nonce: Buffer; registrationSecret?: string }): string {
  const joinKeyBlob = encodePublicKey(o.joinKey);
  const newJoinKeyBlob = o.newJoinKey ? encodePublicKey(o.newJoinKey) : Buffer.alloc(0);
  const data = boundKeypairSignedData({ audience: o.audience, certPublicKeyBlob: o.certPublicKeyBlob, timeMs: o.timeMs, nonce: o.nonce, joinKeyBlob, newJoinKeyBlob });
  const signature = sshSigner(o.joinKey).sign(data);
  const newKeySignature = o.newJoinKey ? sshSigner(o.newJoinKey).sign(data) : Buffer.alloc(0);
  const body = new SshWriter(512).string(joinKeyBlob).uint64(BigInt(o.timeMs)).string(o.nonce).string(newJoinKeyBlob).string(signature).string(newKeySignature).string(o.registrationSecret ?? '').toBuffer();
  return BOUND_KEYPAIR_CREDENTIAL_PREFIX + body.toString('base64url');
}

/** Decodes a credential; InvalidArgument when it is not one. Nothing is verified here. */
export function parseBoundKeypairCredential(credential: string): BoundKeypairProof {
  if (credential.length > MAX_CREDENTIAL_LENGTH || !credential.startsWith(BOUND_KEYPAIR_CREDENTIAL_PREFIX)) throw invalidArgument('not a bound-keypair credential');
  const r = new SshReader(Buffer.from(credential.slice(BOUND_KEYPAIR_CREDENTIAL_PREFIX.length), 'base64url'), 'bound-keypair credential');
  const p = { joinKeyBlob: Buffer.from(r.string()), timeMs: r.uint64(), nonce: Buffer.from(r.string()), newJoinKeyBlob: Buffer.from(r.string()), signature: Buffer.from(r.string()), newKeySignature: Buffer.from(r.string()), registrationSecret: r.string().toString('utf8') };
  r.end();
  if (p.timeMs > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument('bound-keypair credential: time out of range');
  if (p.nonce.length < 16 || p.nonce.length > 64) throw invalidArgument('bound-keypair credential: nonce must be 16 to 64 bytes');
  return { ...p, timeMs: Number(p.timeMs) };
}

/** Whether `key` signed the statement (and `newKey`, when given, too). */
export function verifyBoundKeypairStatement(s: BoundKeypairStatement, key: SshPublicKey, signature: Buffer, newKey?: SshPublicKey, newKeySignature?: Buffer): boolean {
  let data: Buffer;
  try {
    data = boundKeypairSignedData(s);
  } catch {
    return false;
  }
  if (!verifySshSignature(key, data, signature)) return false;
  return !newKey || (newKeySignature !== undefined && verifySshSignature(newKey, data, newKeySignature));
}
