import { X509Certificate } from 'node:crypto';
import { keyMatchesCert } from './cert-inspect';
import { type SigningCa, issueCa } from './issue-cert';
import { CERT_MODE, KEY_MODE, pemPaths, readIfExists, writeFileAtomic } from './pki-files';
import { type KeyPair, generateP256, importP256, x509 } from './x509';

/** The internal CA as loaded from (or just written to) a PKI directory. */
export interface LoadedCa extends SigningCa {
  certPem: string;
  certPath: string;
  /** The same certificate parsed by Node, for `checkIssued`/`verify` of leaves. */
  node: X509Certificate;
}

/**
 * Loads `ca.crt`/`ca.key` from `dir`, creating them only when both are missing, so a
 * second run never changes a CA that services and clients already trust. A key without
 * its certificate (a crash between the two writes, or a deleted `ca.crt`) gets a new
 * certificate for the same key, which keeps the SPKI pin. A certificate without its key,
 * a key that does not match, or an expired CA is an error: replacing the CA silently
 * would break every pin and every trust store that holds it.
 */
export async function loadOrCreateCa(dir: string, now: Date): Promise<LoadedCa> {
  const { certPath, keyPath } = pemPaths(dir, 'ca');
  const certPem = await readIfExists(certPath);
  const keyPem = await readIfExists(keyPath);
  if (keyPem === undefined) {
    if (certPem !== undefined) {
      throw new Error(`internal PKI: CA key ${keyPath} is missing but ${certPath} exists; restore the key, or remove both files to create a new CA (every pin changes)`);
    }
    const fresh = await generateP256();
    await writeFileAtomic(keyPath, fresh.keyPem, KEY_MODE);
    return writeCaCert(certPath, fresh.keys, now);
  }
  const keys = await importP256(keyPem).catch((err: unknown) => {
    throw new Error(`internal PKI: cannot use CA key ${keyPath}: ${(err as Error).message}`, { cause: err });
  });
  if (certPem === undefined) return writeCaCert(certPath, keys, now);
  const node = parseCert(certPem, certPath);
  if (!keyMatchesCert(keyPem, node)) throw new Error(`internal PKI: CA key ${keyPath} does not match ${certPath}`);
  const cert = new x509.X509Certificate(certPem);
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new Error(`internal PKI: CA ${certPath} expired at ${cert.notAfter.toISOString()}; remove it to re-issue it for the same key`);
  }
  return { cert, keys, certPem, certPath, node };
}

async function writeCaCert(certPath: string, keys: KeyPair, now: Date): Promise<LoadedCa> {
  const issued = await issueCa({ now, keys });
  await writeFileAtomic(certPath, issued.certPem, CERT_MODE);
  return { ...issued, certPath, node: new X509Certificate(issued.certPem) };
}

function parseCert(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(`internal PKI: ${path} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
}
