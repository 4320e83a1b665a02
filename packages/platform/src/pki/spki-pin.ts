import { X509Certificate, createHash } from 'node:crypto';

/**
 * The CA pin a first-time client checks (Teleport's `--ca-pin`): `sha256:` and the hex
 * SHA-256 of the certificate's SubjectPublicKeyInfo DER. It names the key, not the
 * certificate, so re-issuing the CA certificate for the same key keeps the pin.
 * Only `node:crypto`, so clients (`@mezite/platform/client`) get it without
 * `@peculiar/x509`.
 */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
