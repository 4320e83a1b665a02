import { type KeyObject, randomFillSync } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { type CertOptions, encodeCertOptions } from './cert-options';
import { CERT_TYPE_CODES, CERT_TYPE_SUFFIX, type CertificateType, MAX_PRINCIPALS } from './parse-certificate';
import { isSshKeyType, joinKeyLine, parsePublicKeyBlob, type SshPublicKey } from './public-key';
import { sshSigner } from './ssh-signature';
import { SshWriter } from './wire';

export {
  CERT_TYPE_SUFFIX,
  type CertificateType,
  MAX_PRINCIPALS,
  parseCertificate,
  type SshCertificate,
  verifyCertificateSignature,
} from './parse-certificate';
export type { CertOptions } from './cert-options';

/** The CA that signs: its private key (Ed25519 or ECDSA P-256/384/521; RSA signs rsa-sha2-512). */
export interface CertificateAuthoritySigner {
  key: KeyObject;
}

/** What to certify. Validity is `validAfter <= now < validBefore`, in whole seconds. */
export interface SignCertificateOptions {
  ca: CertificateAuthoritySigner;
  /** The key to certify: a key blob (validated here) or a key parsed by `parsePublicKey`. */
  subjectKey: Buffer | SshPublicKey;
  type: CertificateType;
  serial: bigint;
  /** Free text OpenSSH logs on every use; one line, not empty. */
  keyId: string;
  /** Users or hosts the certificate is for; at least one (an empty list would mean "anyone"). */
  principals: readonly string[];
  validAfter: Date;
  validBefore: Date;
  /** e.g. `{ 'force-command': '/usr/bin/backup', 'source-address': '10.0.0.0/8' }`. */
  criticalOptions?: CertOptions;
  /** e.g. `{ 'permit-pty': '' }`; flags have an empty value. */
  extensions?: CertOptions;
  /** 16–256 bytes; 32 random bytes when omitted. Only tests should set it. */
  nonce?: Buffer;
}

/** A signed certificate, as a line for a `*-cert.pub` file and as its blob. */
export interface SignedCertificate {
  /** `<type>-cert-v01@openssh.com <base64> <keyId>` */
  line: string;
  blob: Buffer;
}

/**
 * Builds and signs an OpenSSH certificate (PROTOCOL.certkeys) with Node's crypto. The
 * certified key's fields are copied from its blob after the nonce, so subject keys of
 * any supported type cost the same; the CA's public blob is encoded once per KeyObject.
 * Bad input is `InvalidArgument`.
 */
export function signCertificate(opts: SignCertificateOptions): SignedCertificate {
  const subject = Buffer.isBuffer(opts.subjectKey) ? parsePublicKeyBlob(opts.subjectKey) : opts.subjectKey;
  if (!subject || !Buffer.isBuffer(subject.blob) || !isSshKeyType(subject.type)) throw invalidArgument('subject key is not a supported public key');
  // The blob starts with string(type): compared as bytes (types are ASCII), no decoder.
  const bodyStart = 4 + subject.type.length;
  if (subject.blob.length < bodyStart || subject.blob.readUInt32BE(0) !== subject.type.length || subject.blob.toString('latin1', 4, bodyStart) !== subject.type) {
    throw invalidArgument('subject key blob does not match its type');
  }
  if (!Object.hasOwn(CERT_TYPE_CODES, opts.type)) throw invalidArgument('certificate type must be "user" or "host"');
  const code = CERT_TYPE_CODES[opts.type];
  if (typeof opts.serial !== 'bigint') throw invalidArgument('serial must be a bigint');
  checkText(opts.keyId, 'key id');
  const principals = new SshWriter();
  if (!Array.isArray(opts.principals) || opts.principals.length === 0) throw invalidArgument('a certificate needs at least one principal');
  if (opts.principals.length > MAX_PRINCIPALS) throw invalidArgument(`a certificate may name at most ${MAX_PRINCIPALS} principals`);
  for (const p of opts.principals) principals.string(checkText(p, 'principal'));
  const after = toSeconds(opts.validAfter, 'validAfter');
  const before = toSeconds(opts.validBefore, 'validBefore');
  if (before <= after) throw invalidArgument('validBefore must be after validAfter');
  const nonce = opts.nonce ?? freshNonce();
  if (nonce.length < 16 || nonce.length > 256) throw invalidArgument('nonce must be 16 to 256 bytes');
  const signer = sshSigner(opts.ca.key);
  const keyType = subject.type + CERT_TYPE_SUFFIX;
  // One buffer for the whole certificate: the signed part, then its signature appended.
  const w = new SshWriter(1536 + subject.blob.length)
    .string(keyType)
    .string(nonce)
    .raw(subject.blob.subarray(bodyStart))
    .uint64(opts.serial)
    .uint32(code)
    .string(opts.keyId)
    .string(principals.toBuffer())
    .uint64(after)
    .uint64(before)
    .string(encodeCertOptions(opts.criticalOptions, 'critical options'))
    .string(encodeCertOptions(opts.extensions, 'extensions'))
    .string(Buffer.alloc(0)) // reserved
    .string(signer.publicBlob);
  const signature = signer.sign(w.toBuffer());
  const blob = w.string(signature).toBuffer();
  return { line: joinKeyLine(keyType, blob, opts.keyId), blob };
}

// A call into OpenSSL's RNG costs ~5–10 µs, a large share of the encoding, so nonces
// are cut from a pool refilled every 128 certificates; each byte is handed out once.
const noncePool = Buffer.alloc(4096);
let noncePoolOffset = noncePool.length;

/** 32 fresh random bytes, valid until the next call (the encoder copies them at once). */
function freshNonce(): Buffer {
  if (noncePoolOffset + 32 > noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  noncePoolOffset += 32;
  return noncePool.subarray(noncePoolOffset - 32, noncePoolOffset);
}

function checkText(s: string, what: string): string {
  if (typeof s !== 'string' || s === '') throw invalidArgument(`${what} must be a non-empty string`);
  if (/[\0-\x1f\x7f]/.test(s)) throw invalidArgument(`${what} must not contain control characters`);
  return s;
}

function toSeconds(d: Date, what: string): bigint {
  const ms = d instanceof Date ? d.getTime() : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw invalidArgument(`${what} must be a valid date after 1970`);
  return BigInt(Math.floor(ms / 1000));
}
