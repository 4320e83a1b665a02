import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { type San, sanKey } from './issue-cert';
import { x509 } from './x509';

/** A leaf is renewed once it has less than this left, well before any peer rejects it. */
export const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export { spkiPin } from './spki-pin';

/**
 * The CN of a certificate's subject (the first, if several), or undefined when it has
 * none. Accepts PEM text or DER bytes, e.g. `tlsSocket.getPeerCertificate().raw`, which
 * is how a server names the internal service that called it. Throws on input that is not
 * a certificate.
 */
export function commonName(cert: string | Buffer): string | undefined {
  const parsed = typeof cert === 'string' ? new x509.X509Certificate(cert) : new x509.X509Certificate(new Uint8Array(cert));
  return parsed.subjectName.getField('CN')[0];
}

/** Whether `keyPem` is the private half of the certificate's public key. */
export function keyMatchesCert(keyPem: string, cert: X509Certificate): boolean {
  const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  return fromKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
}

/** Whether `cert` names `ca` as its issuer and carries a valid signature by `ca`'s key. */
export function signedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  return cert.checkIssued(ca) && cert.verify(ca.publicKey);
}

/**
 * Why an existing leaf must be reissued, or undefined when it can stay: it must parse,
 * match its key, be signed by the current CA, be valid at `now` with more than 30 days
 * left, and carry every SAN in `sans` (extra SANs are fine).
 */
export function leafProblem(opts: { certPem: string; keyPem: string; ca: X509Certificate; sans: readonly San[]; now: Date }): string | undefined {
  let cert: X509Certificate;
  let info: x509.X509Certificate;
  try {
    cert = new X509Certificate(opts.certPem);
    info = new x509.X509Certificate(opts.certPem);
    if (!keyMatchesCert(opts.keyPem, cert)) return 'key does not match certificate';
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
  if (!signedBy(cert, opts.ca)) return 'not signed by the current CA';
  const now = opts.now.getTime();
  if (info.notBefore.getTime() > now) return 'not yet valid';
  if (info.notAfter.getTime() - now < RENEW_BEFORE_MS) return 'expires within 30 days';
  const ext = info.getExtension(x509.SubjectAlternativeNameExtension);
  const have = new Set((ext?.names.toJSON() ?? []).flatMap((n) => (n.type === 'dns' || n.type === 'ip' ? [sanKey({ type: n.type, value: n.value })] : [])));
  const missing = opts.sans.find((s) => !have.has(sanKey(s)));
  return missing ? `SAN ${missing.value} missing` : undefined;
}
