import type { KeyObject } from 'node:crypto';
import { sshSigner, verifySshSignature } from './ssh-signature';
import type { SshPublicKey } from './public-key';

const CONTEXT = Buffer.from('mezite-cert-auth-v1\0');
/** The `authorization` scheme of a call authenticated by an SSH certificate (`msh ls`, `msh ssh`). */
export const CERT_AUTH_SCHEME = 'SshCert';

/** What the holder of a certificate signs to authenticate one call: a context prefix, the time, the certificate. */
export function certAuthSignedData(certBlob: Buffer, unixSeconds: number): Buffer {
  return Buffer.concat([CONTEXT, Buffer.from(`${unixSeconds}\0`), certBlob]);
}

/**
 * A short-lived credential proving possession of a certificate's private key:
 * `<base64url certificate blob>.<unix seconds>.<base64url SSH signature>`. The server
 * accepts it for a few minutes around the signing time; it carries no secret that
 * outlives that window.
 */
export function makeCertAuthCredential(certBlob: Buffer, key: KeyObject, now: Date): string {
  const ts = Math.floor(now.getTime() / 1000);
  const sig = sshSigner(key).sign(certAuthSignedData(certBlob, ts));
  return `${certBlob.toString('base64url')}.${ts}.${sig.toString('base64url')}`;
}

/** Splits a credential; null when it is not one. */
export function parseCertAuthCredential(s: string): { certBlob: Buffer; unixSeconds: number; signature: Buffer } | null {
  const m = /^([A-Za-z0-9_-]{16,90000})\.(\d{9,12})\.([A-Za-z0-9_-]{16,2000})$/.exec(s);
  if (!m) return null;
  return { certBlob: Buffer.from(m[1] as string, 'base64url'), unixSeconds: Number(m[2]), signature: Buffer.from(m[3] as string, 'base64url') };
}

/** Checks the credential's signature with the certificate's key. */
export function verifyCertAuth(subjectKey: SshPublicKey, certBlob: Buffer, unixSeconds: number, signature: Buffer): boolean {
  return verifySshSignature(subjectKey, certAuthSignedData(certBlob, unixSeconds), signature);
}
