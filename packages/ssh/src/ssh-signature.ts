import { KeyObject, sign, verify } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
import { curveOfType, type EcCurve, writeKeyBlob } from './key-body';
import type { SshPublicKey } from './public-key';
import { SshReader, SshWriter } from './wire';

/**
 * SSH signatures (`string algorithm, string signature`) made and checked with Node's
 * crypto. ECDSA goes through IEEE P1363 (`r || s`, fixed width) because SSH wants each
 * of r and s as its own mpint (RFC 5656 §3.1.2); Ed25519 is the raw 64 bytes (RFC 8709
 * §6); RSA uses rsa-sha2-512 (RFC 8332), never SHA-1 `ssh-rsa`, which OpenSSH refuses.
 */

/** A private key ready to sign: its SSH public blob is encoded once, not per signature. */
export interface SshSigner {
  /** The public key blob, the certificate's `signature key` field. */
  publicBlob: Buffer;
  /** The signature algorithm name, e.g. `ecdsa-sha2-nistp256` or `rsa-sha2-512`. */
  algorithm: string;
  /** The SSH signature blob over `data`. */
  sign(data: Buffer): Buffer;
}

const signers = new WeakMap<KeyObject, SshSigner>();

/**
 * The signer of a private key (Ed25519, ECDSA P-256/384/521 or RSA ≥ 2048), cached per
 * KeyObject so that a CA signing thousands of certificates encodes its key once.
 */
export function sshSigner(key: KeyObject): SshSigner {
  if (!(key instanceof KeyObject) || key.type !== 'private') throw invalidArgument('a CA signer needs a private key');
  const cached = signers.get(key);
  if (cached) return cached;
  const w = new SshWriter();
  const type = writeKeyBlob(w, key);
  const publicBlob = w.toBuffer();
  const curve = curveOfType(type);
  let signer: SshSigner;
  if (curve) {
    signer = { publicBlob, algorithm: type, sign: (data) => ecdsaSignature(curve, sign(curve.hash, data, { key, dsaEncoding: 'ieee-p1363' })) };
  } else if (type === 'ssh-ed25519') {
    signer = { publicBlob, algorithm: type, sign: (data) => signatureBlob(type, sign(null, data, key)) };
  } else {
    signer = { publicBlob, algorithm: 'rsa-sha2-512', sign: (data) => signatureBlob('rsa-sha2-512', sign('sha512', data, key)) };
  }
  signers.set(key, signer);
  return signer;
}

/**
 * True when `signature` (an SSH signature blob) is a valid signature of `data` by
 * `key`, in an algorithm that fits the key. Malformed signatures are simply false.
 */
export function verifySshSignature(key: SshPublicKey, data: Buffer, signature: Buffer): boolean {
  try {
    const r = new SshReader(signature, 'signature');
    const algorithm = r.text();
    const sig = r.string();
    r.end();
    const curve = curveOfType(key.type);
    if (curve) {
      if (algorithm !== key.type) return false;
      return verify(curve.hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, ecdsaP1363(curve, sig));
    }
    if (key.type === 'ssh-ed25519') return algorithm === key.type && sig.length === 64 && verify(null, data, key.key, sig);
    const hash = algorithm === 'rsa-sha2-512' ? 'sha512' : algorithm === 'rsa-sha2-256' ? 'sha256' : undefined;
    const modulusBytes = Math.ceil((key.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
    if (!hash || sig.length > modulusBytes) return false;
    return verify(hash, data, key.key, Buffer.concat([Buffer.alloc(modulusBytes - sig.length), sig]));
  } catch {
    return false;
  }
}

function signatureBlob(algorithm: string, sig: Buffer): Buffer {
  return new SshWriter().string(algorithm).string(sig).toBuffer();
}

/** `r || s` (P1363) to the SSH form: string(mpint r, mpint s) inside the signature blob. */
function ecdsaSignature(curve: EcCurve, p1363: Buffer): Buffer {
  const inner = new SshWriter()
    .unsignedMpint(p1363.subarray(0, curve.size))
    .unsignedMpint(p1363.subarray(curve.size))
    .toBuffer();
  return signatureBlob(curve.type, inner);
}

/** The SSH ECDSA signature body back to P1363; r or s wider than the curve is malformed. */
function ecdsaP1363(curve: EcCurve, sig: Buffer): Buffer {
  const r = new SshReader(sig, 'ECDSA signature');
  const parts = [r.unsignedMpint(), r.unsignedMpint()];
  r.end();
  const out = Buffer.alloc(2 * curve.size);
  for (const [i, v] of parts.entries()) {
    if (v.length === 0 || v.length > curve.size) throw invalidArgument('ECDSA signature value out of range');
    v.copy(out, (i + 1) * curve.size - v.length);
  }
  return out;
}
