import { createPublicKey, type KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { type SshReader, SshWriter } from './wire';

/**
 * The public key algorithms we accept, as OpenSSH names them. DSA is gone from OpenSSH
 * and FIDO (`sk-…`) keys are not supported yet, so neither can be certified.
 */
export type SshKeyType =
  | 'ssh-ed25519'
  | 'ecdsa-sha2-nistp256'
  | 'ecdsa-sha2-nistp384'
  | 'ecdsa-sha2-nistp521'
  | 'ssh-rsa';

/** An ECDSA curve: its SSH identifier, JWK and OpenSSL names, field size and hash. */
export interface EcCurve {
  type: SshKeyType;
  id: string;
  crv: string;
  nodeName: string;
  size: number;
  hash: 'sha256' | 'sha384' | 'sha512';
}

/** The three NIST curves of RFC 5656 §10.1, each with the hash §6.2.1 pairs it with. */
export const EC_CURVES: readonly EcCurve[] = [
  { type: 'ecdsa-sha2-nistp256', id: 'nistp256', crv: 'P-256', nodeName: 'prime256v1', size: 32, hash: 'sha256' },
  { type: 'ecdsa-sha2-nistp384', id: 'nistp384', crv: 'P-384', nodeName: 'secp384r1', size: 48, hash: 'sha384' },
  { type: 'ecdsa-sha2-nistp521', id: 'nistp521', crv: 'P-521', nodeName: 'secp521r1', size: 66, hash: 'sha512' },
];

/** RSA keys under 2048 bits are refused (NIST SP 800-131A); over 16384 OpenSSH refuses. */
export const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 16384;

/** True when `s` is an algorithm we accept. */
export function isSshKeyType(s: string): s is SshKeyType {
  return s === 'ssh-ed25519' || s === 'ssh-rsa' || EC_CURVES.some((c) => c.type === s);
}

/** The curve of an ECDSA key type, or undefined for other types. */
export function curveOfType(type: string): EcCurve | undefined {
  return EC_CURVES.find((c) => c.type === type);
}

/**
 * Reads the fields that follow the algorithm name in a key blob (RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4) and makes a public KeyObject of them. Certificates carry
 * the same fields after their nonce, so the certificate parser shares this. Anything
 * Node's crypto refuses (an EC point off its curve) is `InvalidArgument`.
 */
export function readKeyBody(r: SshReader, type: SshKeyType): KeyObject {
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw invalidArgument('Ed25519 public key must be 32 bytes');
    return toKey({ kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }, type);
  }
  if (type === 'ssh-rsa') {
    const e = r.unsignedMpint();
    const n = r.unsignedMpint();
    const bits = bitLength(n);
    if (bits < RSA_MIN_BITS) throw invalidArgument(`RSA keys must have at least ${RSA_MIN_BITS} bits (got ${bits})`);
    if (bits > RSA_MAX_BITS) throw invalidArgument(`RSA keys must have at most ${RSA_MAX_BITS} bits`);
    if (e.length === 0 || e.length > 8 || ((e[e.length - 1] as number) & 1) === 0 || bitLength(e) < 2) {
      throw invalidArgument('RSA public exponent is invalid');
    }
    return toKey({ kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, type);
  }
  const curve = curveOfType(type) as EcCurve;
  if (r.text() !== curve.id) throw invalidArgument(`${type} key names a different curve`);
  const q = r.string();
  if (q.length !== 1 + 2 * curve.size || q[0] !== 0x04) throw invalidArgument(`${type} key must be an uncompressed point`);
  const x = q.subarray(1, 1 + curve.size).toString('base64url');
  const y = q.subarray(1 + curve.size).toString('base64url');
  return toKey({ kty: 'EC', crv: curve.crv, x, y }, type);
}

/**
 * Writes the algorithm name and fields of a key blob for a Node KeyObject (a private
 * key is written as its public half). Returns the algorithm name.
 */
export function writeKeyBlob(w: SshWriter, key: KeyObject): SshKeyType {
  const kind = key.asymmetricKeyType;
  if (key.type === 'secret' || (kind !== 'ed25519' && kind !== 'ec' && kind !== 'rsa')) {
    throw invalidArgument(`unsupported key for SSH: ${kind ?? 'secret key'}`);
  }
  const jwk = key.export({ format: 'jwk' });
  if (kind === 'ed25519' && jwk.x) {
    w.string('ssh-ed25519').string(Buffer.from(jwk.x, 'base64url'));
    return 'ssh-ed25519';
  }
  if (kind === 'rsa' && jwk.n && jwk.e) {
    const n = Buffer.from(jwk.n, 'base64url');
    if (bitLength(n) < RSA_MIN_BITS) throw invalidArgument(`RSA keys must have at least ${RSA_MIN_BITS} bits`);
    w.string('ssh-rsa').unsignedMpint(Buffer.from(jwk.e, 'base64url')).unsignedMpint(n);
    return 'ssh-rsa';
  }
  const curve = EC_CURVES.find((c) => c.crv === jwk.crv);
  if (kind === 'ec' && curve && jwk.x && jwk.y) {
    const q = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    w.string(curve.type).string(curve.id).string(q);
    return curve.type;
  }
  throw invalidArgument(`unsupported key for SSH: ${kind} ${jwk.crv ?? ''}`.trim());
}

/** The number of significant bits of a big-endian magnitude. */
export function bitLength(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i) * 8 - Math.clz32(b[i] as number) + 24;
}

function toKey(jwk: Record<string, string>, type: SshKeyType): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    throw invalidArgument(`${type} public key is invalid`, { cause: err });
  }
}
