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

/** Makes the KeyObject of a parsed key on first call and keeps it. */
export type KeyLoader = () => KeyObject;

/**
 * Reads the fields that follow the algorithm name in a key blob (RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4) and returns what makes a public KeyObject of them.
 * Certificates carry the same fields after their nonce, so the certificate parser
 * shares this. Every check happens here, so anything Node's crypto would refuse is
 * `InvalidArgument` now: an EC point must lie on its curve (checked in BigInt
 * arithmetic, ~4 µs, as OpenSSL's oct2point does in ~25 µs), an RSA key is imported
 * at once. An Ed25519 or ECDSA key is imported only when something verifies with it:
 * importing a P-256 key through OpenSSL 3's decoders costs ~90 µs, more than three
 * signatures, and certifying a key or hashing its fingerprint needs only its blob.
 */
export function readKeyBody(r: SshReader, type: SshKeyType): KeyLoader {
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw invalidArgument('Ed25519 public key must be 32 bytes');
    return lazyKey(() => ({ kty: 'OKP', crv: 'Ed25519', x: pk.toString('base64url') }), type);
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
    const key = toKey({ kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, type);
    return () => key;
  }
  const curve = curveOfType(type) as EcCurve;
  if (r.text() !== curve.id) throw invalidArgument(`${type} key names a different curve`);
  const q = r.string();
  if (q.length !== 1 + 2 * curve.size || q[0] !== 0x04) throw invalidArgument(`${type} key must be an uncompressed point`);
  if (!isOnCurve(q, curve)) throw invalidArgument(`${type} public key is invalid`);
  return lazyKey(() => ({ kty: 'EC', crv: curve.crv, x: q.subarray(1, 1 + curve.size).toString('base64url'), y: q.subarray(1 + curve.size).toString('base64url') }), type);
}

/** Field prime and `b` of y² = x³ − 3x + b for the NIST curves (FIPS 186-4 D.1.2; a = −3 for all three). */
const CURVE_EQUATIONS: Readonly<Record<string, { p: bigint; b: bigint }>> = {
  nistp256: { p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn },
  nistp384: {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  nistp521: {
    p: 2n ** 521n - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

/**
 * Whether an uncompressed point `04 ‖ x ‖ y` has coordinates below the field prime and
 * lies on the curve. The three curves have cofactor 1, so such a point is in the group
 * a signature is verified in; the point at infinity has no uncompressed encoding.
 */
export function isOnCurve(q: Buffer, curve: EcCurve): boolean {
  const eq = CURVE_EQUATIONS[curve.id];
  if (!eq || q.length !== 1 + 2 * curve.size || q[0] !== 0x04) return false;
  const x = BigInt(`0x${q.subarray(1, 1 + curve.size).toString('hex')}`);
  const y = BigInt(`0x${q.subarray(1 + curve.size).toString('hex')}`);
  if (x >= eq.p || y >= eq.p) return false;
  return (y * y - (x * x * x - 3n * x + eq.b)) % eq.p === 0n;
}

/** The JWK is only built when the key is imported: most parsed keys never are. */
function lazyKey(jwk: () => Record<string, string>, type: SshKeyType): KeyLoader {
  let key: KeyObject | undefined;
  return () => (key ??= toKey(jwk(), type));
}

/** SPKI DER of the fixed-size keys, up to the key bytes, and how many key bytes follow. */
const SPKI_LAYOUTS: ReadonlyArray<{ type: SshKeyType; prefix: Buffer; keyBytes: number; curve?: EcCurve }> = [
  { type: 'ssh-ed25519', prefix: Buffer.from('302a300506032b6570032100', 'hex'), keyBytes: 32 },
  ...EC_CURVES.map((curve) => ({
    type: curve.type,
    prefix: Buffer.from({ nistp256: '3059301306072a8648ce3d020106082a8648ce3d030107034200', nistp384: '3076301006072a8648ce3d020106052b81040022036200', nistp521: '30819b301006072a8648ce3d020106052b8104002303818600' }[curve.id] as string, 'hex'),
    keyBytes: 1 + 2 * curve.size,
    curve,
  })),
];
const RSA_ENCRYPTION_OID = Buffer.from('2a864886f70d010101', 'hex');

/**
 * Writes the algorithm name and fields of a key blob for a Node KeyObject (a private
 * key is written as its public half). Returns the algorithm name.
 *
 * The key is read from its SPKI DER, never from a JWK export: on Node 20, exporting a
 * JWK of a key made by generateKeyPairSync can deadlock the process for good, when a
 * garbage collection during the export collects the key-generation job (it locks the
 * mutex the export holds). mezd does exactly that for every renewal key; under load
 * it hung daemons in the benchmark (docs/DECISIONS.md).
 */
export function writeKeyBlob(w: SshWriter, key: KeyObject): SshKeyType {
  const kind = key.asymmetricKeyType;
  if (key.type === 'secret' || (kind !== 'ed25519' && kind !== 'ec' && kind !== 'rsa')) {
    throw invalidArgument(`unsupported key for SSH: ${kind ?? 'secret key'}`);
  }
  const der = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  if (kind === 'rsa') {
    const { n, e } = readRsaSpki(der);
    if (bitLength(n) < RSA_MIN_BITS) throw invalidArgument(`RSA keys must have at least ${RSA_MIN_BITS} bits`);
    w.string('ssh-rsa').unsignedMpint(e).unsignedMpint(n);
    return 'ssh-rsa';
  }
  for (const l of SPKI_LAYOUTS) {
    if (der.length !== l.prefix.length + l.keyBytes || !der.subarray(0, l.prefix.length).equals(l.prefix)) continue;
    const body = der.subarray(l.prefix.length);
    if (l.curve) w.string(l.type).string(l.curve.id).string(body);
    else w.string(l.type).string(body);
    return l.type;
  }
  throw invalidArgument(`unsupported key for SSH: ${kind}${kind === 'ec' ? ` ${key.asymmetricKeyDetails?.namedCurve ?? ''}` : ''}`.trim());
}

/** `n` and `e` of an RSA SubjectPublicKeyInfo (RFC 3279 §2.3.1), as unsigned magnitudes. */
function readRsaSpki(der: Buffer): { n: Buffer; e: Buffer } {
  const bad = (): never => {
    throw invalidArgument('unsupported key for SSH: an RSA key that is not rsaEncryption');
  };
  const [algorithm, bits] = derChildren(der, 0x30, bad);
  if (!algorithm || !bits) return bad();
  const [oid] = derChildren(algorithm, 0x30, bad);
  if (!oid || oid[0] !== 0x06 || !derContent(oid).equals(RSA_ENCRYPTION_OID)) return bad();
  if (bits[0] !== 0x03 || derContent(bits)[0] !== 0) return bad();
  const [n, e] = derChildren(derContent(bits).subarray(1), 0x30, bad);
  if (!n || !e || n[0] !== 0x02 || e[0] !== 0x02) return bad();
  return { n: derContent(n), e: derContent(e) };
}

/** The elements (whole TLVs) inside one DER element with tag `tag`. */
function derChildren(tlv: Buffer, tag: number, bad: () => never): Buffer[] {
  if (tlv[0] !== tag) bad();
  const out: Buffer[] = [];
  const content = derContent(tlv);
  for (let pos = 0; pos < content.length; ) {
    const { headerLength, length } = derHeader(content.subarray(pos));
    out.push(content.subarray(pos, pos + headerLength + length));
    pos += headerLength + length;
  }
  return out;
}

function derContent(tlv: Buffer): Buffer {
  const { headerLength, length } = derHeader(tlv);
  return tlv.subarray(headerLength, headerLength + length);
}

function derHeader(tlv: Buffer): { headerLength: number; length: number } {
  const first = tlv[1] ?? 0;
  if (first < 0x80) return { headerLength: 2, length: first };
  const n = first & 0x7f;
  if (n < 1 || n > 4 || tlv.length < 2 + n) throw invalidArgument('malformed DER');
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + (tlv[2 + i] as number);
  if (tlv.length < 2 + n + length) throw invalidArgument('malformed DER');
  return { headerLength: 2 + n, length };
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
