import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { invalidArgument } from '@mezite/identity';
/** CA key algorithms: ECDSA P-256 by default, Ed25519 supported. */
export type CaAlgorithm = 'ecdsa-p256' | 'ed25519';
import { formatPublicKey } from './public-key';
import { sshSigner } from './ssh-signature';

/** A new CA key: the private half to seal at rest, the public line to publish. */
export interface CaKeyPair {
  privateKey: KeyObject;
  /** `<type> <base64>[ <comment>]`, the form `TrustedUserCAKeys` and `@cert-authority` take. */
  publicKeyLine: string;
}

/**
 * Generates a CA key pair. ECDSA P-256 is the default because it signs fastest with
 * OpenSSL; Ed25519 is offered for sites that prefer it. Both are what every OpenSSH
 * since 6.5 accepts as a CA.
 */
export function generateCaKey(alg: CaAlgorithm, comment = ''): CaKeyPair {
  let privateKey: KeyObject;
  if (alg === 'ecdsa-p256') privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  else if (alg === 'ed25519') privateKey = generateKeyPairSync('ed25519').privateKey;
  else throw invalidArgument(`unsupported CA algorithm ${JSON.stringify(alg)}`);
  return { privateKey, publicKeyLine: formatPublicKey(privateKey, comment) };
}

/** The private key as unencrypted PKCS#8 DER; the caller seals it before storing it. */
export function exportCaPrivateKey(key: KeyObject): Buffer {
  if (key.type !== 'private') throw invalidArgument('only a private key can be exported as a CA key');
  return key.export({ type: 'pkcs8', format: 'der' });
}

/**
 * Reads a CA private key from PKCS#8 DER and checks it can sign certificates (Ed25519,
 * ECDSA P-256/384/521 or RSA ≥ 2048), so a bad key fails at start-up, not at first use.
 */
export function importCaPrivateKey(der: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw invalidArgument('CA private key is not valid PKCS#8 DER', { cause: err });
  }
  sshSigner(key);
  return key;
}
