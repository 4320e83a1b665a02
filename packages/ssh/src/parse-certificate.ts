import { invalidArgument } from '@mezite/identity';
import { type CertOptions, decodeCertOptions } from './cert-options';
import { isSshKeyType, readKeyBody } from './key-body';
import { parseCaKeyBlob, splitKeyLine, sshPublicKey, type SshPublicKey } from './public-key';
import { verifySshSignature } from './ssh-signature';
import { SshReader, SshWriter } from './wire';

/** Which side of a connection a certificate identifies (SSH_CERT_TYPE_USER / _HOST). */
export type CertificateType = 'user' | 'host';

/** `ssh-ed25519` + this is the certificate key type `ssh-ed25519-cert-v01@openssh.com`. */
export const CERT_TYPE_SUFFIX = '-cert-v01@openssh.com';
/** The wire codes of the certificate types. */
export const CERT_TYPE_CODES: Readonly<Record<CertificateType, number>> = { user: 1, host: 2 };
/** sshd refuses a certificate naming more principals than this (SSHKEY_CERT_MAX_PRINCIPALS). */
export const MAX_PRINCIPALS = 256;
/** Certificates larger than this are refused before parsing. */
export const MAX_CERT_BYTES = 64 * 1024;

/** Every field of an OpenSSH certificate, plus what is needed to check its signature. */
export interface SshCertificate {
  /** The certificate key type, e.g. `ecdsa-sha2-nistp256-cert-v01@openssh.com`. */
  keyType: string;
  nonce: Buffer;
  /** The certified key, with its plain (non-certificate) blob. */
  subjectKey: SshPublicKey;
  serial: bigint;
  type: CertificateType;
  keyId: string;
  /** Empty means "any principal" to OpenSSH. */
  principals: string[];
  /** Validity as Dates; "forever" (2^64-1) is clamped to the largest Date. */
  validAfter: Date;
  validBefore: Date;
  /** Validity exactly as encoded, in seconds since the epoch. */
  validAfterSeconds: bigint;
  validBeforeSeconds: bigint;
  criticalOptions: CertOptions;
  extensions: CertOptions;
  /** The CA key that signed; a caller must check it is a CA it trusts. */
  signatureKey: SshPublicKey;
  /** The name in the signature blob, e.g. `ssh-ed25519` or `rsa-sha2-512`. */
  signatureAlgorithm: string;
  /** The signature blob (`string algorithm, string signature`). */
  signature: Buffer;
  /** The bytes the signature covers: everything before the signature field. */
  signedData: Buffer;
  /** The whole certificate blob. */
  blob: Buffer;
  /** The text after the blob when parsed from a line. */
  comment: string;
}

/**
 * Parses a certificate from its one-line form (`<type>-cert-v01@openssh.com <base64>
 * [comment]`) or its blob. Every malformation is `InvalidArgument` — this runs on
 * certificates presented by clients, so it must be safe on any bytes. It does not check
 * the signature; call {@link verifyCertificateSignature} and then compare the
 * signature key with the trusted CAs.
 */
export function parseCertificate(input: string | Buffer): SshCertificate {
  if (Buffer.isBuffer(input)) return parseBlob(input, '');
  const { type, blob, comment } = splitKeyLine(input, Math.ceil(MAX_CERT_BYTES / 3) * 4 + 1024);
  const cert = parseBlob(blob, comment);
  if (cert.keyType !== type) throw invalidArgument(`certificate line says ${type} but its blob holds ${cert.keyType}`);
  return cert;
}

/**
 * True when the certificate's signature verifies under its own signature key. This
 * proves only that the holder of `signatureKey` signed it: the caller decides whether
 * that key is a CA it trusts, and checks validity and principals itself.
 */
export function verifyCertificateSignature(cert: SshCertificate): boolean {
  return verifySshSignature(cert.signatureKey, cert.signedData, cert.signature);
}

function parseBlob(blob: Buffer, comment: string): SshCertificate {
  if (blob.length > MAX_CERT_BYTES) throw invalidArgument('certificate is too large');
  const r = new SshReader(blob, 'certificate');
  const keyType = r.text();
  const base = keyType.endsWith(CERT_TYPE_SUFFIX) ? keyType.slice(0, -CERT_TYPE_SUFFIX.length) : '';
  if (!isSshKeyType(base)) throw invalidArgument(`unsupported certificate type ${JSON.stringify(keyType.slice(0, 64))}`);
  const nonce = r.string();
  const bodyStart = r.position;
  const loadKey = readKeyBody(r, base);
  const subjectBlob = new SshWriter().string(base).raw(blob.subarray(bodyStart, r.position)).toBuffer();
  const serial = r.uint64();
  const code = r.uint32();
  const type = code === 1 ? 'user' : code === 2 ? 'host' : undefined;
  if (!type) throw invalidArgument(`unknown certificate type ${code}`);
  const keyId = r.text();
  const principals = readPrincipals(r.string());
  const validAfterSeconds = r.uint64();
  const validBeforeSeconds = r.uint64();
  const criticalOptions = decodeCertOptions(r.string(), 'critical options');
  const extensions = decodeCertOptions(r.string(), 'extensions');
  r.string(); // reserved: ignored in this version of the protocol
  const signatureKey = parseCaKeyBlob(r.string());
  const signedData = blob.subarray(0, r.position);
  const signature = r.string();
  r.end();
  const sig = new SshReader(signature, 'certificate signature');
  const signatureAlgorithm = sig.text();
  sig.string();
  sig.end();
  return {
    keyType, nonce, subjectKey: sshPublicKey(base, subjectBlob, '', loadKey), serial, type, keyId, principals,
    validAfter: toDate(validAfterSeconds), validBefore: toDate(validBeforeSeconds), validAfterSeconds, validBeforeSeconds,
    criticalOptions, extensions, signatureKey, signatureAlgorithm, signature, signedData, blob, comment,
  };
}

function readPrincipals(field: Buffer): string[] {
  const r = new SshReader(field, 'principals');
  const out: string[] = [];
  while (r.remaining > 0) {
    if (out.length === MAX_PRINCIPALS) throw invalidArgument(`a certificate may name at most ${MAX_PRINCIPALS} principals`);
    out.push(r.text());
  }
  return out;
}

const MAX_DATE_MS = 8.64e15;

function toDate(seconds: bigint): Date {
  return seconds * 1000n >= BigInt(MAX_DATE_MS) ? new Date(MAX_DATE_MS) : new Date(Number(seconds) * 1000);
}
