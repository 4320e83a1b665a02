// @peculiar/x509 resolves its services through tsyringe, which refuses to load unless a
// Reflect metadata polyfill is installed first; this import must stay above the library's.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto);

/**
 * The configured @peculiar/x509 namespace. Import it from here, never from the package,
 * so the polyfill and Node's WebCrypto provider are always in place before first use.
 */
export { x509 };

/** ECDSA over P-256 with SHA-256: the only algorithm of the internal PKI, for keys and signatures alike. */
export const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A WebCrypto key pair (Node's types; the repo compiles without the DOM lib). */
export type KeyPair = webcrypto.CryptoKeyPair;

/** A WebCrypto key pair together with the private key as PKCS#8 PEM, as written to disk. */
export interface PemKeyPair {
  keys: KeyPair;
  keyPem: string;
}

/** Generates a fresh P-256 key pair; the private key is extractable only so it can be written out once. */
export async function generateP256(): Promise<PemKeyPair> {
  const keys = await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keys, keyPem };
}

/**
 * Turns a PKCS#8 PEM private key back into a WebCrypto key pair (the public half derived
 * from it), so an existing CA key can sign again. Throws if the key is not P-256.
 */
export async function importP256(keyPem: string): Promise<KeyPair> {
  const priv = createPrivateKey(keyPem);
  if (priv.asymmetricKeyType !== 'ec' || priv.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('internal PKI: expected an ECDSA P-256 private key');
  }
  const pkcs8 = priv.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, P256, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, P256, true, ['verify']);
  return { privateKey, publicKey };
}
