import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { type KeyPair, P256, generateP256, x509 } from './x509';

/** The subject CN of the internal CA; also how an operator recognises it in a trust store. */
export const CA_COMMON_NAME = 'Mezite Internal CA';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Certificates start a minute in the past so a peer whose clock lags slightly still accepts them. */
const BACKDATE = MINUTE;
const CA_LIFETIME = 3650 * DAY;
const LEAF_LIFETIME = 365 * DAY;

/** A freshly issued certificate and its private key, both PEM. */
export interface IssuedPem {
  certPem: string;
  keyPem: string;
}

/** A CA able to sign: its certificate and its key pair. */
export interface SigningCa {
  cert: x509.X509Certificate;
  keys: KeyPair;
}

/**
 * A random 16-byte serial with the top bit clear, so the DER INTEGER is positive and
 * keeps its full length (RFC 5280 §4.1.2.2 asks for at most 20 octets, positive).
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) || 0x01;
  return bytes.toString('hex');
}

/**
 * Self-signs the internal CA: CN `Mezite Internal CA`, CA:true with pathlen 0 (it signs
 * leaves only), keyCertSign + cRLSign, ten years. `keys` may be an existing CA key
 * whose certificate was lost: the new certificate then has the same SPKI pin.
 */
export async function issueCa(opts: { now: Date; keys: KeyPair }): Promise<SigningCa & { certPem: string }> {
  const { keys } = opts;
  const notBefore = new Date(opts.now.getTime() - BACKDATE);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [CA_COMMON_NAME] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_LIFETIME),
    keys,
    signingAlgorithm: P256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem') + '\n' };
}

/**
 * Issues a leaf for service `name` under `ca` with a fresh key: CN = name; SAN DNS
 * name, localhost and every non-IP host, SAN IP 127.0.0.1, ::1 and every IP host;
 * serverAuth + clientAuth, so one certificate serves both ends of mTLS; one year, but
 * never past the CA's own expiry.
 */
export async function issueLeaf(opts: { ca: SigningCa; name: string; hosts: readonly string[]; now: Date }): Promise<IssuedPem> {
  const { keys, keyPem } = await generateP256();
  const notBefore = new Date(opts.now.getTime() - BACKDATE);
  const notAfter = new Date(Math.min(notBefore.getTime() + LEAF_LIFETIME, opts.ca.cert.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [opts.name] }],
    issuer: opts.ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: opts.ca.keys.privateKey,
    signingAlgorithm: P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(leafSans(opts.name, opts.hosts).map(({ type, value }) => ({ type, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(opts.ca.keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

/** One subject alternative name: a DNS name or an IP address. */
export interface San {
  type: 'dns' | 'ip';
  value: string;
}

/** The SANs a leaf for `name` must carry given the requested `hosts`, without duplicates. */
export function leafSans(name: string, hosts: readonly string[]): San[] {
  const seen = new Set<string>();
  const out: San[] = [];
  for (const h of [name, 'localhost', ...hosts, '127.0.0.1', '::1']) {
    const san: San = isIP(h) ? { type: 'ip', value: h } : { type: 'dns', value: h.toLowerCase() };
    const key = sanKey(san);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(san);
  }
  return out;
}

/** A comparable form of a SAN: DNS lower-cased, IPv6 in its canonical compressed form. */
export function sanKey(san: San): string {
  if (san.type === 'dns') return `dns:${san.value.toLowerCase()}`;
  return `ip:${isIP(san.value) === 6 ? new URL(`http://[${san.value}]/`).hostname.slice(1, -1) : san.value}`;
}
