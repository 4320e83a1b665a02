import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { unauthenticated, unavailable } from '@mezite/identity';
import { spkiPin } from '@mezite/platform/client';
import { parseHostPort } from './address';

/** How the auth server's CA came to be trusted (logged once at start). */
export type TrustSource = 'data-dir' | 'ca-pin' | 'first-use';

/** The CA the gRPC channel to the auth server verifies against. */
export interface Trust {
  caCertPem: string;
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo, the form `--ca-pin` takes. */
  pin: string;
  source: TrustSource;
}

/** Options of {@link establishTrust}. */
export interface TrustOptions {
  /** `host:port` of the auth server. */
  address: string;
  /** `--ca-pin`, lower-case. */
  caPin?: string | undefined;
  /** The CA saved in the data dir by an earlier run, and where it came from. */
  pinned?: { caCertPem: string; from: string } | undefined;
  /** Prints the trust-on-first-use warning (stderr). */
  warn: (line: string) => void;
  /** Reads the server's certificate chain, leaf first; injectable for tests. */
  fetchChain?: (address: string) => Promise<string[]>;
}

/**
 * Decides which CA to trust for the auth server, Teleport's `--ca-pin` way: the CA an
 * earlier run pinned in the data dir if there is one; otherwise the self-signed root of
 * the chain the server presents, checked against `--ca-pin` when given, and otherwise
 * trusted on first use with a warning. The caller saves the CA with the identity, so
 * later runs never ask the network again. A mismatch is Unauthenticated.
 */
export async function establishTrust(o: TrustOptions): Promise<Trust> {
  if (o.pinned) {
    const pin = spkiPin(o.pinned.caCertPem);
    if (o.caPin && o.caPin !== pin) {
      throw unauthenticated(`the CA pinned in ${o.pinned.from} (${pin}) does not match --ca-pin; remove that file to join again with a new --join-token`);
    }
    return { caCertPem: o.pinned.caCertPem, pin, source: 'data-dir' };
  }
  const chain = await (o.fetchChain ?? fetchServerChain)(o.address);
  const caCertPem = rootOf(chain, o.address);
  const pin = spkiPin(caCertPem);
  if (o.caPin) {
    if (o.caPin !== pin) throw unauthenticated(`the auth server's CA does not match --ca-pin (got ${pin})`);
    return { caCertPem, pin, source: 'ca-pin' };
  }
  o.warn(`mezd: warning: trusting the auth server's CA ${pin} on first use; pass --ca-pin to verify it\n`);
  return { caCertPem, pin, source: 'first-use' };
}

/**
 * The self-signed CA at the end of a chain (leaf first), after checking each
 * certificate is signed by the next. The TLS channel then verifies the server against
 * that CA, so a chain that merely ends in some self-signed certificate gains nothing.
 */
export function rootOf(chainPems: string[], address: string): string {
  const chain = chainPems.map((pem) => new X509Certificate(pem));
  const root = chain[chain.length - 1];
  if (!root || chain.length < 2 || !root.checkIssued(root) || !root.verify(root.publicKey)) {
    throw unauthenticated(`the auth server at ${address} did not present its CA certificate in its TLS chain; is it a Mezite auth server?`);
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const issuer = chain[i + 1] as X509Certificate;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) throw unauthenticated(`the TLS chain of the auth server at ${address} is broken`);
  }
  return root.toString();
}

/**
 * Connects with TLS (ALPN h2, like gRPC) without verifying, only to read the chain the
 * server presents, leaf first, as PEM. Nothing is sent over the connection.
 */
export function fetchServerChain(address: string, timeoutMs = 10_000): Promise<string[]> {
  const { host, port } = parseHostPort(address);
  return new Promise<string[]>((resolve, reject) => {
    const socket = connect({ host, port, ALPNProtocols: ['h2'], rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const fail = (why: string, cause?: unknown) => {
      socket.destroy();
      reject(unavailable(`cannot read the TLS certificate of the auth server at ${address}: ${why}`, { cause }));
    };
    socket.setTimeout(timeoutMs, () => fail('connection timed out'));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message), err));
    socket.once('secureConnect', () => {
      const pems: string[] = [];
      const seen = new Set<string>();
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        pems.push(new X509Certificate(cert.raw).toString());
        cert = cert.issuerCertificate;
      }
      socket.destroy();
      if (pems.length === 0) reject(unauthenticated(`the auth server at ${address} presented no TLS certificate`));
      else resolve(pems);
    });
  });
}
